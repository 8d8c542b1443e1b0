"""The least-squares fit of a residual density on a uniform grid to the auxiliary basis.

Weighted least squares over the grid points, with the grid's own (sampled) Gram matrix so that
the aliasing of tight functions is treated consistently, and a Lagrange multiplier for the
electron count.  One problem for the whole molecule: domain_fit.py cuts large molecules into
pieces that this fits one at a time.
"""
import numpy as np
import scipy.linalg
from pyscf import __config__

from pyscf.deepscf.engine import atoms as atoms_mod, memory
from pyscf.deepscf.engine.auxbasis import smoothed_auxmol
from pyscf.deepscf.engine.cartesian import cartesian_map

# Ridge of the fit, relative to the largest diagonal entry of the Gram matrix: against the
# near-linear dependencies of the sampled basis
FIT_RIDGE = getattr(__config__, 'deepscf_fit_ridge', 1e-7)


def core_weight(coords_bohr, atom_coords_bohr, core_radius_bohr):
    """Fit weight: ~0 within ``core_radius_bohr`` of any nucleus, 1 beyond.

    The residual varies on a scale of ~0.1 bohr there; the few grid points that happen to
    fall that close to a nucleus would dominate a plain fit.
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

    NumPy's factorization, not SciPy's: SciPy links a second OpenBLAS whose threads compete
    with the spinning threads of NumPy's right after the fit's products.
    """
    try:
        # the transposed (upper, Fortran-ordered) factor: LAPACK takes it without a copy
        return scipy.linalg.cho_solve((np.linalg.cholesky(gram).T, False), rhs,
                                      check_finite=False)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(gram)
        keep = w > rel_cutoff * w[-1]
        return v[:, keep] @ ((v[:, keep].T @ rhs) / w[keep, None])


def fit_residual(auxmol, grid, residual_density, charge=0.0, core_radius_bohr=0.2,
                 cartesian_terms=None, smoothing_bohr=0.0, ridge=FIT_RIDGE):
    """Coefficients c with sum_P c_P chi_P closest to the grid residual (e/bohr^3), whose
    integral is ``charge`` electrons.

    ``smoothing_bohr`` > 0: the grid holds the residual smoothed by a Gaussian of that standard
    deviation (grid.smoothed_point_charges), and the functions are fitted smoothed the same way
    (auxbasis.smoothed_auxmol); such a grid keeps the charge of the sharp near-nucleus residual
    that point values miss, so no point is down-weighted.  Point values are weighted by
    core_weight (``core_radius_bohr``).

    On a uniform grid a Cartesian Gaussian factorizes into three 1D factors, so the projections
    and the Gram matrix are tensor contractions: cost ~ grid points x distinct 1D factors,
    instead of grid points x functions^2.  ``cartesian_terms``: cartesian.cartesian_map(auxmol),
    when the caller has it already.  ``ridge``: added to the Gram matrix's diagonal, relative
    to its largest entry.
    """
    if smoothing_bohr > 0:
        smoothed, scale = smoothed_auxmol(auxmol, smoothing_bohr)
        return fit_residual(smoothed, grid, residual_density, charge, core_radius_bohr=0.,
                            ridge=ridge) / scale
    terms, transform = cartesian_terms or cartesian_map(auxmol)
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
    # rhs_t = sum_ijk r_ijk fx[i, ix_t] fy[j, iy_t] fz[k, iz_t], contracted axis by axis: over
    # z for every z-factor, then over y for the y-factors each z-factor meets, then over x
    rz = (fz.T @ r.reshape(-1, r.shape[2]).T).reshape(-1, r.shape[0], r.shape[1])  # (nkeys, nx, ny)
    rhs = np.empty(len(terms))
    by_z = {}
    for t in range(len(terms)):
        by_z.setdefault(iz[t], []).append(t)
    for jz, ts in by_z.items():
        jys, pos = np.unique(iy[ts], return_inverse=True)
        ryz = rz[jz] @ fy[:, jys]                               # (nx, distinct y-factors)
        rhs[ts] = np.einsum('it,it->t', fx[:, ix[ts]], ryz[:, pos])
    sx, sy, sz = (f.T @ f for f in factors)
    # gram = T G_terms Tᵀ with G_terms = (Sx ∘ Sy ∘ Sz)[terms, terms]; T is block diagonal by
    # atom, so T G_terms is built from the rows of G_terms of one atom at a time and G_terms
    # (4 copies of nterms² in products) is never held whole
    atom_of_term = np.array([t[0] for t in terms])
    term_start = np.searchsorted(atom_of_term, np.arange(auxmol.natm + 1))
    functions = auxmol.aoslice_by_atom()[:, 2:4]
    # each atom's block of T as a dense matrix (~100 x 120): the products below are then BLAS
    # calls, where SciPy's sparse product runs on one thread at a fraction of the speed
    blocks = []
    for ia in range(auxmol.natm):
        own = slice(term_start[ia], term_start[ia + 1])
        f0, f1 = functions[ia]
        blocks.append((slice(f0, f1), own, transform[f0:f1, own].toarray()))
    tg = np.empty((auxmol.nao, len(terms)))
    for funcs, own, t_atom in blocks:
        rows = sx[np.ix_(ix[own], ix)] * sy[np.ix_(iy[own], iy)] * sz[np.ix_(iz[own], iz)]
        tg[funcs] = t_atom @ rows
    gram = np.empty((auxmol.nao, auxmol.nao))
    for funcs, own, t_atom in blocks:      # (T G Tᵀ)[funcs] = T_atom (T G)[:, own]ᵀ
        gram[funcs] = t_atom @ tg[:, own].T
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
    # the ridge keeps the Gram matrix positive definite, so that Cholesky (far cheaper than an
    # eigen-decomposition) solves it
    gram[np.diag_indices_from(gram)] += ridge * gram.diagonal().max()
    c0, gq = _solve_positive(gram, np.stack([rhs, q], axis=1)).T
    lam = (q @ c0 - charge / grid.voxel_volume) / (q @ gq)
    return c0 - lam * gq
