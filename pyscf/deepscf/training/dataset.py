"""Training samples from the stored SCF records: (fingerprints, residual density) on grid crops.

A sample is drawn from one structure (``pyscf.deepscf.training.data`` records) in a random orientation:
the atoms are rotated by a random rotation R about their centroid c, the model's box grid is
built around the rotated atoms, the fingerprint channels are evaluated from the rotated atoms,
and the residual density Δρ = ρ_SCF − Σ ρ_atom at a rotated point p' is the stored density at
the original point p = (p' − c) R + c (row vectors), so no density matrix is ever rotated.
Only the points of a random ``crop``³ sub-box are evaluated.  Everything in bohr and
electrons/bohr³.

Splits are by molecule: the deformed copies ``qm9_{index}_d{k}`` of a QM9 molecule (and
``smi_{k}_d{j}`` of a SMILES) share one split, drawn from a hash of (seed, molecule), so a
molecule keeps its split when the data set grows.
"""
import collections
import json
import hashlib
import os

import numpy as np
import torch
import torch.utils.data

from pyscf.deepscf.engine import atoms
from pyscf.deepscf.training import compact, data
from pyscf.deepscf.engine.fingerprints import N_CHANNELS, fingerprints_on_points
from pyscf.deepscf.engine.grid import (random_crop, random_rotation, rotate, rotated_box,
                                smoothed_point_charges)
from pyscf.deepscf.predictors import (SMOOTHING_GRIDS_LEVEL, residual_charges,
                                      residual_density_on_points)

DEFAULT_SPACING_BOHR = 0.3
DEFAULT_MARGIN_BOHR = 5.0
DEFAULT_CROP = 32
SPLITS = ('train', 'val', 'test')


# ---------------------------------------------------------------------------- splits

def molecule_key(structure_id):
    """'qm9_123_d2' -> 'qm9_123': the molecule a structure belongs to."""
    return structure_id.rsplit('_d', 1)[0]


def split_of(structure_id, fractions=(0.8, 0.1, 0.1), seed=0):
    """'train', 'val' or 'test' for a structure, fixed by (seed, its molecule)."""
    digest = hashlib.sha256(f'{seed}:{molecule_key(structure_id)}'.encode()).hexdigest()
    u = int(digest[:13], 16) / 16 ** 13
    bounds = np.cumsum(fractions) / np.sum(fractions)
    return SPLITS[min(int(np.searchsorted(bounds, u, side='right')), 2)]


def split_records(records, fractions=(0.8, 0.1, 0.1), seed=0):
    """{'train': [...], 'val': [...], 'test': [...]} of (shard_path, id) records (or a folder)."""
    if isinstance(records, str):
        records = data.list_records(records)
    out = {name: [] for name in SPLITS}
    for rec in records:
        out[split_of(rec[1], fractions, seed)].append(rec)
    return out


# ---------------------------------------------------------------------------- sampling

def features_and_target(mol, dm, grid, rotation, center, smoothing_bohr=0.0, charges=None):
    """(fingerprints (C, N), Δρ (N,)) on the points of ``grid`` in the rotated frame (rotation
    about center).  ``smoothing_bohr`` > 0: Δρ smoothed by a Gaussian of that standard deviation,
    spread from ``charges`` (predictors.residual_charges of the molecule's own frame)."""
    symbols = atoms.atom_symbols(mol)
    coords_rot = rotate(mol.atom_coords()[atoms.real_atoms(mol)], rotation, center)
    points_rot = grid.coords()
    rho0 = atoms.density_on_points(symbols, coords_rot, points_rot)    # rotation invariant
    x = fingerprints_on_points(symbols, coords_rot, points_rot, free_atom_density=rho0)
    if smoothing_bohr > 0:
        points, q = charges if charges is not None else residual_charges(mol, dm)
        y = smoothed_point_charges(grid, rotate(points, rotation, center), q, smoothing_bohr)
        return x, y.ravel()
    points_orig = (points_rot - center) @ rotation + center     # inverse rotation
    return x, residual_density_on_points(mol, dm, points_orig, free_atom_density=rho0)


def molecule_rotated_box(mol, rotation, spacing_bohr, margin_bohr, multiple=1):
    """(grid, center): grid.rotated_box of the real atoms of ``mol``."""
    return rotated_box(mol.atom_coords()[atoms.real_atoms(mol)], rotation, spacing_bohr,
                       margin_bohr, multiple)


def crop_sample(mol, dm, rng, spacing_bohr=DEFAULT_SPACING_BOHR,
                margin_bohr=DEFAULT_MARGIN_BOHR, crop=DEFAULT_CROP, rotation=None,
                smoothing_bohr=0.0, charges=None):
    """A random crop in a random orientation (or ``rotation``; np.eye(3) for none).

    Returns float32 arrays x (C, n, n, n), y (1, n, n, n) and mask (1, n, n, n) with n = crop;
    where the box is smaller than the crop the box sits at the low corner and the rest is zero
    with mask 0.  ``smoothing_bohr``, ``charges``: as for features_and_target.
    """
    rotation = random_rotation(rng) if rotation is None else np.asarray(rotation, dtype=float)
    grid, center = molecule_rotated_box(mol, rotation, spacing_bohr, margin_bohr)
    crop_grid = random_crop(grid, crop, rng)
    size = crop_grid.shape
    x_pts, y_pts = features_and_target(mol, dm, crop_grid, rotation, center, smoothing_bohr,
                                       charges)
    x = np.zeros((N_CHANNELS, crop, crop, crop), dtype=np.float32)
    y = np.zeros((1, crop, crop, crop), dtype=np.float32)
    mask = np.zeros((1, crop, crop, crop), dtype=np.float32)
    inner = (slice(None), slice(0, size[0]), slice(0, size[1]), slice(0, size[2]))
    x[inner] = x_pts.reshape(N_CHANNELS, *size)
    y[inner] = y_pts.reshape(1, *size)
    mask[inner] = 1
    return x, y, mask


def full_box_sample(mol, dm, spacing_bohr=DEFAULT_SPACING_BOHR,
                    margin_bohr=DEFAULT_MARGIN_BOHR, rotation=None, multiple=1,
                    smoothing_bohr=0.0, charges=None):
    """The whole box (validation): x (C, *shape), y (1, *shape) float32 and the UniformGrid.

    ``rotation`` (3, 3) about the atoms' centroid, default none; ``multiple`` rounds the shape
    up for the network's down-sampling.
    """
    rotation = np.eye(3) if rotation is None else np.asarray(rotation, dtype=float)
    grid, center = molecule_rotated_box(mol, rotation, spacing_bohr, margin_bohr, multiple)
    x, y = features_and_target(mol, dm, grid, rotation, center, smoothing_bohr, charges)
    return (x.reshape((N_CHANNELS,) + grid.shape).astype(np.float32),
            y.reshape((1,) + grid.shape).astype(np.float32), grid)


def stored_residual_charges(record, mol, dm):
    """predictors.residual_charges of a record, kept beside its shard (float32, ~1.6 MB for a
    QM9 molecule) in ``charges_level<L>/<id>.npz``: computing them (~0.5 s) is most of the cost
    of a smoothed training crop, and each structure gives many crops."""
    shard, structure_id = record
    folder = os.path.join(os.path.dirname(os.path.abspath(shard)),
                          f'charges_level{SMOOTHING_GRIDS_LEVEL}')
    path = os.path.join(folder, structure_id + '.npz')
    try:
        with np.load(path) as f:
            return f['points'].astype(float), f['charges'].astype(float)
    except (OSError, KeyError, ValueError):
        pass
    points, charges = residual_charges(mol, dm)
    os.makedirs(folder, exist_ok=True)
    tmp = f'{path}.{os.getpid()}.tmp.npz'
    np.savez(tmp, points=points.astype(np.float32), charges=charges.astype(np.float32))
    os.replace(tmp, path)                 # atomic: several DataLoader workers may race
    return points, charges


# ---------------------------------------------------------------------------- torch

class DensityDataset(torch.utils.data.Dataset):
    """Torch dataset of random rotated crops: item i -> (x, y, mask) float32 tensors.

    records: a data folder, or a list of (shard_path, id) (e.g. one split of
    ``split_records``).  Item i is sample ``i % samples_per_structure`` of structure
    ``i // samples_per_structure``; its rotation and crop come from (seed, epoch, i), so an
    epoch is reproducible and ``set_epoch`` gives new ones.  Records are read lazily (each
    DataLoader worker keeps its own small cache).
    """

    def __init__(self, records, spacing_bohr=DEFAULT_SPACING_BOHR,
                 margin_bohr=DEFAULT_MARGIN_BOHR, crop=DEFAULT_CROP, samples_per_structure=1,
                 seed=0, rotate=True, cache_size=32, smoothing_bohr=0.0):
        self.records = data.list_records(records) if isinstance(records, str) else list(records)
        self.spacing_bohr, self.margin_bohr, self.crop = spacing_bohr, margin_bohr, crop
        self.samples_per_structure, self.seed, self.rotate = samples_per_structure, seed, rotate
        self.epoch, self.cache_size = 0, cache_size
        self.smoothing_bohr = smoothing_bohr
        self._cache = collections.OrderedDict()

    def __len__(self):
        return len(self.records) * self.samples_per_structure

    def __getstate__(self):            # to DataLoader workers: without the cached molecules
        return {**self.__dict__, '_cache': collections.OrderedDict()}

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def structure(self, k):
        """(mol, dm, charges) of the k-th record (cached); charges: residual_charges for a
        smoothed target, else None."""
        key = self.records[k]
        if key not in self._cache:
            rec = data.load_record(*key)
            mol = data.record_mole(rec)
            charges = (stored_residual_charges(key, mol, rec['dm']) if self.smoothing_bohr > 0
                       else None)
            self._cache[key] = (mol, rec['dm'], charges)
            if len(self._cache) > max(self.cache_size, 1):     # keep at least this one
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(i)
        mol, dm, charges = self.structure(i // self.samples_per_structure)
        rng = np.random.default_rng([self.seed, self.epoch, i])
        x, y, mask = crop_sample(mol, dm, rng, self.spacing_bohr, self.margin_bohr, self.crop,
                                 rotation=None if self.rotate else np.eye(3),
                                 smoothing_bohr=self.smoothing_bohr, charges=charges)
        return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask)

    def full_box(self, k, rotation=None, multiple=1):
        """Whole-box (x, y, grid) of the k-th record, for validation."""
        mol, dm, charges = self.structure(k)
        return full_box_sample(mol, dm, self.spacing_bohr, self.margin_bohr, rotation, multiple,
                               self.smoothing_bohr, charges)


# ---------------------------------------------------------------------------- compact set

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
# libcint-normalised Cartesian function).  Measured (benchmarks/compact_size.py): half the
# compressed size of a drug-like structure, two thirds of a QM9 one, at a density change of
# 0.04-0.06 % NMAE, of which 0.015 % is float16's own rounding.
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
    """Structures ``indices`` of a compact.CompactSet as records like data.load_record's (id,
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
        mol = data.record_mole(rec)
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
                      if k in data.LEVEL_KEYS and theirs.get(k) != v}
            if differ:
                raise ValueError(f'{path}: computed with other settings (file, wanted): '
                                 f'{differ}')
        ids.update(str(i) for i in arrays['ids'])
    return ids


def folder_compact_arrays(folder, dtype='float16', split_seed=0, progress=True, threshold=0.):
    """The arrays of the compact file (compact.py's layout) of every record of a data folder."""
    from tqdm import tqdm
    records = data.list_records(folder)
    if not records:
        raise ValueError(f'{folder}: no stored structures')
    elements, shells = [], []            # shells: (element index, l, exps, coefs)
    ids, splits, natm, numbers, coords, factors, cols = [], [], [], [], [], [], []
    basis = None
    for key in tqdm(records, disable=not progress, unit='struct', mininterval=5):
        rec = data.load_record(*key)
        if basis not in (None, rec['basis']):
            raise ValueError(f'{key[1]}: basis {rec["basis"]} differs from {basis}')
        basis = rec['basis']
        mol = data.record_mole(rec)
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


def data_settings(folder):
    """The settings.json of a data folder ({} when it has none)."""
    try:
        with open(os.path.join(folder, data.SETTINGS_FILE)) as f:
            return json.load(f)
    except OSError:
        return {}
