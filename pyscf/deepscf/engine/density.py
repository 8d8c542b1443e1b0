"""Predicted density: free atoms (analytic) plus a residual density fitted to Gaussians.

The residual density (electrons/bohr^3) comes on a uniform grid; fit_density projects it onto
an atom-centred auxiliary Gaussian basis (auxbasis.py) with the electron count fixed, so that
the whole density rho_pred = sum_A rho_A + sum_P c_P chi_P is analytic: its value and gradient
anywhere, its Coulomb potential from three-centre integrals (coulomb.py).
"""
import numpy as np
from pyscf import __config__, gto

from pyscf.deepscf.engine import atoms as atoms_mod, coulomb, domain_fit, fit
from pyscf.deepscf.engine.auxbasis import residual_auxmol
from pyscf.deepscf.engine.cartesian import CartesianGaussianSum, cartesian_map

# Above this many residual functions (about 50 atoms) the fit goes domain by domain
# (domain_fit.py), whose cost grows linearly with the atoms; below, the global fit is faster
DENSE_FIT_MAX_FUNCTIONS = getattr(__config__, 'deepscf_dense_fit_max_functions', 4000)


def fit_density(mol, grid=None, residual_density=None, smoothing_bohr=0.0,
                max_dense_functions=DENSE_FIT_MAX_FUNCTIONS):
    """PredictedDensity of ``mol``: its free atoms plus ``residual_density`` (e/bohr^3 on
    ``grid``, a UniformGrid in bohr) fitted with the electron count fixed; free atoms alone
    when ``residual_density`` is None (a neutral molecule only).

    ``smoothing_bohr``: 0 if the grid holds point values, else the standard deviation of the
    Gaussian that smoothed them (fit.fit_residual).  Residual bases of more than
    ``max_dense_functions`` functions are fitted domain by domain (domain_fit).
    """
    atom_aux, atom_coeff = atoms_mod.atoms_auxmol(mol)
    # electrons the residual must supply: the molecule's count minus the neutral atoms'
    residual_charge = mol.nelectron - atom_coeff @ atoms_mod.s_function_integrals(atom_aux)
    if residual_density is None:
        if abs(residual_charge) > 1e-8:
            raise ValueError('a charged molecule needs a residual density grid')
        return PredictedDensity(mol, atom_aux, atom_coeff)
    res_aux = residual_auxmol(mol)
    if res_aux.nao > max_dense_functions:
        res_coeff = domain_fit.fit_residual_by_domains(res_aux, grid, residual_density,
                                                       residual_charge,
                                                       smoothing_bohr=smoothing_bohr)
        cartesian_terms = None
    else:
        cartesian_terms = cartesian_map(res_aux)
        res_coeff = fit.fit_residual(res_aux, grid, residual_density, residual_charge,
                                     cartesian_terms=cartesian_terms,
                                     smoothing_bohr=smoothing_bohr)
    return PredictedDensity(mol, atom_aux, atom_coeff, res_aux, res_coeff, grid,
                            residual_density, smoothing_bohr, cartesian_terms)


class PredictedDensity:
    """rho_pred(r) = sum_A rho_A^free(r) + sum_P c_P chi_P(r), in electrons/bohr^3
    (made by fit_density).

    Attributes:
        mol : the molecule (real atoms define the free-atom part)
        grid : UniformGrid of the residual, or None
        residual_density : ndarray of grid.shape (e/bohr^3), the residual as predicted
        smoothing_bohr : 0 if residual_density holds point values; else the standard deviation
            of the Gaussian that smoothed it
        auxmol, coeff : the combined auxiliary basis (free atoms first) and coefficients
        n_atom_functions : how many of them are the free atoms'
        residual_auxmol, residual_coeff : the residual's part of them (None: no residual)
    """

    def __init__(self, mol, atom_auxmol, atom_coeff, residual_auxmol=None, residual_coeff=None,
                 grid=None, residual_density=None, smoothing_bohr=0.0, cartesian_terms=None):
        self.mol = mol
        self.grid = grid
        self.residual_density = residual_density
        self.smoothing_bohr = smoothing_bohr
        self.n_atom_functions = atom_auxmol.nao
        self.residual_auxmol, self.residual_coeff = residual_auxmol, residual_coeff
        if residual_auxmol is None:
            self.auxmol, self.coeff = atom_auxmol, np.asarray(atom_coeff)
            self.residual_values = None
        else:
            self.auxmol = gto.mole.conc_mol(atom_auxmol, residual_auxmol)
            self.coeff = np.concatenate([atom_coeff, residual_coeff])
            self.residual_values = CartesianGaussianSum(residual_auxmol, residual_coeff,
                                                        cartesian_terms)

    @property
    def nelectron(self):
        return float(self.coeff @ atoms_mod.s_function_integrals(self.auxmol))

    def eval_rho(self, coords_bohr, deriv=0):
        """Density (N,) at points in bohr, or (4, N) with its gradient for deriv=1.

        The free atoms come from their radial tables (atoms.density_on_points), the residual
        from its Gaussians: a free atom's ~40 primitives would make up half the cost of V_xc.
        """
        coords_bohr = np.asarray(coords_bohr, dtype=float)
        rho = atoms_mod.molecule_density_on_points(self.mol, coords_bohr, deriv)
        if self.residual_values is not None:
            rho = rho + self.residual_values(coords_bohr, deriv)
        return rho

    def coulomb_matrix(self, mol):
        """J[rho_pred] in the basis of ``mol`` (Hartree): coulomb.coulomb_matrix."""
        return coulomb.coulomb_matrix(mol, self)

    def coulomb_matrix_df(self, with_df):
        """J[rho_pred] through a density-fitting object, or None: coulomb.coulomb_matrix_df."""
        return coulomb.coulomb_matrix_df(with_df, self)

    def coulomb_energy(self):
        """E_J = 1/2 (rho_pred | rho_pred) in Hartree."""
        return coulomb.coulomb_energy(self)
