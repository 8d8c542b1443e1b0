"""The compact training set: PySCF's densities in torch without PySCF, the same crops."""
import numpy as np
import pytest
import torch
from pyscf import gto, scf
from pyscf.dft import numint

from pyscf.deepscf.training import compact, compact_pyscf, data, dataset, records

from conftest import requires


def random_density_matrix(mol, nocc, seed=0):
    c = np.random.default_rng(seed).standard_normal((mol.nao, nocc)) * 0.3
    return 2 * c @ c.T


@pytest.mark.parametrize('basis', ['def2-svp', 'def2-tzvp'])       # TZVP: f functions on O
def test_density_equals_pyscf(basis):
    """ρ from the factor and the stored primitives equals PySCF's eval_rho (spherical basis,
    Cartesian storage) to 1e-9 relative (float64 sums in another order, which torch's threads
    vary); also for an unrestricted (2, nao, nao) matrix."""
    mol = gto.M(atom='O 0 0 0.12; H 0 0.76 -0.47; H 0 -0.76 -0.47; Cl 0 0 2.5', basis=basis,
                spin=1, verbose=0)
    dm = np.stack([random_density_matrix(mol, 10, 1), random_density_matrix(mol, 9, 2)]) / 2
    symbols = [mol.atom_pure_symbol(i) for i in range(mol.natm)]
    basis_table = {s: compact_pyscf.element_basis(mol, symbols.index(s)) for s in set(symbols)}
    factor = compact_pyscf.density_factor(mol, dm)
    assert factor.shape[1] == 19                                     # the rank, 10 + 9
    structure = compact.Structure(symbols, mol.atom_coords(), factor, basis_table)
    points = np.random.default_rng(3).uniform(-3, 5, (500, 3))
    points[:3] = mol.atom_coords()[:3] + 1e-3                         # at the nuclei too
    ref = numint.eval_rho(mol, numint.eval_ao(mol, points), dm[0] + dm[1])
    got = structure.density(torch.tensor(points)).numpy()
    assert np.abs(got - ref).max() < 1e-9 * np.abs(ref).max()


@requires('qm9pack')
def test_crop_sample_equals_the_pyscf_crop():
    """The same numbers give the same rotation and crop; x and y agree with dataset.crop_sample
    to float32 rounding, the free atoms interpolated from the same radial tables
    (atoms.density_on_points), channel 0's cube root included."""
    job = data.structure_jobs(qm9_index=[3])[0]                       # water
    mol = data.job_mole(job, 'def2-svp')
    dm = random_density_matrix(mol, 5)
    structure = compact.Structure(['O', 'H', 'H'], mol.atom_coords(),
                                  compact_pyscf.density_factor(mol, dm),
                                  {s: compact_pyscf.element_basis(mol, i) for i, s in
                                   [(0, 'O'), (1, 'H')]})
    for seed, crop in ((1, 16), (2, 48)):                             # 48: box smaller than crop
        x, y, mask = dataset.crop_sample(mol, dm, np.random.default_rng(seed), crop=crop)
        xt, yt, mt = compact.crop_sample(structure, np.random.default_rng(seed), 0.3, 5.0, crop)
        assert np.array_equal(mt.numpy(), mask)
        assert np.abs(xt.numpy() - x).max() <= 1e-6 * np.abs(x).max()
        assert np.abs(yt.numpy() - y).max() <= 1e-6 * np.abs(y).max()
    assert mask.sum() < mask.size                                     # the padded case ran


def test_crop_batch_equals_one_structure_at_a_time():
    """Structures of different sizes and elements padded into one stack and evaluated together,
    in blocks of a few points or in groups, give each crop's numbers as evaluated alone
    (padding adds exact zeros) to 1e-12; a crop larger than its box is masked and zero outside
    it."""
    geometries = ['O 0 0 0.12; H 0 0.76 -0.47; H 0 -0.76 -0.47',
                  'S 0 0 0; Cl 0 0 3.9; C 2.5 0.3 0.1; H 3.1 1.2 0.2; H 3.0 -0.6 0.3; H 2.6 0.2 -1',
                  'N 0 0 0; H 0 0.9 0.3; H 0.8 -0.4 0.3; H -0.8 -0.4 0.3']
    structures = []
    for k, atom in enumerate(geometries):
        mol = gto.M(atom=atom, basis='def2-svp', verbose=0)          # closed shells
        symbols = [mol.atom_pure_symbol(i) for i in range(mol.natm)]
        basis = {s: compact_pyscf.element_basis(mol, symbols.index(s)) for s in set(symbols)}
        factor = compact_pyscf.density_factor(mol, random_density_matrix(mol, 4 + k, k))
        structures.append(compact.Structure(symbols, mol.atom_coords(), factor, basis))
    stack = compact.StructureStack(structures)
    members = [1, 0, 2, 1]
    rng = np.random.default_rng(7)
    geometries = [compact.crop_geometry(structures[m].coords_np, rng, 0.3, 5.0, 12)
                  for m in members]
    x, y, mask = compact.crop_batch(stack, members, geometries, 12, max_elements=5000)
    assert stack.block_points(members, 5000) < 12 ** 3                # blocks did run
    for group in (1, 3):                      # in order of size, in groups: the same numbers
        for a, b in zip(compact.crop_batch(stack, members, geometries, 12, group), (x, y, mask)):
            assert (a - b).abs().max() <= 1e-12 * b.abs().max()
    rng = np.random.default_rng(7)
    for b, m in enumerate(members):
        xa, ya, ma = compact.crop_sample(structures[m], rng, 0.3, 5.0, 12)
        assert ya.abs().max() > 1e-3                                 # a crop with density
        assert torch.equal(mask[b], ma)
        assert (x[b] - xa).abs().max() <= 1e-12 * xa.abs().max()
        assert (y[b] - ya).abs().max() <= 1e-12 * ya.abs().max() + 1e-30
    big = compact.crop_geometry(structures[0].coords_np, np.random.default_rng(1), 0.3, 5.0, 64)
    x, y, mask = compact.crop_batch(stack, [0], [big], 64)
    assert 0 < mask.sum() < mask.numel()
    assert x[0][:, mask[0, 0] == 0].abs().max() == 0 == y[0][mask[0] == 0].abs().max()


def test_sparse_factor_is_local_and_keeps_the_density_matrix():
    """The pivoted Cholesky factor of D reproduces D (threshold 0: to rounding); on a chain
    (decapentaene, Huckel orbitals: delocalised) most of its entries fall below 1e-3, and
    dropping them changes D by less than 1e-3 of its largest element."""
    mol = gto.M(atom='; '.join([f'C {1.25 * i} {0.7 * (i % 2)} 0' for i in range(10)] +
                               [f'H {1.25 * i} {0.7 * (i % 2) + (1.1 if i % 2 else -1.1)} 0'
                                for i in range(10)]), basis='def2-svp', verbose=0)
    factor = compact_pyscf.density_factor(mol, scf.RHF(mol).get_init_guess(key='huckel'))
    d = factor @ factor.T
    exact = compact_pyscf.sparse_factor(factor, 0)
    assert exact.shape == factor.shape == (len(d), 35)
    assert np.abs(exact @ exact.T - d).max() < 1e-12 * np.abs(d).max()
    sparse = compact_pyscf.sparse_factor(factor, 1e-3)
    assert (sparse == 0).mean() > 0.7 > 0.5 > (exact == 0).mean() > (factor == 0).mean()
    assert np.abs(sparse @ sparse.T - d).max() < 1e-3 * np.abs(d).max()


@requires('qm9pack', 'tqdm')
def test_write_and_read_compact(tmp_path):
    """Every record of a data folder goes in; the stored structure reproduces its density
    matrix's density (exact factors: threshold 0); float16 is half the size and close, and so
    are the sparse factors of the default, stored in fewer bytes."""
    out = str(tmp_path / 'data')
    data.generate(data.structure_jobs(qm9_index=[1, 3]), out, {'grids_level': 1}, workers=0,
                  progress=False)
    summary = compact_pyscf.write_compact(out, str(tmp_path / 'set.npz'), 'float32', progress=False,
                                    threshold=0)
    half = compact_pyscf.write_compact(out, str(tmp_path / 'half.npz'), progress=False, threshold=0)
    sparse = compact_pyscf.write_compact(out, str(tmp_path / 'sparse.npz'), progress=False)
    store, store16 = compact.CompactSet(summary['path']), compact.CompactSet(half['path'])
    store_sparse = compact.CompactSet(sparse['path'])
    assert summary['structures'] == 2 and summary['bytes'] > half['bytes'] > sparse['bytes']
    assert store16.arrays['factor'].nbytes * 2 == store.arrays['factor'].nbytes
    assert store_sparse.settings['factor_threshold'] == compact_pyscf.SPARSE_THRESHOLD
    assert store16.settings['factor_threshold'] == 0
    # an exact compact file is re-factored to a threshold, never the other way
    again = compact_pyscf.write_compact(half['path'], str(tmp_path / 'again.npz'), progress=False)
    assert again['bytes'] < half['bytes']
    assert compact.CompactSet(again['path']).arrays['factor_cols'].tolist() == \
        store_sparse.arrays['factor_cols'].tolist()
    with pytest.raises(ValueError, match='threshold 0.001, above 0'):
        compact_pyscf.write_compact(sparse['path'], str(tmp_path / 'exact.npz'), threshold=0,
                              progress=False)
    assert store.settings['basis'] == 'def2-svp' and store.settings['factor_dtype'] == 'float32'
    assert store16.settings['factor_dtype'] == 'float16'
    assert sorted(store.ids) == ['qm9_1_d0', 'qm9_3_d0']
    assert [store.splits[store.ids.index(i)] for i in store.ids] == \
        [dataset.split_of(i) for i in store.ids]
    points = np.random.default_rng(0).uniform(-2, 2, (300, 3))
    for path, sid in records.list_records(out):
        rec = records.load_record(path, sid)
        mol = records.record_mole(rec)
        ref = numint.eval_rho(mol, numint.eval_ao(mol, points), rec['dm'])
        i = store.ids.index(sid)
        got = store.structure(i).density(torch.tensor(points)).numpy()
        assert np.abs(got - ref).max() < 1e-6 * np.abs(ref).max()
        for lossy in (store16, store_sparse):
            got = lossy.structure(i).density(torch.tensor(points)).numpy()
            assert np.abs(got - ref).max() < 1e-2 * np.abs(ref).max()
    # records for judging weights without the data folder: the same density matrices
    for sid in ('qm9_1_d0', 'qm9_3_d0'):
        rec = records.load_record(*next(r for r in records.list_records(out) if r[1] == sid))
        got, = compact_pyscf.compact_records(store, [store.ids.index(sid)])
        assert got['id'] == sid
        assert got['charge'] == rec['charge'] == 0 and got['spin'] == rec['spin'] == 0
        assert np.abs(got['dm'] - rec['dm']).max() < 1e-5 * np.abs(rec['dm']).max()
        assert np.allclose(got['coords_bohr'], rec['coords_bohr'])
    bad = tmp_path / 'bad.npz'
    np.savez(bad, **{**store.arrays, 'format_version': np.int64(99)})
    with pytest.raises(ValueError, match='compact format 99'):
        compact.CompactSet(str(bad))


@requires('qm9pack', 'tqdm')
def test_merge_folders_and_compact_files(tmp_path):
    """Folders and earlier compact files merge into one set whose structures are those of the
    single-source sets, elements unioned and splits kept; a repeated structure or another level
    of theory is refused."""
    methane, water = str(tmp_path / 'methane'), str(tmp_path / 'water')
    for folder, index in ((methane, 1), (water, 3)):
        data.generate(data.structure_jobs(qm9_index=[index]), folder, {'grids_level': 1},
                      workers=0, progress=False)
    old = compact_pyscf.write_compact(methane, str(tmp_path / 'methane.npz'), 'float32',
                                progress=False)['path']
    alone = compact.CompactSet(compact_pyscf.write_compact(water, str(tmp_path / 'water.npz'),
                                                     'float32', progress=False)['path'])
    merged = compact_pyscf.write_compact([old, water], str(tmp_path / 'both.npz'), 'float32',
                                   progress=False)
    store = compact.CompactSet(merged['path'])
    assert merged['structures'] == 2 and store.ids == ['qm9_1_d0', 'qm9_3_d0']
    assert store.elements == ['C', 'H', 'O']
    assert store.splits == [dataset.split_of(i) for i in store.ids]
    points = torch.tensor(np.random.default_rng(1).uniform(-2, 2, (200, 3)))
    for source, sid in ((compact.CompactSet(old), 'qm9_1_d0'), (alone, 'qm9_3_d0')):
        ref = source.structure(source.ids.index(sid)).density(points)
        got = store.structure(store.ids.index(sid)).density(points)
        assert torch.equal(got, ref)
    # read without writing: a list of files, or a folder of them, is the merged set
    kit = tmp_path / 'kit'
    kit.mkdir()
    for name in ('methane.npz', 'water.npz'):
        (kit / name).write_bytes((tmp_path / name).read_bytes())
    for sources in ([old, alone.path], str(kit)):
        read = compact.CompactSet(sources)
        assert read.ids == store.ids and read.splits == store.splits
        assert len(read.files) == 2 and read.settings['factor_dtype'] == 'float32'
        for i in range(2):
            assert torch.equal(read.structure(i).density(points),
                               store.structure(i).density(points))
    (tmp_path / 'empty').mkdir()
    for missing, message in ((tmp_path / 'empty', 'no compact file .* in this folder'),
                             (tmp_path / 'nothing.npz', 'no compact file or folder')):
        with pytest.raises(ValueError, match=message):
            compact.CompactSet(str(missing))
    with pytest.raises(ValueError, match='more than one source: qm9_1_d0'):
        compact.CompactSet([old, str(kit)])
    with pytest.raises(ValueError, match='more than one source: qm9_1_d0'):
        compact_pyscf.write_compact([old, methane], str(tmp_path / 'twice.npz'), progress=False)
    finer = str(tmp_path / 'finer')
    data.generate(data.structure_jobs(qm9_index=[2]), finer, {'grids_level': 2}, workers=0,
                  progress=False)
    with pytest.raises(ValueError, match='settings .* differ'):
        compact_pyscf.write_compact([old, finer], str(tmp_path / 'mixed.npz'), progress=False)
    with pytest.raises(ValueError, match='split seed 0, not 1'):
        compact_pyscf.write_compact([old, water], str(tmp_path / 's1.npz'), split_seed=1,
                              progress=False)
