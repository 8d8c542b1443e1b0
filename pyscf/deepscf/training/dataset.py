"""Training samples from the stored SCF records: (fingerprints, residual density) on grid crops.

A sample is drawn from one structure (a record of records.py) in a random orientation:
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
import hashlib
import os

import numpy as np
import torch
import torch.utils.data

from pyscf.deepscf.engine import atoms
from pyscf.deepscf.engine.exact_residual import (SMOOTHING_GRIDS_LEVEL, residual_charges,
                                                 residual_density_on_points)
from pyscf.deepscf.engine.fingerprints import N_CHANNELS, fingerprints_on_points
from pyscf.deepscf.engine.grid import (random_crop, random_rotation, rotate, rotated_box,
                                       smoothed_point_charges)
from pyscf.deepscf.training.options import (DEFAULT_CROP, DEFAULT_MARGIN_BOHR, DEFAULT_SPACING_BOHR,
                                            SPLITS)
from pyscf.deepscf.training.records import list_records, load_record, record_mole


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
        records = list_records(records)
    out = {name: [] for name in SPLITS}
    for rec in records:
        out[split_of(rec[1], fractions, seed)].append(rec)
    return out


# ---------------------------------------------------------------------------- sampling

def features_and_target(mol, dm, grid, rotation, center, smoothing_bohr=0.0, charges=None):
    """(fingerprints (C, N), Δρ (N,)) on the points of ``grid`` in the rotated frame (rotation
    about center).  ``smoothing_bohr`` > 0: Δρ smoothed by a Gaussian of that standard deviation,
    spread from ``charges`` (exact_residual.residual_charges of the molecule's own frame)."""
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


def stored_residual_charges(record, mol, dm):
    """exact_residual.residual_charges of a record, kept beside its shard (float32) in
    ``charges_level<L>/<id>.npz``: computing them is most of the cost of a smoothed training
    crop, and each structure gives many crops."""
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
        self.records = list_records(records) if isinstance(records, str) else list(records)
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
            rec = load_record(*key)
            mol = record_mole(rec)
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
