"""Fock matrix in the user's basis from a predicted density (all quantities in Hartree atomic units).

F = h + J[rho] + V_xc[rho] - 1/2 K_eff[D_x]

J and V_xc come from the analytic predicted density (density.PredictedDensity); exact exchange
needs a density matrix D_x and is taken from the one the caller passes (solver.solve says
which).  Meta-GGAs need the kinetic energy density tau, which a density alone does not give:
it is taken from D_x as well.
"""
import numpy as np
from pyscf import df, lib, scf
from pyscf.dft import numint
from pyscf.lib import logger

from pyscf.deepscf.engine import atoms, timing


# the timing step of a fitting tensor the guess builds for a density-fitted SCF, which the SCF
# then reuses: not the guess's own cost (bench.py, benchmarks/guess_profile.py)
SHARED_TENSOR_STEP = 'DF tensor (shared with the SCF)'
# the same for the two-electron integrals of an SCF that keeps them in memory (small molecules)
SHARED_ERI_STEP = 'integrals (shared with the SCF)'
SHARED_STEPS = (SHARED_TENSOR_STEP, SHARED_ERI_STEP)


def total_dm(dm, nao):
    """Spatial total density matrix (nao, nao) of an RHF, UHF/ROHF (2, n, n) or GHF (2n, 2n) one."""
    dm = np.asarray(dm)
    if dm.ndim == 3:
        return dm[0] + dm[1]
    if dm.shape[0] == 2 * nao:
        return dm[:nao, :nao] + dm[nao:, nao:]
    return dm


def is_kohn_sham(mf):
    return hasattr(mf, 'xc') and hasattr(mf, '_numint')


def exchange_coefficients(mf):
    """(omega, alpha, hyb) of the method: HF is (0, 0, 1); a pure functional has hyb = alpha = 0."""
    if not is_kohn_sham(mf):
        return 0.0, 0.0, 1.0
    return mf._numint.rsh_and_hybrid_coeff(mf.xc, spin=mf.mol.spin)


def semilocal_exchange_substitute(mf):
    """A semilocal stand-in for the exact exchange of a hybrid, as an xc string for PySCF, or
    None (HF, a pure functional, a meta-GGA): B88 exchange (Slater for an LDA hybrid) scaled
    by the exact-exchange fraction (the short-range one of a range-separated hybrid, the
    long-range one of a purely long-range one).  Used for the first diagonalization only."""
    if not is_kohn_sham(mf):
        return None
    xctype = mf._numint._xc_type(mf.xc)
    omega, alpha, hyb = exchange_coefficients(mf)
    fraction = hyb if hyb != 0 else alpha
    if fraction == 0 or xctype not in ('LDA', 'GGA'):
        return None
    return f'{fraction!r}*{"SLATER" if xctype == "LDA" else "B88"}'


def get_k(mf, dm):
    """Exact-exchange matrix K_eff of the total density matrix ``dm``, scaled as PySCF's KS does.

    The Fock matrix gets -1/2 K_eff and the energy -1/4 Tr(dm K_eff).  Uses the mean-field
    object's own get_k, so density fitting and range separation follow the user's settings.
    """
    omega, alpha, hyb = exchange_coefficients(mf)
    mol = mf.mol
    if isinstance(mf, scf.ghf.GHF):     # its get_k wants spin-orbital matrices
        def k_of(dm, omega=None):
            return scf.hf.get_jk(mol, dm, hermi=1, with_j=False, omega=omega)[1]
    else:
        def k_of(dm, omega=None):
            return mf.get_k(mol, dm, hermi=1, omega=omega)
    vk = 0
    if omega == 0:
        if hyb != 0:
            vk = hyb * k_of(dm)
    elif alpha == 0:           # short-range exchange only
        vk = hyb * k_of(dm, omega=-omega)
    elif hyb == 0:             # long-range exchange only
        vk = alpha * k_of(dm, omega=omega)
    else:
        vk = hyb * k_of(dm)
        vk = vk + (alpha - hyb) * k_of(dm, omega=omega)
    return np.zeros((mol.nao,) * 2) if np.isscalar(vk) else vk


def fock_grids(mol, level, small_rho_cutoff=1e-7):
    """A DFT grid of ``level`` for the Fock build (level 1 serves the guess and NonSCF as
    well as the SCF's own level 3: docs/how_it_works.md).

    Points are dropped where the free atoms' density times the weight is below
    ``small_rho_cutoff`` / (number of points), PySCF's rule for its own SCF grids
    (dft.rks.prune_small_rho_grids_, which uses the guess density); 0 keeps them all.  The
    grid is sorted into compact blocks with PySCF's mask of the basis shells that reach each
    block, so V_xc costs grow with the molecule like the SCF's own.
    """
    from pyscf.dft import gen_grid
    grids = gen_grid.Grids(mol)
    grids.level = level
    grids.verbose = 0
    grids.build(with_non0tab=False)
    if small_rho_cutoff > 0:
        # |rho w| as PySCF: Becke weights of levels >= 2 can be negative, and dropping those
        # points while keeping their positive neighbours biases every integral
        rho_weight = np.abs(atoms.molecule_density_on_points(mol, grids.coords) * grids.weights)
        keep = rho_weight > small_rho_cutoff / grids.weights.size
        grids.coords = grids.coords[keep]
        grids.weights = grids.weights[keep]
        grids.atm_idx = grids.atm_idx[keep]
        grids.quadrature_weights = grids.quadrature_weights[keep]
        # PySCF's sparse kernels want the point count aligned: pad with zero-weight points
        # as Grids.prune_by_density_ does
        padding = -len(grids.weights) % max(grids.alignment, 1)
        if padding:
            grids.coords = np.vstack([grids.coords, np.full((padding, 3), 1e-4)])
            grids.weights = np.concatenate([grids.weights, np.zeros(padding)])
            grids.atm_idx = np.concatenate([grids.atm_idx, np.full(padding, -1, np.int32)])
            grids.quadrature_weights = np.concatenate([grids.quadrature_weights,
                                                       np.zeros(padding)])
        grids.coords = np.ascontiguousarray(grids.coords)
    grids.non0tab = grids.screen_index = grids.make_mask(mol, grids.coords)
    return grids


class _XCMatrix:
    """Accumulates a V_xc matrix block by block with PySCF's sparse kernels (the shells each
    block of points reaches), as numint.nr_rks does."""

    def __init__(self, mol, grids, ni, xctype):
        self.xctype = xctype
        self.ao_loc = mol.ao_loc_nr()
        cutoff = grids.cutoff * 1e2
        self.nbins = numint.NBINS * 2 - int(numint.NBINS * np.log(cutoff) / np.log(grids.cutoff))
        self.pair_mask = mol.get_overlap_cond() < -np.log(ni.cutoff)
        self.vmat = np.zeros((mol.nao,) * 2)
        self._aow = None

    def add(self, ao, wv, mask):
        """Add the block's matrix: ao from eval_ao (deriv 0 for LDA, else 1), wv the weighted
        derivatives of the functional from eval_xc_eff (modified)."""
        args = (self.nbins, mask, self.pair_mask, self.ao_loc)
        if self.xctype == 'LDA':
            numint._dot_ao_ao_sparse(ao, ao, wv.reshape(-1), *args, hermi=0, out=self.vmat)
            return
        wv[0] *= .5                       # the half that the symmetrization in matrix() doubles
        self._aow = numint._scale_ao_sparse(ao[:4], wv[:4], mask, self.ao_loc, out=self._aow)
        numint._dot_ao_ao_sparse(ao[0], self._aow, None, *args, hermi=0, out=self.vmat)
        if self.xctype == 'MGGA':         # tau = 1/2 sum_i |grad phi_i|^2, half before symmetrizing
            for x in (1, 2, 3):
                numint._dot_ao_ao_sparse(ao[x], ao[x], .25 * wv[4], *args, hermi=0,
                                         out=self.vmat)

    def matrix(self):
        return self.vmat if self.xctype == 'LDA' else self.vmat + self.vmat.T


# Where the predicted residual nearly cancels the free atoms (outer tails), the predicted density
# crosses zero with a gradient no bound density has, and a GGA's potential there is arbitrary.
# Such points get no exchange-correlation: the density is negative, or below TAIL_DENSITY and
# falling off faster than MAX_DECAY_PER_BOHR, which no bound density does (docs/experiments.md,
# "Unphysical tails in V_xc").
TAIL_DENSITY = 1e-4                 # e/bohr^3
MAX_DECAY_PER_BOHR = 50.0           # |grad rho| / rho


def unphysical_points(rho):
    """Boolean mask of the grid points where the density ``rho`` (eval_rho's output: (N,) or
    (4+, N) with the gradient) is negative or decays faster than a bound density can."""
    if rho.ndim == 1:                 # LDA: no gradient to judge by
        return rho < 0
    rho0 = rho[0]
    grad = np.sqrt(rho[1] ** 2 + rho[2] ** 2 + rho[3] ** 2)
    return (rho0 < 0) | ((rho0 < TAIL_DENSITY) & (grad > MAX_DECAY_PER_BOHR * rho0))


# V_xc goes over blocks of points whose AO values take at most this many MB: larger blocks are
# no faster and pay for their first touch of fresh memory (icosane, level-0 grid, two threads:
# 1.4 s in one block of 680 MB, 0.9 s in blocks of 300 MB)
XC_BLOCK_MB = 300


def xc_from_density(mf, density, dm_tau=None, grids=None, extra_xc=None, extra_apart=True):
    """Exchange-correlation energy and matrix of the predicted density on ``grids``
    (default ``mf.grids``).

    Points of an unphysical density (unphysical_points) count for nelec only.

    Returns (nelec, exc, int_vrho, vxc): electrons by quadrature, E_xc[rho], the integral
    int v_xc rho (the double-counting term of the Harris functional; for meta-GGAs it
    includes int v_tau tau) and the V_xc matrix (nao, nao).  Spin-restricted: the guess
    and the Harris energy use the total density.  With ``extra_xc`` (an LDA or GGA xc string,
    not beyond the method's own type) a fifth item: the matrix of that functional too, from
    the same pass over the grid; with ``extra_apart=False`` no fifth item, and vxc is the
    matrix of the sum of both functionals (one contraction instead of two; exc and int_vrho
    stay the method's).
    """
    mol, ni = mf.mol, mf._numint
    if grids is None:
        grids = mf.grids
    xctype = ni._xc_type(mf.xc)
    if grids.coords is None:
        grids.build(with_non0tab=True)
        if getattr(mf, 'small_rho_cutoff', 0) > 1e-20:
            block = 8192     # points per evaluation of the predicted density
            rho = np.concatenate([density.eval_rho(grids.coords[i:i + block])
                                  for i in range(0, len(grids.weights), block)])
            grids.prune_by_density_(rho, mf.small_rho_cutoff)
    nao = mol.nao
    nelec = exc = int_vrho = 0.0
    if xctype in ('HF', None) or mf.xc.strip().upper() in ('HF', ''):
        zero = np.zeros((nao, nao))
        return (nelec, exc, int_vrho, zero) + ((zero.copy(),) if extra_xc else ())
    extra_type = ni._xc_type(extra_xc) if extra_xc else None
    vmat = _XCMatrix(mol, grids, ni, xctype)
    v_extra = _XCMatrix(mol, grids, ni, extra_type) if extra_xc and extra_apart else None
    deriv = 0 if xctype == 'LDA' else 1
    max_memory = min(XC_BLOCK_MB, max(100, getattr(mf, 'max_memory', 4000)
                                      - lib.current_memory()[0]))
    for ao, mask, weight, coords in ni.block_loop(mol, grids, nao, deriv, max_memory):
        rho = density.eval_rho(coords, deriv=deriv)
        rho0 = rho if rho.ndim == 1 else rho[0]
        nelec += weight @ rho0
        below = unphysical_points(rho)
        if below.any():
            rho = rho.copy()
            rho[..., below] = 0.0
        if xctype == 'MGGA':
            tau = 0.5 * sum(np.einsum('gi,ij,gj->g', ao[x], dm_tau, ao[x], optimize=True)
                            for x in (1, 2, 3)) if dm_tau is not None else 0 * rho[0]
            tau[below] = 0.0
            rho = np.vstack([rho, tau])
        exc_g, vxc = ni.eval_xc_eff(mf.xc, rho, deriv=1, xctype=xctype)[:2]
        rho0 = rho if rho.ndim == 1 else rho[0]
        exc += weight @ (rho0 * exc_g)
        wv = weight * vxc
        int_vrho += wv.ravel() @ rho0 if xctype == 'LDA' else np.einsum('xg,xg->', wv, rho)
        if extra_xc:       # before vmat.add, which scales wv in place
            extra_rho = rho0 if extra_type == 'LDA' else rho[:4]
            extra_ao = ao if xctype == 'LDA' else (ao[0] if extra_type == 'LDA' else ao[:4])
            v = ni.eval_xc_eff(extra_xc, extra_rho, deriv=1, xctype=extra_type)[1]
            if extra_apart:
                v_extra.add(extra_ao, weight * v, mask)
            else:
                wv[:len(v)] += weight * v
        vmat.add(ao, wv, mask)
    return (nelec, exc, int_vrho, vmat.matrix()) + ((v_extra.matrix(),) if v_extra else ())


def coulomb_matrix(mf, density, fitted=True):
    """J[rho_pred] (nao, nao): with ``fitted``, through the SCF's density fitting when it has
    one (the tensor the SCF reuses; coulomb.coulomb_matrix_df), else from three-centre
    integrals with the fit functions (coulomb.coulomb_matrix)."""
    with_df = getattr(mf, 'with_df', None)
    vj = None
    if (fitted and with_df is not None and isinstance(mf, df.df_jk._DFHF)
            and with_df.mol is mf.mol):
        if with_df._cderi is None:
            with timing.step(SHARED_TENSOR_STEP):
                with_df.build()
        with timing.step('J'):
            vj = density.coulomb_matrix_df(with_df)
    if vj is None:
        with timing.step('J'):
            vj = density.coulomb_matrix(mf.mol)
    return vj


def local_fock(mf, density, dm_tau=None, h1e=None, grids=None, extra_xc=None,
               fitted_coulomb=False, extra_apart=True):
    """h + J[rho] + V_xc[rho] (nao, nao), tagged as PySCF tags its V_xc with its energies:
    ``exc`` (E_xc[rho]), ``vxc_rho`` (int v_xc rho, the Harris functional's double counting;
    with int v_tau tau for meta-GGAs), ``nelec_grid`` (electrons by quadrature; None for
    HF) and ``v_extra`` (see below; else None).  All in Hartree.

    ``dm_tau`` (total density matrix) supplies the kinetic energy density of meta-GGAs.  With
    ``extra_xc`` (see xc_from_density) ``v_extra`` holds that functional's matrix
    (``extra_apart=False``: it is added to the Fock matrix instead).  ``fitted_coulomb``: J
    through the density fitting of ``mf`` if it has one (coulomb_matrix); the Harris energy
    counts the exact E_J, so NonSCF keeps the exact J.
    """
    mol = mf.mol
    log = logger.new_logger(mf)
    t0 = (logger.process_clock(), logger.perf_counter())
    if h1e is None:
        h1e = mf.get_hcore(mol)
    fock = h1e + coulomb_matrix(mf, density, fitted_coulomb)
    t0 = log.timer_debug1('deepscf J from the predicted density', *t0)
    nelec = v_extra = None
    exc = vxc_rho = 0.0
    if is_kohn_sham(mf):
        with timing.step('V_xc'):
            nelec, exc, vxc_rho, vxc, *extra = xc_from_density(mf, density, dm_tau, grids,
                                                               extra_xc, extra_apart)
        if extra:
            v_extra = extra[0]
        fock = fock + vxc
        log.timer_debug1('deepscf V_xc from the predicted density', *t0)
    return lib.tag_array(fock, exc=exc, vxc_rho=vxc_rho, nelec_grid=nelec, v_extra=v_extra)


def exchange_fock(mf, dm_exchange):
    """(-1/2 K_eff[D_x], E_K[D_x]) for hybrids and HF; (0, 0) for pure functionals."""
    omega, alpha, hyb = exchange_coefficients(mf)
    if hyb == 0 and alpha == 0:
        return 0.0, 0.0
    if dm_exchange is None:
        raise ValueError('exact exchange needs a density matrix (dm_exchange)')
    with timing.step('K'):
        vk = get_k(mf, dm_exchange)     # as given: its orbital tags speed up density fitting
    return -0.5 * vk, -0.25 * np.einsum('ij,ji->', dm_exchange, vk)


def with_energy_tags(fock, local, ek):
    """``fock`` tagged with local_fock's ``exc`` and ``vxc_rho`` (of ``local``) and with
    ``ek``, the exchange energy E_K[D_x] of the matrix D_x that made its exact exchange: the
    pieces the Harris functional of the density needs (nonscf.harris_energies)."""
    return lib.tag_array(fock, exc=local.exc, vxc_rho=local.vxc_rho, ek=ek)
