"""The fitted residual as Cartesian Gaussians, and its fast evaluation at points (bohr).

Each spherical function of the auxiliary basis is a combination of Cartesian Gaussians
(x-X)^i (y-Y)^j (z-Z)^k exp(-a r^2); the fit (fit.py) and the evaluator here work on those.
"""
import functools

import numpy as np
import scipy.sparse
from pyscf import gto

from pyscf.deepscf.engine.auxbasis import gto_norms


def monomials(l):
    """The Cartesian powers (i, j, k), i + j + k = l, in PySCF's order."""
    return [(lx, ly, l - lx - ly) for lx in range(l, -1, -1) for ly in range(l - lx, -1, -1)]


@functools.lru_cache(maxsize=None)
def _unit_cartesian_block(l):
    """(2l+1, n_monomials) coefficients of PySCF's normalised real solid harmonics of one
    uncontracted shell of exponent 1 in Cartesian Gaussians; read off PySCF's own evaluation,
    so its normalisation conventions are respected exactly."""
    shell = gto.M(atom=[['X', (0., 0., 0.)]], basis={'X': [[l, [1.0, 1.0]]]}, unit='Bohr',
                  spin=None, verbose=0)
    pts = np.random.default_rng(7).normal(scale=0.5, size=(12, 3))
    values = shell.eval_gto('GTOval_sph', pts)                                   # (12, 2l+1)
    basis = np.stack([pts[:, 0]**i * pts[:, 1]**j * pts[:, 2]**k
                      for i, j, k in monomials(l)], 1)
    basis *= np.exp(-np.einsum('gx,gx->g', pts, pts))[:, None]
    return np.linalg.lstsq(basis, values, rcond=None)[0].T


def _cartesian_block(l, exponent):
    """_unit_cartesian_block for any exponent: only the radial normalisation changes."""
    return _unit_cartesian_block(l) * (gto_norms(l, exponent) / gto_norms(l, 1.0))


@functools.lru_cache(maxsize=None)
def _atom_cartesian_map(shells):
    """cartesian_map of one atom's shells ((l, exponent), ...): ([(exponent, monomial)],
    sparse block-diagonal transform)."""
    terms = [(a, m) for l, a in shells for m in monomials(l)]
    return terms, scipy.sparse.block_diag([_cartesian_block(l, a) for l, a in shells],
                                          format='csr')


def cartesian_map(auxmol):
    """Each aux function as a combination of Cartesian Gaussians (x-X)^i (y-Y)^j (z-Z)^k e^{-a r^2}.

    Returns (terms, transform): terms is a list of (atom, exponent, (i, j, k)) and
    transform (nao, nterms), sparse (CSR; a shell's functions use only its own terms), with
    chi_P = sum_t transform[P, t] * term_t.  Built per atom from a cache keyed by the atom's
    shells (the same for every atom of an element).
    """
    shells = [[] for _ in range(auxmol.natm)]
    for ib in range(auxmol.nbas):
        shells[auxmol.bas_atom(ib)].append((auxmol.bas_angular(ib), float(auxmol.bas_exp(ib)[0])))
    # PySCF keeps each atom's shells together and in atom order, as the functions are laid out
    assert all(np.diff(auxmol._bas[:, gto.ATOM_OF]) >= 0)
    terms, blocks = [], []
    for ia, atom_shells in enumerate(shells):
        atom_terms, block = _atom_cartesian_map(tuple(atom_shells))
        terms.extend((ia, a, m) for a, m in atom_terms)
        blocks.append(block)
    return terms, scipy.sparse.block_diag(blocks, format='csr')


class CartesianGaussianSum:
    """f(r) = sum_A sum_a sum_m C[A, a, m] (r - R_A)^m exp(-a |r - R_A|^2), fast to evaluate.

    The fitted residual is ~100 Gaussians per atom, but they share their atom's centre and a
    few exponents: per atom and point, the ~20 monomials contracted with the coefficients give
    one polynomial value per exponent, weighted by that exponent's Gaussian.  Even-tempered
    exponents with ratio 2 make each Gaussian the square of the previous one, so a point costs
    one exponential per atom.
    """

    def __init__(self, auxmol, coeff, cartesian_terms=None):
        terms, transform = cartesian_terms or cartesian_map(auxmol)
        term_coeff = transform.T @ np.asarray(coeff)
        self.centers = auxmol.atom_coords()
        self.exponents = np.array(sorted({a for _, a, _ in terms}))
        # Gaussians computed by squaring the previous one where the exponent doubles exactly
        self.squared = np.r_[False, self.exponents[1:] == 2 * self.exponents[:-1]]
        powers = sorted({m for _, _, m in terms}, key=lambda m: (sum(m), m[::-1]))
        index = {m: n for n, m in enumerate(powers)}
        e_index = {a: n for n, a in enumerate(self.exponents)}
        coeff = np.zeros((len(self.centers), len(self.exponents), len(powers)))
        for (ia, a, m), c in zip(terms, term_coeff):
            coeff[ia, e_index[a], index[m]] += c
        # each monomial (degree >= 1) as a lower one times a coordinate: (its index, parent, axis)
        self.recursion = []
        for n, m in enumerate(powers[1:], 1):
            k = next(k for k in range(3) if m[k] > 0)
            self.recursion.append((n, index[tuple(p - (j == k) for j, p in enumerate(m))], k))
        # d/dx [x^i y^j z^k e^{-a r^2}] = i x^(i-1) y^j z^k e^{-a r^2} - 2 a x (...): the first
        # term is the lower monomial with coefficient i, i.e. the coefficients times D_x
        lower = np.zeros((3, len(powers), len(powers)))
        for n, m in enumerate(powers):
            for k in range(3):
                if m[k] > 0:
                    lower[k, n, index[tuple(p - (j == k) for j, p in enumerate(m))]] = m[k]
        # per atom (monomials, component, exponent), components [f, a f, lowered d/dx, d/dy,
        # d/dz]; the value alone takes the first
        parts = np.stack([coeff, self.exponents[:, None] * coeff]
                         + [coeff @ lower[k] for k in range(3)], axis=1)   # (atom, 5, exp, mono)
        self.coeff = np.ascontiguousarray(parts.transpose(0, 3, 1, 2)).reshape(
            len(self.centers), len(powers), -1)
        self.n_monomials = len(powers)

    def gaussians(self, r2):
        """exp(-a r2) (N, n_exponents) for squared distances r2 (N,) in bohr^2."""
        g = np.empty((len(r2), len(self.exponents)))
        for k, (a, square) in enumerate(zip(self.exponents, self.squared)):
            g[:, k] = g[:, k - 1] ** 2 if square else np.exp(-a * r2)
        return g

    def __call__(self, coords_bohr, deriv=0):
        """Values (N,) at points in bohr, or (4, N) with the gradient for deriv=1."""
        coords_bohr = np.asarray(coords_bohr, dtype=float)
        out = np.zeros((4 if deriv else 1, len(coords_bohr)))
        nm, nexp = self.n_monomials, len(self.exponents)
        ncomp = 5 if deriv else 1
        for center, coeff in zip(self.centers, self.coeff):
            d = coords_bohr - center
            r2 = np.einsum('gx,gx->g', d, d)
            # beyond a r^2 = 40 the atom adds < 1e-17 r^3: skip those points where they are many
            # (selecting them costs a fifth of the evaluation)
            near = np.nonzero(r2 * self.exponents[0] < 40.)[0]
            subset = len(near) < 0.75 * len(r2)
            if subset:
                d, r2 = d[near], r2[near]
            dt = np.ascontiguousarray(d.T)
            mono = np.empty((nm, len(d)))
            mono[0] = 1.
            for n, parent, k in self.recursion:
                mono[n] = mono[parent] * dt[k]
            poly = (mono.T @ coeff[:, :ncomp * nexp]).reshape(len(d), ncomp, nexp)
            parts = np.einsum('gca,ga->cg', poly, self.gaussians(r2))
            if deriv:
                parts = np.vstack([parts[:1], parts[2:] - 2 * dt * parts[1]])
            if subset:
                out[:, near] += parts
            else:
                out += parts
        return out if deriv else out[0]
