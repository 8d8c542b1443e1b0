"""Predicted density: free atoms (analytic) plus a residual density fitted to Gaussians.

The residual density (electrons/bohr^3) comes on a uniform grid; it is projected onto an
atom-centred auxiliary Gaussian basis with the electron count fixed, so that the whole density
rho_pred = sum_A rho_A + sum_P c_P chi_P is analytic: its value and gradient anywhere, its
Coulomb potential from three-centre integrals.
"""
import numpy as np
import scipy.linalg
from pyscf import df, gto, lib
from pyscf.dft import numint

from pyscf.deepscf import atoms as atoms_mod

# Largest auxiliary exponent (bohr^-2) a grid of spacing h resolves: the Fourier transform of
# exp(-a r^2) at the Nyquist wave number pi/h must be below ~1e-4, i.e. a < (pi/h)^2 / 37.
def max_resolved_exponent(spacing_bohr):
    return (np.pi / spacing_bohr) ** 2 / 37.


def even_tempered_shells(max_exponent, min_exponent=0.12, ratio=2.0, lmax=2):
    """Even-tempered uncontracted shells, exponents in [min_exponent, max_exponent] bohr^-2."""
    shells = []
    for l in range(lmax + 1):
        top = max_exponent / (2.0 ** l)          # higher l: more diffuse is enough
        n = max(1, int(np.floor(np.log(top / min_exponent) / np.log(ratio))) + 1)
        for a in min_exponent * ratio ** np.arange(n):
            shells.append([l, [a, 1.0]])
    return shells


def residual_auxmol(mol, max_exponent=50., ratio=2.0, lmax=2):
    """Auxiliary basis for the residual density on the real atoms of ``mol``.

    Heavy atoms get s, p, d shells up to ``max_exponent`` (bohr^-2): tight functions absorb the
    near-nucleus part of the residual that the grid samples only at a few points (measured on
    glycine at 0.3 bohr: 8 SCF cycles with them, 10 without).  Hydrogen gets the same set:
    a leaner one (s, p up to 8) cost 2 cycles and 1.3 mHa of NonSCF error on glycine.
    """
    idx = atoms_mod.real_atoms(mol)
    symbols = atoms_mod.atom_symbols(mol)
    basis = {s: even_tempered_shells(max_exponent, ratio=ratio, lmax=lmax) for s in set(symbols)}
    auxmol = gto.Mole(atom=[[s, mol.atom_coord(i)] for i, s in zip(idx, symbols)],
                      basis=basis, unit='Bohr', spin=None, verbose=0)
    auxmol.build(False, False)
    return auxmol


def sample_on_grid(fn, grid, blksize=32768):
    """Evaluate ``fn(coords)`` over the grid in blocks; returns an array of grid.shape."""
    out = np.empty(grid.size)
    for start, stop, coords in grid.chunks(blksize):
        out[start:stop] = fn(coords)
    return out.reshape(grid.shape)


def core_weight(coords_bohr, atom_coords_bohr, core_radius_bohr):
    """Fit weight: ~0 within ``core_radius_bohr`` of any nucleus, 1 beyond.

    Near a nucleus the residual varies on a scale (~0.1 bohr) no grid of useful spacing
    resolves; the few grid points that happen to fall there would dominate a plain fit.
    """
    w = np.ones(len(coords_bohr))
    for center in atom_coords_bohr:
        r2 = np.einsum('gx,gx->g', coords_bohr - center, coords_bohr - center)
        w *= -np.expm1(-(r2 / core_radius_bohr ** 2) ** 3)
    return w


def fit_residual(auxmol, grid, residual_density, charge=0.0, core_radius_bohr=0.2,
                 fit_radius_bohr=np.inf):
    """Coefficients c with sum_P c_P chi_P closest to the grid residual, integral = ``charge``.

    Weighted least squares over the grid points (the grid's own Gram matrix, so aliasing of
    the sampled functions is consistent; core regions weighted out, see core_weight), with a
    Lagrange multiplier for the electron count.
    """
    naux = auxmol.nao
    gram = np.zeros((naux, naux))
    rhs = np.zeros(naux)
    values = np.asarray(residual_density).ravel()
    centers = auxmol.atom_coords()
    for start, stop, coords in grid.chunks(16384):
        # points farther than fit_radius_bohr from every atom are left out (default: none;
        # measured on glycine, dropping points beyond 4 bohr cost a cycle and 0.6 mHa)
        d2 = np.min([np.einsum('gx,gx->g', coords - c, coords - c) for c in centers], axis=0)
        near = d2 < fit_radius_bohr ** 2
        if not near.any():
            continue
        coords = coords[near]
        chi = auxmol.eval_gto('GTOval_sph', coords)
        wchi = chi * core_weight(coords, centers, core_radius_bohr)[:, None]
        gram += wchi.T @ chi
        rhs += wchi.T @ values[start:stop][near]
    q = atoms_mod.s_function_integrals(auxmol) / grid.voxel_volume
    # Eigen-decomposition: drop near-linear dependencies of the sampled basis.
    w, v = scipy.linalg.eigh(gram)
    keep = w > w.max() * 1e-7
    inv = (v[:, keep] / w[keep]) @ v[:, keep].T
    c0 = inv @ rhs
    lam = (q @ c0 - charge / grid.voxel_volume) / (q @ inv @ q)
    return c0 - lam * (inv @ q)


class PredictedDensity:
    """rho_pred(r) = sum_A rho_A^free(r) + sum_P c_P chi_P(r), in electrons/bohr^3.

    Attributes:
        mol : the molecule (real atoms define the free-atom part)
        grid : UniformGrid of the residual, or None
        residual_density : ndarray of grid.shape (e/bohr^3), the residual as predicted
        auxmol, coeff : the combined auxiliary basis (free atoms first) and coefficients
    """

    def __init__(self, mol, grid=None, residual_density=None, spacing_bohr=None):
        self.mol = mol
        self.grid = grid
        self.residual_density = residual_density
        atom_aux, atom_coeff = atoms_mod.atoms_auxmol(mol)
        self.n_atom_functions = atom_aux.nao
        # electrons the residual must supply: the molecule's count minus the neutral atoms'
        residual_charge = mol.nelectron - atom_coeff @ atoms_mod.s_function_integrals(atom_aux)
        if residual_density is None:      # free atoms only (neutral molecule)
            if abs(residual_charge) > 1e-8:
                raise ValueError('a charged molecule needs a residual density grid')
            self.auxmol, self.coeff = atom_aux, atom_coeff
        else:
            res_aux = residual_auxmol(mol)
            res_coeff = fit_residual(res_aux, grid, residual_density, residual_charge)
            self.auxmol = gto.mole.conc_mol(atom_aux, res_aux)
            self.coeff = np.concatenate([atom_coeff, res_coeff])

    @property
    def nelectron(self):
        return float(self.coeff @ atoms_mod.s_function_integrals(self.auxmol))

    def eval_rho(self, coords_bohr, deriv=0):
        """Density (N,) at points in bohr, or (4, N) with its gradient for deriv=1."""
        coords_bohr = np.asarray(coords_bohr, dtype=float)
        # shell screening per block of points (most Gaussians vanish far from their atom)
        mask = numint.make_mask(self.auxmol, coords_bohr)
        name = 'GTOval_sph' if deriv == 0 else 'GTOval_sph_deriv1'
        chi = self.auxmol.eval_gto(name, coords_bohr, non0tab=mask)
        return chi @ self.coeff

    def coulomb_matrix(self, mol, aux_per_block=64):
        """J_{mu nu} = (mu nu | rho_pred) in the basis of ``mol`` (Hartree)."""
        nao = mol.nao
        vj = np.zeros(nao * (nao + 1) // 2)
        auxmol = self.auxmol
        ao_loc = auxmol.ao_loc_nr()
        for b0 in range(0, auxmol.nbas, aux_per_block):
            b1 = min(b0 + aux_per_block, auxmol.nbas)
            int3c = df.incore.aux_e2(mol, auxmol, 'int3c2e', aosym='s2ij',
                                     shls_slice=(0, mol.nbas, 0, mol.nbas, b0, b1))
            vj += int3c @ self.coeff[ao_loc[b0]:ao_loc[b1]]
        return lib.unpack_tril(vj)

    def coulomb_energy(self):
        """E_J = 1/2 (rho_pred | rho_pred) in Hartree."""
        return 0.5 * self.coeff @ self.auxmol.intor('int2c2e') @ self.coeff
