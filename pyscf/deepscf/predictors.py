"""Density predictors: objects that map a molecule to a residual density on a uniform grid.

A predictor has ``spacing_bohr``, ``margin_bohr`` and ``predict(mol) -> (grid, residual)``, the
residual density rho - sum_A rho_A^free in electrons/bohr^3 on ``grid`` (a UniformGrid).
The trained network is one (model.py); the two here need no training and test the engine:
``ZeroPredictor`` (free atoms only) and ``OraclePredictor`` (the exact SCF density).
"""
import numpy as np
from pyscf.dft import numint

from pyscf.deepscf import atoms
from pyscf.deepscf.grid import box_grid
from pyscf.deepscf.density import sample_on_grid

DEFAULT_SPACING_BOHR = 0.3
DEFAULT_MARGIN_BOHR = 5.0


def free_atom_density_on_grid(mol, grid):
    """Superposition of free atoms sampled on ``grid`` (e/bohr^3)."""
    return sample_on_grid(lambda c: atoms.molecule_density_on_points(mol, c), grid)


def dm_density_on_grid(mol, dm, grid):
    """Density of a density matrix (total, or (alpha, beta)) sampled on ``grid`` (e/bohr^3)."""
    dm = np.asarray(dm)
    if dm.ndim == 3:
        dm = dm[0] + dm[1]
    return sample_on_grid(lambda c: numint.eval_rho(mol, numint.eval_ao(mol, c), dm), grid)


def molecule_grid(mol, spacing_bohr, margin_bohr, multiple=1):
    return box_grid(mol.atom_coords()[atoms.real_atoms(mol)], spacing_bohr, margin_bohr, multiple)


class ZeroPredictor:
    """Residual density zero: the prediction is the superposition of free atoms."""

    def __init__(self, spacing_bohr=DEFAULT_SPACING_BOHR, margin_bohr=DEFAULT_MARGIN_BOHR):
        self.spacing_bohr, self.margin_bohr = spacing_bohr, margin_bohr

    def predict(self, mol):
        grid = molecule_grid(mol, self.spacing_bohr, self.margin_bohr)
        return grid, np.zeros(grid.shape)


class OraclePredictor:
    """The exact residual of a converged density matrix ``dm`` of ``mol`` (for tests)."""

    def __init__(self, dm, spacing_bohr=DEFAULT_SPACING_BOHR, margin_bohr=DEFAULT_MARGIN_BOHR):
        self.dm = dm
        self.spacing_bohr, self.margin_bohr = spacing_bohr, margin_bohr

    def predict(self, mol):
        grid = molecule_grid(mol, self.spacing_bohr, self.margin_bohr)
        residual = dm_density_on_grid(mol, self.dm, grid) - free_atom_density_on_grid(mol, grid)
        return grid, residual
