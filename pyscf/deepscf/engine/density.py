"""Predicted density: free atoms (analytic) plus a residual density fitted to Gaussians.

The residual density (electrons/bohr^3) comes on a uniform grid; it is projected onto an
atom-centred auxiliary Gaussian basis with the electron count fixed, so that the whole density
rho_pred = sum_A rho_A + sum_P c_P chi_P is analytic: its value and gradient anywhere, its
Coulomb potential from three-centre integrals.
"""
import functools

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.special
from pyscf import df, gto, lib

from pyscf.deepscf.engine import atoms as atoms_mod, memory

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


def residual_auxmol(mol, max_exponent=50., ratio=2.0, lmax=3, hydrogen_max_exponent=12.5,
                    hydrogen_lmax=2):
    """Auxiliary basis for the residual density on the real atoms of ``mol``.

    Heavy atoms get s, p, d and f shells up to ``max_exponent`` (bohr^-2).  The f shells carry
    the angular shape of the bonding density (a tetrahedral atom's bonds have an xyz
    component): measured on glycine, the exact residual sampled on the 0.3 bohr grid and
    fitted without them is 3.1 % NMAE from the SCF density, with them 0.6 %, and the network's
    prediction 4.5 % against 3.2 %.  Tight functions absorb the near-nucleus part of the
    residual that the grid samples only at a few points (glycine at 0.3 bohr: 8 SCF cycles
    with them, 10 without).  Hydrogen, which has no core, gets s, p, d up to
    ``hydrogen_max_exponent`` (50 functions instead of 110): the same SCF cycles from the
    guess on methanol, glycine, pyridine and urea (oracle and network) and NonSCF energies
    within 0.1 mHa; leaner still (s, p up to 8) cost 2 cycles and 1.3 mHa on glycine.
    """
    idx = atoms_mod.real_atoms(mol)
    symbols = atoms_mod.atom_symbols(mol)
    basis = {s: even_tempered_shells(max_exponent, ratio=ratio, lmax=lmax) for s in set(symbols)}
    if 'H' in basis:
        basis['H'] = even_tempered_shells(hydrogen_max_exponent, ratio=ratio, lmax=hydrogen_lmax)
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


def _monomials(l):
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
                      for i, j, k in _monomials(l)], 1)
    basis *= np.exp(-np.einsum('gx,gx->g', pts, pts))[:, None]
    return np.linalg.lstsq(basis, values, rcond=None)[0].T


def _cartesian_block(l, exponent):
    """_unit_cartesian_block for any exponent: only the radial normalisation changes."""
    return _unit_cartesian_block(l) * (_gto_norms(l, exponent) / _gto_norms(l, 1.0))


@functools.lru_cache(maxsize=None)
def _atom_cartesian_map(shells):
    """_cartesian_map of one atom's shells ((l, exponent), ...): ([(exponent, monomial)],
    sparse block-diagonal transform)."""
    terms = [(a, m) for l, a in shells for m in _monomials(l)]
    return terms, scipy.sparse.block_diag([_cartesian_block(l, a) for l, a in shells],
                                          format='csr')


def _cartesian_map(auxmol):
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
    one exponential per atom (NumPy's exp was two thirds of the evaluation).  Acetone on a
    level-1 DFT grid (35k points, value and gradient): 0.17 s grouping by exponent first, 0.09 s
    so; eval_gto on every function was 3.3 s for acetanilide.
    """

    def __init__(self, auxmol, coeff, cartesian_map=None):
        terms, transform = cartesian_map or _cartesian_map(auxmol)
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


def core_weight(coords_bohr, atom_coords_bohr, core_radius_bohr):
    """Fit weight: ~0 within ``core_radius_bohr`` of any nucleus, 1 beyond.

    The residual varies on a scale of ~0.1 bohr there; the few grid points that happen to
    fall that close to a nucleus would dominate a plain fit (measured on glycine at 0.3 bohr,
    core_radius 0.2: 8 SCF cycles and 0.08 mHa NonSCF error, against 10 and 4.3 without).
    """
    w = np.ones(len(coords_bohr))
    for center in atom_coords_bohr:
        r2 = np.einsum('gx,gx->g', coords_bohr - center, coords_bohr - center)
        w *= -np.expm1(-(r2 / core_radius_bohr ** 2) ** 3)
    return w


def _points_near_nuclei(grid, centers, radius_bohr):
    """Flat indices of grid points within ``radius_bohr`` of any of ``centers``."""
    found = []
    for c in centers:
        box = grid.sub_box(c, radius_bohr)
        if box is None:
            continue
        ijk = np.stack(np.meshgrid(*[np.arange(b.start, b.stop) for b in box], indexing='ij'),
                       -1).reshape(-1, 3)
        pts = grid.origin_bohr + grid.spacing_bohr * ijk
        keep = np.einsum('gx,gx->g', pts - c, pts - c) <= radius_bohr ** 2
        found.append(np.ravel_multi_index(ijk[keep].T, grid.shape))
    return np.unique(np.concatenate(found)) if found else np.zeros(0, int)


def _solve_positive(gram, rhs, rel_cutoff=1e-10):
    """gram^-1 rhs for a symmetric positive semi-definite Gram matrix: Cholesky, or, where
    rounding makes it indefinite (nearly dependent functions), the eigenvectors above
    ``rel_cutoff`` of the largest eigenvalue.

    NumPy's factorization, not SciPy's: SciPy links a second OpenBLAS whose threads competed
    with the spinning threads of NumPy's right after the fit's products (glycine: 0.10 s
    against 0.02 s for the same 1100 x 1100 factorization).
    """
    try:
        return scipy.linalg.cho_solve((np.linalg.cholesky(gram), True), rhs)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(gram)
        keep = w > rel_cutoff * w[-1]
        return v[:, keep] @ ((v[:, keep].T @ rhs) / w[keep, None])


def smoothed_auxmol(auxmol, smoothing_bohr):
    """(smoothed, scale): each function of ``auxmol`` convolved with a normalized Gaussian of
    standard deviation ``smoothing_bohr``, as a basis of the same shape.

    A solid-harmonic Gaussian r^l Y_lm exp(-a r^2) convolved with (b/pi)^(3/2) exp(-b r^2),
    b = 1 / (2 sigma^2), is (a'/a)^(l+3/2) r^l Y_lm exp(-a' r^2) with 1/a' = 1/a + 1/b (a
    product of Gaussians in Fourier space).  ``smoothed`` holds the normalized functions of
    exponent a'; chi_P convolved = scale[P] * smoothed_P, and integrals are unchanged.
    """
    b = 1. / (2. * smoothing_bohr ** 2)
    smoothed = auxmol.copy(deep=False)
    smoothed._env = auxmol._env.copy()
    l = auxmol._bas[:, gto.ANG_OF]
    exp_ptr, coeff_ptr = auxmol._bas[:, gto.PTR_EXP], auxmol._bas[:, gto.PTR_COEFF]
    a = auxmol._env[exp_ptr]
    a_smooth = a * b / (a + b)
    norm, norm_smooth = _gto_norms(l, a), _gto_norms(l, a_smooth)
    smoothed._env[exp_ptr] = a_smooth
    smoothed._env[coeff_ptr] = norm_smooth
    scale = (a_smooth / a) ** (l + 1.5) * norm / norm_smooth
    return smoothed, np.repeat(scale, 2 * l + 1)


def _gto_norms(l, exponent):
    """gto.gto_norm for arrays of angular momenta and exponents: 1 / sqrt(int_0^inf r^(2l+2)
    exp(-2 a r^2) dr) = sqrt(2 (2a)^(l+3/2) / Gamma(l+3/2))."""
    return np.sqrt(2 * (2 * exponent) ** (l + 1.5) / scipy.special.gamma(l + 1.5))


# Ridge of the fit, relative to the largest diagonal entry of the Gram matrix: against the
# near-linear dependencies of the sampled basis.
RIDGE = 1e-7


# Above this many functions (about 50 atoms) the fit goes domain by domain (domain_fit): at
# 68-101 atoms it is 2-12x faster (domain_fit's docstring); below, the global fit is faster.
DENSE_FIT_MAX_FUNCTIONS = 4000


def fit_residual(auxmol, grid, residual_density, charge=0.0, core_radius_bohr=0.2,
                 cartesian_map=None, smoothing_bohr=0.0, method='auto'):
    """Coefficients c with sum_P c_P chi_P closest to the grid residual, integral = ``charge``.

    ``smoothing_bohr`` > 0: the grid holds the residual smoothed by a Gaussian of that standard
    deviation (grid.smoothed_point_charges), and the functions are fitted smoothed the same way
    (smoothed_auxmol).  Such a grid keeps the charge of the sharp near-nucleus residual that
    point values at a 0.3 bohr spacing miss, so no point is down-weighted.  Measured with the
    exact PBE/def2-SVP residual of glycine at 0.3 bohr: error of J in the occupied-virtual block
    6.3e-3 with point values, 8.1e-4 smoothed with sigma 0.2 bohr; 8 and 6 SCF cycles.

    Weighted least squares over the grid points (weights from core_weight), with the grid's
    own (sampled) Gram matrix so that the aliasing of tight functions is treated consistently,
    and a Lagrange multiplier for the electron count.  On a uniform grid a Cartesian Gaussian factorizes into three 1D factors,
    so the projections and the Gram matrix are tensor contractions: cost ~ grid points x
    distinct 1D factors, instead of grid points x functions^2.  ``cartesian_map``:
    _cartesian_map(auxmol), when the caller has it already.

    ``method``: 'dense' (one least-squares problem), 'domains' (overlapping domains,
    domain_fit.fit_residual_by_domains: time and memory linear in the atoms), or 'auto':
    domains above DENSE_FIT_MAX_FUNCTIONS functions.
    """
    if method not in ('auto', 'dense', 'domains'):
        raise ValueError(f"fit_residual: method must be 'auto', 'dense' or 'domains', not {method!r}")
    if method == 'domains' or (method == 'auto' and auxmol.nao > DENSE_FIT_MAX_FUNCTIONS):
        from pyscf.deepscf.engine import domain_fit
        dense = functools.partial(fit_residual, core_radius_bohr=core_radius_bohr,
                                  smoothing_bohr=smoothing_bohr, method='dense')
        return domain_fit.fit_residual_by_domains(dense, auxmol, grid, residual_density, charge)
    if smoothing_bohr > 0:
        smoothed, scale = smoothed_auxmol(auxmol, smoothing_bohr)
        return fit_residual(smoothed, grid, residual_density, charge, core_radius_bohr=0.,
                            method='dense') / scale
    terms, transform = cartesian_map or _cartesian_map(auxmol)
    axes = grid.axes()
    centers = auxmol.atom_coords()
    # distinct 1D factors (atom, exponent, power) and, per term, its factor in x, y, z
    keys = sorted({(ia, a, p) for ia, a, m in terms for p in m})
    # the largest arrays below: the grid contracted over z, T G_terms, the Gram matrix (twice)
    memory.require(8 * (grid.shape[0] * grid.shape[1] * len(keys) + auxmol.nao * len(terms)
                        + 2 * auxmol.nao ** 2),
                   f'the fit of the residual ({auxmol.natm} atoms, {auxmol.nao} functions, '
                   f'grid {grid.shape})')
    index = {k: n for n, k in enumerate(keys)}
    factors = []
    for dim in range(3):
        f = np.empty((len(axes[dim]), len(keys)))
        for n, (ia, a, p) in enumerate(keys):
            x = axes[dim] - centers[ia, dim]
            f[:, n] = x ** p * np.exp(-a * x * x)
        factors.append(f)
    ix, iy, iz = (np.array([index[(ia, a, m[dim])] for ia, a, m in terms]) for dim in range(3))
    fx, fy, fz = factors
    r = np.asarray(residual_density, dtype=float)
    # rhs_t = sum_ijk r_ijk fx[i, ix_t] fy[j, iy_t] fz[k, iz_t], contracted axis by axis over
    # the distinct (x-factor, y-factor) pairs
    rz = r.reshape(-1, r.shape[2]) @ fz                        # (nx*ny, nkeys)
    rz = rz.reshape(r.shape[0], r.shape[1], -1)
    rhs = np.empty(len(terms))
    pairs = {}
    for t in range(len(terms)):
        pairs.setdefault((iy[t], iz[t]), []).append(t)
    for (jy, jz), ts in pairs.items():
        ryz = rz[:, :, jz] @ fy[:, jy]                          # (nx,)
        rhs[ts] = ryz @ fx[:, ix[ts]]
    sx, sy, sz = (f.T @ f for f in factors)
    # gram = T G_terms Tᵀ with G_terms = (Sx ∘ Sy ∘ Sz)[terms, terms]; T is block diagonal by
    # atom, so T G_terms is built from the rows of G_terms of one atom at a time and G_terms
    # (4 copies of nterms² in products) is never held whole: 300 atoms ~7 GB instead of ~19
    atom_of_term = np.array([t[0] for t in terms])
    term_start = np.searchsorted(atom_of_term, np.arange(auxmol.natm + 1))
    functions = auxmol.aoslice_by_atom()[:, 2:4]
    tg = np.empty((auxmol.nao, len(terms)))
    for ia in range(auxmol.natm):
        own = slice(term_start[ia], term_start[ia + 1])
        rows = sx[np.ix_(ix[own], ix)] * sy[np.ix_(iy[own], iy)] * sz[np.ix_(iz[own], iz)]
        f0, f1 = functions[ia]
        tg[f0:f1] = transform[f0:f1, own] @ rows
    gram = np.asarray((transform @ tg.T).T)            # G_terms is symmetric
    del tg
    rhs = transform @ rhs
    # the weights differ from 1 only at the few points next to a nucleus: correct for those
    near = _points_near_nuclei(grid, centers, 2 * core_radius_bohr) if core_radius_bohr > 0 else []
    if len(near):
        pts = grid.origin_bohr + grid.spacing_bohr * np.stack(np.unravel_index(near, grid.shape), 1)
        chi = auxmol.eval_gto('GTOval_sph', pts)
        wchi = chi * (1 - core_weight(pts, centers, core_radius_bohr))[:, None]
        gram -= wchi.T @ chi
        rhs -= wchi.T @ r.ravel()[near]
    q = atoms_mod.s_function_integrals(auxmol) / grid.voxel_volume
    # Ridge (RIDGE times the largest diagonal) against near-linear dependencies of the sampled
    # basis; a Cholesky solve is ~40x cheaper than an eigen-decomposition of the same matrix.
    gram[np.diag_indices_from(gram)] += RIDGE * gram.diagonal().max()
    c0, gq = _solve_positive(gram, np.stack([rhs, q], axis=1)).T
    lam = (q @ c0 - charge / grid.voxel_volume) / (q @ gq)
    return c0 - lam * gq

class PredictedDensity:
    """rho_pred(r) = sum_A rho_A^free(r) + sum_P c_P chi_P(r), in electrons/bohr^3.

    Attributes:
        mol : the molecule (real atoms define the free-atom part)
        grid : UniformGrid of the residual, or None
        residual_density : ndarray of grid.shape (e/bohr^3), the residual as predicted
        smoothing_bohr : 0 if residual_density holds point values; else the standard deviation
            of the Gaussian that smoothed it (see fit_residual)
        auxmol, coeff : the combined auxiliary basis (free atoms first) and coefficients
        residual_auxmol, residual_coeff : the residual's part of them (None: no residual)
    """

    def __init__(self, mol, grid=None, residual_density=None, smoothing_bohr=0.0):
        self.mol = mol
        self.grid = grid
        self.residual_density = residual_density
        self.smoothing_bohr = smoothing_bohr
        self.residual_auxmol = self.residual_coeff = None
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
            cartesian = _cartesian_map(res_aux)
            res_coeff = fit_residual(res_aux, grid, residual_density, residual_charge,
                                     cartesian_map=cartesian, smoothing_bohr=smoothing_bohr)
            self.auxmol = gto.mole.conc_mol(atom_aux, res_aux)
            self.coeff = np.concatenate([atom_coeff, res_coeff])
            self.residual_auxmol, self.residual_coeff = res_aux, res_coeff
            self._residual = CartesianGaussianSum(res_aux, res_coeff, cartesian)

    @property
    def nelectron(self):
        return float(self.coeff @ atoms_mod.s_function_integrals(self.auxmol))

    def eval_rho(self, coords_bohr, deriv=0):
        """Density (N,) at points in bohr, or (4, N) with its gradient for deriv=1.

        The free atoms come from their radial tables (atoms.density_on_points), the residual
        from its Gaussians: a free atom's ~40 primitives made up half the cost of V_xc.
        """
        coords_bohr = np.asarray(coords_bohr, dtype=float)
        rho = atoms_mod.molecule_density_on_points(self.mol, coords_bohr, deriv)
        if self.residual_auxmol is not None:
            rho = rho + self._residual(coords_bohr, deriv)
        return rho

    def coulomb_matrix(self, mol, block_mb=200):
        """J_{mu nu} = (mu nu | rho_pred) in the basis of ``mol`` (Hartree).

        Three-centre integrals in blocks of auxiliary shells of at most ``block_mb`` megabytes
        (one block for small molecules: blocks of 64 shells cost acetone a third more).
        """
        nao = mol.nao
        vj = np.zeros(nao * (nao + 1) // 2)
        auxmol, coeff = self.auxmol, self.coeff
        if mol.cart and not auxmol.cart:     # libcint pairs Cartesian functions only alike
            coeff = auxmol.cart2sph_coeff() @ coeff
            auxmol = auxmol.copy(deep=False)
            auxmol.cart = True
        ao_loc = auxmol.ao_loc_nr()
        per_block = max(1, int(block_mb * 1e6 / 8 / len(vj)))      # auxiliary functions
        b0 = 0
        while b0 < auxmol.nbas:
            b1 = max(b0 + 1, int(np.searchsorted(ao_loc, ao_loc[b0] + per_block, 'right')) - 1)
            b1 = min(b1, auxmol.nbas)
            int3c = df.incore.aux_e2(mol, auxmol, 'int3c2e', aosym='s2ij',
                                     shls_slice=(0, mol.nbas, 0, mol.nbas, b0, b1))
            vj += int3c @ coeff[ao_loc[b0]:ao_loc[b1]]
            b0 = b1
        return lib.unpack_tril(vj)

    def coulomb_matrix_df(self, with_df):
        """J_{mu nu} = (mu nu|P) (P|Q)^-1 (Q|rho_pred) through a density-fitting object
        (``mf.with_df`` of a density-fitted SCF; Hartree), or None where that is not possible:
        Cartesian and spherical functions mixed, or a tensor made with a metric this cannot
        reproduce (a custom ``decompose_j2c``, a ``_cderi`` file of another fitting basis).

        The SCF's own DF tensor B = T (P|mu nu), T a factor of the inverse metric (the inverse
        Cholesky factor, or PySCF's eigen-decomposition where Cholesky fails), gives
        J = B^T T (Q|rho_pred) for the cost of a contraction: no three-centre integrals with
        the ~100 fit functions per atom, and the tensor, built here if needed, is the one the
        SCF then reuses.  Which T made the tensor is not recorded, so each candidate is checked
        against three-centre integrals of two shell pairs before it is used.
        """
        if with_df._cderi is None:
            with_df.build()
        auxmol = with_df.auxmol
        if auxmol is None or auxmol.cart != self.auxmol.cart:
            return None
        mol = with_df.mol
        j2c = auxmol.intor('int2c2e', hermi=1)
        q_rho = gto.intor_cross('int2c2e', auxmol, self.auxmol) @ self.coeff     # (Q|rho)
        pairs, exact = _sample_three_centre(mol, auxmol)
        b_sample = None
        for factor in _inverse_metric_factors(auxmol, j2c):
            d = factor(q_rho[:, None])[:, 0]
            vj, sample, p0 = 0, [], 0
            for cderi in with_df.loop():      # J and the sample of the tensor in one pass
                vj = vj + d[p0:p0 + len(cderi)] @ cderi
                if b_sample is None:
                    sample.append(cderi[:, pairs])
                p0 += len(cderi)
            if b_sample is None:
                b_sample = np.vstack(sample)
            if p0 == len(d) and np.abs(factor(exact) - b_sample).max() \
                    <= 1e-6 * max(np.abs(b_sample).max(), 1e-12):
                return lib.unpack_tril(vj)
        return None

    def coulomb_energy(self):
        """E_J = 1/2 (rho_pred | rho_pred) in Hartree."""
        return 0.5 * self.coeff @ self.auxmol.intor('int2c2e') @ self.coeff


def _inverse_metric_factors(auxmol, j2c):
    """Functions x -> T x for the factors T of the inverse metric (T^T T = (P|Q)^-1) that PySCF
    builds DF tensors with (df.incore): the inverse Cholesky factor where the metric allows
    one, then its eigen-decomposition (made only when asked for: an eigh of the metric)."""
    try:
        low = scipy.linalg.cholesky(j2c, lower=True)
        yield lambda x: scipy.linalg.solve_triangular(low, x, lower=True)
    except scipy.linalg.LinAlgError:
        pass
    eig = df.incore._eig_decompose(auxmol, j2c, df.incore.LINEAR_DEP_THR)
    yield lambda x: eig @ x


def _sample_three_centre(mol, auxmol):
    """(pair indices in PySCF's packed lower triangle, (P|pair) (naux, n)) of the first shell
    with itself and with the last: a check of a DF tensor's metric."""
    ao_loc = mol.ao_loc_nr()
    pairs, cols = [], []
    for ish in sorted({0, mol.nbas - 1}):
        block = df.incore.aux_e2(mol, auxmol, 'int3c2e', aosym='s1',
                                 shls_slice=(ish, ish + 1, 0, 1, 0, auxmol.nbas))
        block = np.asarray(block).reshape(ao_loc[ish + 1] - ao_loc[ish], ao_loc[1], auxmol.nao)
        for i in range(ao_loc[ish], ao_loc[ish + 1]):
            for j in range(0, min(ao_loc[1], i + 1)):
                pairs.append(i * (i + 1) // 2 + j)
                cols.append(block[i - ao_loc[ish], j])
    return np.array(pairs), np.array(cols).T
