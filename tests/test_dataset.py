"""Training samples: rotation, charge balance, crops, splits."""
import os

import numpy as np
import pytest
import torch
from pyscf import dft, gto

from pyscf.deepscf.training import data, dataset
from pyscf.deepscf.engine.grid import random_rotation, rotate
from pyscf.deepscf.engine.fingerprints import N_CHANNELS, fingerprints_on_points
from pyscf.deepscf.engine.exact_residual import (SMOOTHING_GRIDS_LEVEL, residual_charges,
                                                 residual_density_on_points,
                                                 smoothed_residual_on_grid)

from conftest import skip_without


def full_box_sample(mol, dm, spacing_bohr=dataset.DEFAULT_SPACING_BOHR, rotation=None,
                    smoothing_bohr=0.0, charges=None):
    """The whole box of a sample: x (C, *shape), y (1, *shape) float32 and the UniformGrid;
    ``rotation`` (3, 3) about the atoms' centroid, default none."""
    rotation = np.eye(3) if rotation is None else np.asarray(rotation, dtype=float)
    grid, center = dataset.molecule_rotated_box(mol, rotation, spacing_bohr,
                                                dataset.DEFAULT_MARGIN_BOHR)
    x, y = dataset.features_and_target(mol, dm, grid, rotation, center, smoothing_bohr, charges)
    return (x.reshape((N_CHANNELS,) + grid.shape).astype(np.float32),
            y.reshape((1,) + grid.shape).astype(np.float32), grid)


def tight_dm(mol):
    mf = dft.RKS(mol, xc='b3lyp')
    mf.conv_tol, mf.grids.level = 1e-10, 3
    mf.kernel()
    return mf.make_rdm1()


@pytest.fixture(scope='module')
def water():
    skip_without('qm9pack')
    job = data.structure_jobs(qm9_index=[3])[0]
    mol = data.job_mole(job, 'def2-svp')
    return mol, tight_dm(mol)


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    skip_without('qm9pack', 'tqdm')
    out = str(tmp_path_factory.mktemp('data'))
    data.generate(data.structure_jobs(qm9_index=[1, 3]), out, {'grids_level': 1}, workers=0,
                  progress=False)
    return out


def test_rotating_the_molecule_rotates_the_residual(water):
    """Δρ sampled through the rotation equals the SCF of the rotated molecule on its grid."""
    mol, dm = water
    rotation = random_rotation(np.random.default_rng(7))
    assert np.allclose(rotation @ rotation.T, np.eye(3)) and np.isclose(np.linalg.det(rotation), 1)
    x, y, grid = full_box_sample(mol, dm, rotation=rotation)
    center = mol.atom_coords().mean(axis=0)
    rotated = gto.M(atom=[(s, c) for s, c in zip(['O', 'H', 'H'],
                                                 rotate(mol.atom_coords(), rotation, center))],
                    unit='Bohr', basis='def2-svp', verbose=0)
    points = grid.coords()
    y_direct = residual_density_on_points(rotated, tight_dm(rotated), points)
    x_direct = fingerprints_on_points(['O', 'H', 'H'], rotated.atom_coords(), points)
    scale = np.abs(y_direct).max()
    assert np.abs(y[0].ravel() - y_direct).max() < 1e-5 * scale
    assert np.abs(x.reshape(N_CHANNELS, -1) - x_direct).max() < 1e-5
    # the inverse rotation (a wrong convention) does not match
    _, y_wrong = dataset.features_and_target(mol, dm, grid, rotation.T, center)
    assert np.abs(y_wrong - y_direct).max() > 1e-3 * scale
    # the smoothed target rotates the same way: it equals the rotated molecule's own up to the
    # quadrature (PySCF's angular grids do not turn with the molecule, hence the finer grids
    # level and a looser bound than the point values', which still tells the inverse rotation
    # apart)
    charges = residual_charges(mol, dm, grids_level=4)
    _, y_smooth, _ = full_box_sample(mol, dm, rotation=rotation, smoothing_bohr=0.2,
                                     charges=charges)
    direct = smoothed_residual_on_grid(rotated, tight_dm(rotated), grid, 0.2, grids_level=4)
    assert np.abs(y_smooth[0] - direct).max() < 0.009 * np.abs(direct).max()


def test_residual_integrates_to_zero(water):
    """∫Δρ on the 0.3-bohr box is near zero: the grid cannot integrate the sharp cores (the
    free-atom sum alone is far from the electron count), but they cancel in Δρ."""
    mol, dm = water
    x, y, grid = full_box_sample(mol, dm, spacing_bohr=0.3)
    charge = y.sum(dtype=float) * grid.voxel_volume
    assert abs(charge) < 0.1
    assert np.abs(y).sum(dtype=float) * grid.voxel_volume > 1.0          # Δρ is not trivially 0
    rho_atoms = np.sum(x[0].astype(float) ** 3) * grid.voxel_volume      # channel 0 = rho_0^(1/3)
    assert abs(charge) < 0.1 * abs(rho_atoms - mol.nelectron)            # core error cancels
    _, y_fine, fine = full_box_sample(mol, dm, spacing_bohr=0.2)
    assert abs(y_fine.sum(dtype=float) * fine.voxel_volume) < 0.01         # finer: closer
    # smoothed from the DFT grid, the 0.3 bohr box keeps the charge
    _, y_smooth, _ = full_box_sample(mol, dm, spacing_bohr=0.3, smoothing_bohr=0.2)
    assert abs(y_smooth.sum(dtype=float) * grid.voxel_volume) < 0.002


def test_crop_is_a_block_of_the_full_box(water):
    mol, dm = water
    x_box, y_box, grid = full_box_sample(mol, dm)
    x, y, mask = dataset.crop_sample(mol, dm, np.random.default_rng(3), crop=16,
                                     rotation=np.eye(3))
    rng = np.random.default_rng(3)                       # the same draws crop_sample makes
    start = [int(rng.integers(0, n - 16 + 1)) for n in grid.shape]
    block = tuple(slice(s, s + 16) for s in start)
    assert mask.all() and x.dtype == np.float32
    assert np.allclose(y[0], y_box[0][block], atol=1e-7)
    assert np.allclose(x, x_box[(slice(None),) + block], atol=1e-6)
    _, y_box, _ = full_box_sample(mol, dm, smoothing_bohr=0.2)
    _, y, _ = dataset.crop_sample(mol, dm, np.random.default_rng(3), crop=16,
                                  rotation=np.eye(3), smoothing_bohr=0.2)
    assert np.allclose(y[0], y_box[0][block], atol=1e-7)


def test_dataset_items(folder):
    ds = dataset.DensityDataset(folder, crop=24, samples_per_structure=2, seed=1)
    assert len(ds) == 4
    x, y, mask = ds[3]
    assert isinstance(x, torch.Tensor) and x.shape == (N_CHANNELS, 24, 24, 24)
    assert y.shape == mask.shape == (1, 24, 24, 24) and y.dtype == torch.float32
    assert torch.equal(ds[3][1], y)                                     # reproducible
    ds.set_epoch(1)
    assert not torch.equal(ds[3][1], y)                                 # new rotation/crop
    big = dataset.DensityDataset(folder, crop=64, rotate=False)        # box (~43) < crop: padded
    x, y, mask = big[0]
    n_real = int(mask.sum())
    assert 0 < n_real < 64 ** 3 and n_real == np.prod([min(n, 64) for n in
                                                       full_box_sample(*big.structure(0)[:2])[2].shape])
    assert torch.all(y[mask == 0] == 0) and torch.all(x[:, mask[0] == 0] == 0)
    loader = torch.utils.data.DataLoader(ds, batch_size=2)
    xb, yb, mb = next(iter(loader))
    assert xb.shape == (2, N_CHANNELS, 24, 24, 24)
    smooth = dataset.DensityDataset(folder, crop=24, samples_per_structure=2, seed=1,
                                    smoothing_bohr=0.2)
    smooth.set_epoch(1)
    xs, ys, ms = smooth[3]
    assert torch.equal(xs, ds[3][0]) and not torch.equal(ys, ds[3][1])   # same crop, new target
    # the quadrature charges are kept beside the shards and read back (float32)
    assert os.listdir(os.path.join(folder, f'charges_level{SMOOTHING_GRIDS_LEVEL}')) == ['qm9_3_d0.npz']
    again = dataset.DensityDataset(folder, crop=24, samples_per_structure=2, seed=1,
                                   smoothing_bohr=0.2)
    again.set_epoch(1)
    assert torch.allclose(again[3][1], ys, atol=1e-6 * float(ys.abs().max()))


def test_split_by_molecule():
    ids = [f'qm9_{i}_d{k}' for i in range(1, 2001) for k in range(3)] + ['smi_4_d0', 'smi_4_d1']
    splits = dataset.split_records([('f.h5', i) for i in ids], seed=5)
    where = {sid: name for name, recs in splits.items() for _, sid in recs}
    for i in range(1, 2001):
        assert where[f'qm9_{i}_d0'] == where[f'qm9_{i}_d1'] == where[f'qm9_{i}_d2']
    assert where['smi_4_d0'] == where['smi_4_d1']
    n = {name: len(recs) / len(ids) for name, recs in splits.items()}
    assert abs(n['train'] - 0.8) < 0.04 and abs(n['val'] - 0.1) < 0.03
    assert splits == dataset.split_records([('f.h5', i) for i in ids], seed=5)
    other = dataset.split_records([('f.h5', i) for i in ids], seed=6)
    assert other['test'] != splits['test']
