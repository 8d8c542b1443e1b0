"""Density predictors: objects that map a molecule to a residual density on a uniform grid.

A predictor has ``spacing_bohr``, ``margin_bohr`` and ``predict(mol) -> (grid, residual)``, the
residual density rho - sum_A rho_A^free in electrons/bohr^3 on ``grid`` (a UniformGrid).
The trained network is one (model.py); the two here need no training and test the engine:
``ZeroPredictor`` (free atoms only) and ``OraclePredictor`` (the exact SCF density).
"""
import numpy as np
from pyscf import dft
from pyscf.dft import numint

from pyscf.deepscf.engine import atoms
from pyscf.deepscf.engine.grid import molecule_grid, smoothed_point_charges
from pyscf.deepscf.engine.density import sample_on_grid

DEFAULT_SPACING_BOHR = 0.3
DEFAULT_MARGIN_BOHR = 5.0
# the oracle's residual smoothed by a Gaussian of this standard deviation: measured at 0.3 bohr
# (PBE/def2-SVP, six dev molecules) 30 SCF cycles against 42 with point values, minao 58
DEFAULT_SMOOTHING_BOHR = 0.2


def density_on_points(mol, dm, points_bohr, blksize=16384):
    """ρ[dm] (electrons/bohr³, spin-summed for a (2, nao, nao) dm) at points (N, 3) of the
    molecule's own frame, in blocks of points (the AO values of one block at a time)."""
    dm = np.asarray(dm)
    if dm.ndim == 3:
        dm = dm[0] + dm[1]
    points = np.asarray(points_bohr, dtype=float).reshape(-1, 3)
    rho = np.empty(len(points))
    for start in range(0, len(points), blksize):
        pts = points[start:start + blksize]
        rho[start:start + blksize] = numint.eval_rho(mol, numint.eval_ao(mol, pts), dm)
    return rho


def residual_density_on_points(mol, dm, points_bohr, blksize=16384, free_atom_density=None):
    """Δρ = ρ[dm] − Σ ρ_atom (electrons/bohr³) at points (N, 3) of the molecule's own frame.

    ``free_atom_density``: Σ ρ_atom at the points when the caller has it already.
    """
    rho = density_on_points(mol, dm, points_bohr, blksize)
    if free_atom_density is None:
        free_atom_density = atoms.molecule_density_on_points(
            mol, np.asarray(points_bohr, dtype=float).reshape(-1, 3))
    return rho - free_atom_density


# DFT grid level of the quadrature that smooths a residual: level 1 gives the oracle the same
# J error and SCF cycles as level 3 (glycine), but its points are sparse away from the nuclei:
# the smoothed water residual turned with the molecule differs by 13 % rms (level 1), 3.5 %
# (level 3), 1.5 % (level 4) from the turned molecule's own, noise in a training target.
SMOOTHING_GRIDS_LEVEL = 3


def residual_charges(mol, dm, grids_level=SMOOTHING_GRIDS_LEVEL):
    """(points (N, 3) bohr, charges (N,) electrons): Δρ of ``dm`` at the points of PySCF's DFT
    grid of ``mol`` (level ``grids_level``, which resolves the nuclei) times their weights."""
    quadrature = dft.gen_grid.Grids(mol)
    quadrature.level = grids_level
    quadrature.build(with_non0tab=False, sort_grids=False)
    residual = residual_density_on_points(mol, dm, quadrature.coords)
    return quadrature.coords, residual * quadrature.weights


def smoothed_residual_on_grid(mol, dm, grid, smoothing_bohr, grids_level=SMOOTHING_GRIDS_LEVEL):
    """The residual of ``dm`` smoothed by a Gaussian of standard deviation ``smoothing_bohr``,
    on ``grid`` (e/bohr^3): residual_charges spread onto the grid."""
    points, charges = residual_charges(mol, dm, grids_level)
    return smoothed_point_charges(grid, points, charges, smoothing_bohr)


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
    takes it as such, density.fit_residual); 0: its point values on the grid.
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
