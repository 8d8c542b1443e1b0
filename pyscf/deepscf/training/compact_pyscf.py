"""The compact set's PySCF side: its file written from data folders (density-matrix factors and
the basis), and its structures read back as PySCF records where the data folder is gone.  The
file's layout and its torch reader are compact.py's.
"""
import json
import os

import numpy as np

from pyscf.deepscf.training import compact
from pyscf.deepscf.training.dataset import SPLITS, split_of
from pyscf.deepscf.training.records import (LEVEL_KEYS, data_settings, list_records,
                                            load_record, record_mole)

# libcint's angular factors of s and p functions, which PySCF's Cartesian functions carry
_CARTESIAN_FACTOR = {0: 0.5 / np.sqrt(np.pi), 1: np.sqrt(3 / (4 * np.pi))}


def density_factor(mol, dm):
    """L (nao_cart, rank) with D = L Lᵀ in the Cartesian functions of ``mol`` (the spin-summed
    density matrix; rank = its number of nonzero eigenvalues, the occupied orbitals)."""
    dm = np.asarray(dm)
    if dm.ndim == 3:
        dm = dm[0] + dm[1]
    w, v = np.linalg.eigh(dm)
    keep = w > 1e-12 * w.max()
    if np.any(w < -1e-6 * w.max()):
        raise ValueError(f'density matrix of {mol.natm} atoms is not positive semidefinite '
                         f'(eigenvalue {w.min():.3g})')
    c2s = np.eye(mol.nao) if mol.cart else mol.cart2sph_coeff()
    return c2s @ (v[:, keep] * np.sqrt(w[keep]))


# |L| below which the compact set stores a zero (the factor's units: electrons^1/2 per
# libcint-normalised Cartesian function): a much smaller file at a density change well below
# the network's error (benchmarks/compact_size.py).
SPARSE_THRESHOLD = 1e-3


def sparse_factor(factor, threshold=SPARSE_THRESHOLD):
    """Another factor of the same D = L Lᵀ whose columns are local: the pivoted Cholesky
    factor of D (Cholesky orbitals, each centred on its pivot function), entries with
    |L| < ``threshold`` set to zero and empty columns dropped, so that a compressed file stores
    little more than the nonzeros.  ``threshold=0`` keeps the Cholesky factor exact."""
    from scipy.linalg import lapack
    factor = np.asarray(factor, dtype=float)
    d = factor @ factor.T
    chol, piv, rank, info = lapack.dpstrf(d, lower=1, tol=-1)
    if info < 0:
        raise ValueError(f'pivoted Cholesky failed (info {info})')
    out = np.empty((len(d), rank))
    out[piv - 1] = np.tril(chol)[:, :rank]            # rows back in the basis's order
    out[np.abs(out) < threshold] = 0
    return out[:, np.any(out != 0, axis=0)]


def element_basis(mol, atom):
    """[(l, exponents, coefficients)] of the shells of one atom of ``mol``, one per contraction,
    with libcint's normalisation and s/p angular factors: χ = x^lx y^ly z^lz Σ c exp(−a r²)
    is PySCF's Cartesian function."""
    out = []
    for ib in mol.atom_shell_ids(atom):
        l = int(mol.bas_angular(ib))
        coefs = mol._libcint_ctr_coeff(ib) * _CARTESIAN_FACTOR.get(l, 1.0)
        out += [(l, mol.bas_exp(ib).copy(), coefs[:, j].copy()) for j in range(coefs.shape[1])]
    return out


def write_compact(sources, path, dtype='float16', split_seed=0, progress=True,
                  threshold=SPARSE_THRESHOLD):
    """The compact training set (compact.py) of data folders and/or compact files (.npz),
    merged into one compressed file ``path`` (.npz); returns a summary dict.  ``sources``: one
    path or a list.  Folders are split by molecule with ``split_seed``; a compact file keeps its
    splits and must have been written with the same seed.  The factors in float16 (half of
    float32's size) moved the bundled network's validation NMAE against them by 6e-6 %
    (float32: 1e-8 %); ``threshold`` > 0 stores them sparse (sparse_factor), and a compact
    file stored with a smaller one is re-factored to it.
    """
    sources = [sources] if isinstance(sources, str) else list(sources)
    if not sources:
        raise ValueError('no data folder or compact file given')
    parts = []
    for source in sources:
        if os.path.isdir(source):
            parts.append(folder_compact_arrays(source, dtype, split_seed, progress, threshold))
        elif os.path.isfile(source):
            parts.append(compact.read_compact_arrays(source))
            stored = json.loads(str(parts[-1]['settings_json']))
            if stored.get('split_seed') != split_seed:
                raise ValueError(f'{source}: split seed {stored.get("split_seed")}, not '
                                 f'{split_seed}')
            if stored.get('factor_threshold', 0) > threshold:
                raise ValueError(f'{source}: factors stored with threshold '
                                 f'{stored["factor_threshold"]:g}, above {threshold:g}')
            if stored.get('factor_threshold', 0) < threshold:
                parts[-1] = sparse_compact_arrays(parts[-1], threshold, progress)
        else:
            raise ValueError(f'{source}: no data folder or compact file')
    arrays = compact.merge_compact_arrays(parts, dtype, sources)
    tmp = path + '.tmp.npz'
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    splits = [str(s) for s in arrays['splits']]
    return {'path': path, 'structures': len(splits), 'bytes': os.path.getsize(path),
            'splits': {s: splits.count(s) for s in SPLITS}, 'dtype': dtype,
            'threshold': threshold}


def sparse_compact_arrays(arrays, threshold, progress=True):
    """A compact file's arrays with every factor replaced by its sparse_factor."""
    from tqdm import tqdm
    starts, cols = arrays['factor_start'], arrays['factor_cols']
    factors = []
    for i in tqdm(range(len(cols)), disable=not progress, unit='struct', mininterval=5):
        dense = arrays['factor'][starts[i]:starts[i + 1]].astype(float).reshape(-1, int(cols[i]))
        factors.append(sparse_factor(dense, threshold))
    settings = {**json.loads(str(arrays['settings_json'])), 'factor_threshold': threshold}
    return {**arrays, 'settings_json': np.str_(json.dumps(settings)),
            'factor_start': np.concatenate([[0], np.cumsum([f.size for f in factors])]),
            'factor_cols': np.array([f.shape[1] for f in factors]),
            'factor': np.concatenate([f.ravel() for f in factors]).astype(arrays['factor'].dtype)}


def compact_records(store, indices):
    """Structures ``indices`` of a compact.CompactSet as records like load_record's (id,
    symbols, coords_bohr, basis, charge, spin and the spin-summed density matrix ``dm`` in the
    basis's spherical functions): what stands in for a lost data folder when weights are
    judged.  The compact set stores no charge and spin: the charge is the nuclear charge less
    the factor's electrons, the spin the lowest that count allows (the data's molecules are
    closed shells)."""
    basis = store.settings['basis']
    out = []
    for i in indices:
        structure = store.structure(i)
        rec = {'id': store.ids[i], 'symbols': structure.symbols,
               'coords_bohr': structure.coords_np, 'basis': basis, 'charge': 0, 'spin': 0}
        mol = record_mole(rec)
        back = np.linalg.pinv(mol.cart2sph_coeff())            # Cartesian -> spherical
        factor = back @ structure.factor.numpy()
        dm = factor @ factor.T
        n_elec = int(round(float(np.einsum('ij,ji->', dm, mol.intor('int1e_ovlp')))))
        rec['charge'] = int(sum(mol.atom_charges())) - n_elec
        rec['spin'] = n_elec % 2
        out.append({**rec, 'dm': dm})
    return out


def compact_ids(sources, settings=None):
    """The structure ids of compact files (a file, a folder of them or a list); with
    ``settings`` (a data folder's level of theory), ValueError if a file holds another level,
    whose structures must not stand in for these."""
    ids = set()
    for path in compact.compact_files(sources):
        arrays = compact.read_compact_arrays(path)
        if settings is not None:
            theirs = json.loads(str(arrays['settings_json']))
            differ = {k: (theirs.get(k), v) for k, v in settings.items()
                      if k in LEVEL_KEYS and theirs.get(k) != v}
            if differ:
                raise ValueError(f'{path}: computed with other settings (file, wanted): '
                                 f'{differ}')
        ids.update(str(i) for i in arrays['ids'])
    return ids


def folder_compact_arrays(folder, dtype='float16', split_seed=0, progress=True, threshold=0.):
    """The arrays of the compact file (compact.py's layout) of every record of a data folder."""
    from tqdm import tqdm
    records = list_records(folder)
    if not records:
        raise ValueError(f'{folder}: no stored structures')
    elements, shells = [], []            # shells: (element index, l, exps, coefs)
    ids, splits, natm, numbers, coords, factors, cols = [], [], [], [], [], [], []
    basis = None
    for key in tqdm(records, disable=not progress, unit='struct', mininterval=5):
        rec = load_record(*key)
        if basis not in (None, rec['basis']):
            raise ValueError(f'{key[1]}: basis {rec["basis"]} differs from {basis}')
        basis = rec['basis']
        mol = record_mole(rec)
        for ia, sym in enumerate(rec['symbols']):
            if sym not in elements:
                elements.append(sym)
                shells += [(len(elements) - 1, l, e, c) for l, e, c in element_basis(mol, ia)]
        factor = density_factor(mol, rec['dm'])
        if threshold:
            factor = sparse_factor(factor, threshold)
        ids.append(key[1])
        splits.append(split_of(key[1], seed=split_seed))
        natm.append(mol.natm)
        numbers += [int(z) for z in rec['atomic_numbers']]
        coords.append(mol.atom_coords())
        factors.append(factor.astype(dtype).ravel())
        cols.append(factor.shape[1])
    nprim = [len(s[2]) for s in shells]
    return {
        'format_version': np.int64(compact.FORMAT_VERSION),
        'settings_json': np.str_(json.dumps({**data_settings(folder), 'split_seed': split_seed,
                                             'factor_dtype': dtype,
                                             'factor_threshold': threshold})),
        'elements': np.array(elements), 'shell_element': np.array([s[0] for s in shells]),
        'shell_l': np.array([s[1] for s in shells]),
        'shell_prim_start': np.concatenate([[0], np.cumsum(nprim)]),
        'prim_exp': np.concatenate([s[2] for s in shells]),
        'prim_coef': np.concatenate([s[3] for s in shells]),
        'ids': np.array(ids), 'splits': np.array(splits),
        'atom_start': np.concatenate([[0], np.cumsum(natm)]),
        'atomic_numbers': np.array(numbers, dtype=np.int16),
        'coords_bohr': np.concatenate(coords),
        'factor_start': np.concatenate([[0], np.cumsum([len(f) for f in factors])]),
        'factor_cols': np.array(cols), 'factor': np.concatenate(factors)}
