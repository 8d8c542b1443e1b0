"""Reference predictors: objects that map a molecule to a residual density on a uniform grid
without the network.

A predictor has ``spacing_bohr``, ``margin_bohr`` and ``predict(mol) -> (grid, residual)``, the
residual density rho - sum_A rho_A^free in electrons/bohr^3 on ``grid`` (a UniformGrid).
The trained network is one (engine/model.py, NetworkPredictor); the ones here test the engine
(``ZeroPredictor``: free atoms only; ``OraclePredictor``: the exact SCF density) or replay a
prediction made elsewhere (``GridPredictor``).
"""
import numpy as np

from pyscf.deepscf.engine import atoms
from pyscf.deepscf.engine.exact_residual import (residual_density_on_points,
                                                 smoothed_residual_on_grid)
from pyscf.deepscf.engine.grid import molecule_grid, sample_on_grid

DEFAULT_SPACING_BOHR = 0.3
DEFAULT_MARGIN_BOHR = 5.0
# the oracle's residual smoothed by a Gaussian of this standard deviation: the smoothed grid
# keeps the near-nucleus charge that point values miss (docs/oracle.md)
DEFAULT_SMOOTHING_BOHR = 0.2


class ZeroPredictor:
    """Residual density zero: the prediction is the superposition of free atoms."""

    def __init__(self, spacing_bohr=DEFAULT_SPACING_BOHR, margin_bohr=DEFAULT_MARGIN_BOHR):
        self.spacing_bohr, self.margin_bohr = spacing_bohr, margin_bohr

    def predict(self, mol):
        grid = molecule_grid(mol, self.spacing_bohr, self.margin_bohr)
        return grid, np.zeros(grid.shape)


class OraclePredictor:
    """The exact residual of a converged density matrix ``dm`` of ``mol`` (for tests).

    ``smoothing_bohr`` > 0: smoothed by a Gaussian of that standard deviation (the fit then
    takes it as such, fit.fit_residual); 0: its point values on the grid.
    """

    def __init__(self, dm, spacing_bohr=DEFAULT_SPACING_BOHR, margin_bohr=DEFAULT_MARGIN_BOHR,
                 smoothing_bohr=DEFAULT_SMOOTHING_BOHR):
        self.dm = dm
        self.spacing_bohr, self.margin_bohr = spacing_bohr, margin_bohr
        self.smoothing_bohr = smoothing_bohr

    def predict(self, mol):
        grid = molecule_grid(mol, self.spacing_bohr, self.margin_bohr)
        if self.smoothing_bohr > 0:
            return grid, smoothed_residual_on_grid(mol, self.dm, grid, self.smoothing_bohr)
        return grid, sample_on_grid(lambda c: residual_density_on_points(mol, self.dm, c), grid)


class GridPredictor:
    """A residual density already on a grid, e.g. predicted by the network on another machine
    (the GPU training kit's guess step).  ``predict(mol)`` returns it for the molecule it was
    made for and raises ValueError for any other (atoms compared to 1e-6 bohr).

    symbols, coords_bohr: the real atoms it was predicted for; grid: UniformGrid; residual:
    (grid.shape) e/bohr^3; smoothing_bohr: 0 for point values (the network's).
    """

    def __init__(self, symbols, coords_bohr, grid, residual, smoothing_bohr=0.0):
        self.symbols = list(symbols)
        self.coords_bohr = np.asarray(coords_bohr, dtype=float).reshape(-1, 3)
        self.grid, self.residual = grid, np.asarray(residual, dtype=float)
        if self.residual.shape != grid.shape:
            raise ValueError(f'residual of shape {self.residual.shape} on a grid of {grid.shape}')
        self.spacing_bohr, self.smoothing_bohr = grid.spacing_bohr, smoothing_bohr

    def predict(self, mol):
        coords = mol.atom_coords()[atoms.real_atoms(mol)]
        if atoms.atom_symbols(mol) != self.symbols or coords.shape != self.coords_bohr.shape \
                or np.abs(coords - self.coords_bohr).max() > 1e-6:
            raise ValueError('GridPredictor: this residual was predicted for another molecule')
        return self.grid, self.residual
