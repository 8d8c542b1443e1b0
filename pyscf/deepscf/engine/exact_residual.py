"""The exact residual density of a density matrix, Δρ = ρ[D] − Σ ρ_atom (electrons/bohr³):
what the network learns (the training targets) and what OraclePredictor returns."""
import numpy as np
from pyscf import dft
from pyscf.dft import numint

from pyscf.deepscf.engine import atoms
from pyscf.deepscf.engine.fock import total_dm
from pyscf.deepscf.engine.grid import smoothed_point_charges

# DFT grid level of the quadrature that smooths a residual: its points must resolve the nuclei
# and be dense enough away from them that a turned molecule's target turns with it
SMOOTHING_GRIDS_LEVEL = 3


def dm_density_on_points(mol, dm, points_bohr, blksize=16384):
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
    rho = dm_density_on_points(mol, dm, points_bohr, blksize)
    if free_atom_density is None:
        free_atom_density = atoms.molecule_density_on_points(
            mol, np.asarray(points_bohr, dtype=float).reshape(-1, 3))
    return rho - free_atom_density


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
    on ``grid`` (e/bohr³): residual_charges spread onto the grid."""
    points, charges = residual_charges(mol, dm, grids_level)
    return smoothed_point_charges(grid, points, charges, smoothing_bohr)


class ExactDensity:
    """The density of a density matrix ``dm`` of the SCF ``mf``, with the interface of
    density.PredictedDensity (eval_rho, coulomb_matrix, coulomb_matrix_df, coulomb_energy,
    nelectron): the engine fed an exact density instead of a fitted one (tests,
    benchmarks/engine_ceiling.py).  J is the SCF's own (mf.get_j: density-fitted when the
    SCF fits).  A UHF/ROHF or GHF dm counts as its spatial total (fock.total_dm)."""

    def __init__(self, mf, dm):
        self.mol, self.dm = mf.mol, total_dm(dm, mf.mol.nao)
        self.vj = mf.get_j(mf.mol, self.dm)

    @property
    def nelectron(self):
        return float(np.einsum('ij,ji->', self.dm, self.mol.intor_symmetric('int1e_ovlp')))

    def eval_rho(self, coords, deriv=0):
        ao = numint.eval_ao(self.mol, coords, deriv=deriv)
        return numint.eval_rho(self.mol, ao, self.dm, xctype='LDA' if deriv == 0 else 'GGA')

    def coulomb_matrix(self, mol):
        return self.vj

    def coulomb_matrix_df(self, with_df):
        """J through the density-fitting object ``with_df`` (the guess's fitted J)."""
        return with_df.get_jk(self.dm, hermi=1, with_k=False)[0]

    def coulomb_energy(self):
        return 0.5 * np.einsum('ij,ji->', self.dm, self.vj)
