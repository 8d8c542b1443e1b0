"""benchmarks/model_nonscf.py: held-out drugs and NonSCF against PySCF's SCF; benchmarks/model.py:
the network's density error on stored structures (qm9)."""
import pytest

from conftest import load_script, requires

model_benchmark = load_script('benchmarks', 'model.py')
model_nonscf = load_script('benchmarks', 'model_nonscf.py')


@requires('rdkit')
def test_held_out_drugs_are_test_split_and_span_the_sizes():
    """nonscf's default molecules: drugs of the test split only (never trained on), atoms in
    range, sorted by size from the smallest to the largest found."""
    from pyscf.deepscf.training import dataset
    chosen = model_nonscf.held_out_drugs(3, 30, 60)
    assert len(chosen) == 3
    sizes = [len(symbols) for _, symbols, _ in chosen]
    assert sizes == sorted(sizes) and 30 <= sizes[0] and sizes[-1] <= 60
    assert all(dataset.split_of(name + '_d0') == 'test' for name, _, _ in chosen)
    with pytest.raises(SystemExit, match='test-split drugs'):
        model_nonscf.held_out_drugs(3, 200, 300)


@requires('matplotlib')
def test_nonscf_rows_against_pyscf(tmp_path):
    """nonscf on a given file: one row whose errors are NonSCF's energies minus PySCF's PBE SCF
    energy (water: the bundled weights' e_ks within 10 mHa above it, as on the dev set)."""
    xyz = tmp_path / 'water.xyz'
    xyz.write_text('3\nwater\nO 0 0 0.1173\nH 0 0.7572 -0.4692\nH 0 -0.7572 -0.4692\n')
    rows = model_nonscf.run_nonscf([str(xyz)], str(tmp_path), name='ns')
    assert [r['molecule'] for r in rows] == ['water'] and rows[0]['scf_pbe_converged']
    assert 0 < rows[0]['ks_mHa'] < 10 and abs(rows[0]['nonscf_mHa']) < 5
    text = (tmp_path / 'ns.txt').read_text()
    assert text.splitlines()[2].split()[:2] == ['water', '3']
    assert (tmp_path / 'ns.jsonl').exists() and (tmp_path / 'ns.png').exists()
    # both sides density-fitted: the same errors to a tenth of a mHa on water (measured 0.03)
    fitted = model_nonscf.run_nonscf([str(xyz)], str(tmp_path), name='ns_df',
                                        density_fit=True, oracle=True)[0]
    # the oracle (the SCF's own density through the engine) is the floor: on water within
    # 1 mHa of the SCF, below the network's error
    assert abs(fitted['oracle_ks_mHa']) < 1 and fitted['oracle_ks_mHa'] < fitted['ks_mHa']
    assert 'oracle e_ks' in (tmp_path / 'ns_df.txt').read_text()
    assert fitted['density_fit'] and not rows[0]['density_fit']
    assert abs(fitted['ks_mHa'] - rows[0]['ks_mHa']) < 0.1
    assert abs(fitted['nonscf_mHa'] - rows[0]['nonscf_mHa']) < 0.1


@requires('qm9pack', 'tqdm', 'matplotlib')
def test_qm9_rows_by_elements(tmp_path, capsys):
    """qm9 on stored structures of every split: the structures holding --elements-first come
    first, the summary compares them with the rest, and the network beats free atoms."""
    from pyscf.deepscf.training import data
    folder = str(tmp_path / 'data')
    data.generate(data.structure_jobs(qm9_index=[1, 3]), folder, {'grids_level': 1}, workers=0,
                  progress=False)
    rows = model_benchmark.run_qm9(folder, 5, str(tmp_path), splits=('train', 'val', 'test'),
                                   elements_first=('O',), name='by_el')
    assert [r['molecule'] for r in rows] == ['qm9_3_d0', 'qm9_1_d0']     # water, then methane
    assert all(r['nmae_model'] < r['nmae_atoms'] for r in rows)
    out = capsys.readouterr().out
    assert 'with O            1 structures' in out and 'without           1 structures' in out
    assert (tmp_path / 'by_el.jsonl').exists() and (tmp_path / 'by_el.png').exists()
    text = (tmp_path / 'by_el.txt').read_text()          # the summary, as printed
    assert text in out and 'mean NMAE % over 2' in text and 'with O ' in text
    # the same structures from a compact file (what survives a lost data folder): their
    # density matrices rebuilt from the stored factors give the same figures to the factors'
    # precision
    from pyscf.deepscf.training import compact_pyscf
    compact_pyscf.write_compact(folder, str(tmp_path / 'set.npz'), progress=False)
    compact_rows = model_benchmark.run_qm9([str(tmp_path / 'set.npz')], 5, str(tmp_path),
                                           splits=('train', 'val', 'test'),
                                           elements_first=('O',), name='by_el_compact')
    assert [r['molecule'] for r in compact_rows] == ['qm9_3_d0', 'qm9_1_d0']
    for a, b in zip(rows, compact_rows):
        for key in ('nmae_model', 'nmae_guess', 'nmae_atoms'):
            assert abs(a[key] - b[key]) < 0.05, (key, a[key], b[key])
