"""From a predicted density to orbitals: one Fock build in the user's basis and a diagonalization.

Shared by the initial guess (guess.py) and the non-self-consistent solver (nonscf.py).
"""
import numpy as np
import scipy.linalg
from pyscf import lib, scf
from pyscf.lib import logger

from pyscf.deepscf.engine import fock as fock_mod, memory, symmetry, threads, timing
from pyscf.deepscf.engine.fock import total_dm

# Exact exchange needs a density matrix.  Measured (B3LYP/def2-SVP, oracle density at 0.3 bohr,
# water/methanol/urea/glycine): K from the orbitals of a first diagonalization ('two-step')
# gave 27 SCF cycles in all and NonSCF errors 0.02-0.33 mHa; K from the minao matrix gave 31
# cycles and 1-7 mHa; minao itself 36 cycles.  'semilocal': the first diagonalization with a
# semilocal stand-in for exact exchange (fock.semilocal_exchange_substitute), so one K build
# instead of two: oracle, 6 dev molecules, 41 cycles against two-step's 43; network, 10 dev
# molecules, 87 and 87; tyrosine's guess 8.0-8.9 s against 11.4-11.9 s (exact K, 2 cores).
# 'stand-in': the first diagonalization alone, no exact exchange at all (the guess's cheapest;
# see docs/measurements.md for its cycles against 'semilocal').
EXCHANGE_SCHEMES = ('two-step', 'minao', 'semilocal', 'stand-in')


def needs_density_matrix(mf):
    """True when the Fock build needs a density matrix besides the density (hybrid, HF, meta-GGA)."""
    omega, alpha, hyb = fock_mod.exchange_coefficients(mf)
    mgga = fock_mod.is_kohn_sham(mf) and mf._numint._xc_type(mf.xc) == 'MGGA'
    return hyb != 0 or alpha != 0 or mgga


def orthogonalizer(s1e, min_overlap_eigenvalue=1e-9):
    """(S^1/2, S^-1/2) of an overlap matrix, or None when the basis is nearly linearly
    dependent (S^-1/2 would amplify rounding; PySCF's own eigensolver handles that case)."""
    w, v = np.linalg.eigh(s1e)
    if w[0] < min_overlap_eigenvalue * w[-1]:
        return None
    return (v * np.sqrt(w)) @ v.T, (v / np.sqrt(w)) @ v.T


def with_natural_orbitals(dm, s_halves):
    """A total density matrix tagged with its natural orbitals and occupations.

    PySCF's density-fitted exchange then contracts the occupied orbitals instead of the whole
    matrix (acetanilide B3LYP/def2-SVP: 0.63 -> 0.38 s per K).  ``s_halves``: orthogonalizer(S);
    None leaves the matrix untagged.
    """
    if s_halves is None:
        return dm
    s_half, s_inv_half = s_halves
    occ, u = np.linalg.eigh(s_half @ dm @ s_half)
    # PySCF contracts every orbital with occupation > 0: rounding leaves ~1e-15 on about half
    # of the empty ones of an idempotent matrix (alkane C13H28, B3LYP/def2-SVP DF: K 11.2 s
    # with them, see docs/measurements.md)
    occ[abs(occ) < 1e-10 * abs(occ).max()] = 0.
    return lib.tag_array(dm, mo_coeff=s_inv_half @ u[:, ::-1], mo_occ=occ[::-1])


def _spin_fock(mf, fock):
    """The restricted Fock matrix in the shape the method's eig expects."""
    if isinstance(mf, scf.ghf.GHF):
        return scipy.linalg.block_diag(fock, fock)
    if isinstance(mf, scf.uhf.UHF):
        return np.asarray((fock, fock))
    return fock


def _plain_eigensolver(mf):
    """True for RHF/RKS and UHF/UKS with PySCF's standard eigensolver (not ROHF, GHF, or one
    replaced, e.g. by scf.addons.remove_linear_dep_)."""
    if isinstance(mf, (scf.rohf.ROHF, scf.ghf.GHF)):
        return False
    return (type(mf).eig in (scf.hf.SCF.eig, scf.uhf.UHF.eig)
            and getattr(mf._eigh, '__func__', None) is scf.hf.SCF._eigh)


def diagonalize(mf, fock, s1e, s_halves=None):
    """Orbitals of a restricted Fock matrix, occupied as the method does (aufbau, its spin).

    With ``s_halves`` (orthogonalizer(S)) and a plain RHF/UHF eigensolver, the problem is
    solved in the orthogonal basis with NumPy: SciPy's eigh (PySCF's) links a second OpenBLAS
    whose threads stalled against NumPy's right after the Fock build (glycine, 95 functions:
    0.11 s against 1 ms on its own).  Both spins of a UHF share the restricted Fock matrix.
    """
    if s_halves is not None and _plain_eigensolver(mf):
        s_inv_half = s_halves[1]
        mo_energy, u = np.linalg.eigh(s_inv_half @ fock @ s_inv_half)
        mo_coeff = s_inv_half @ u
        if isinstance(mf, scf.uhf.UHF):
            mo_energy, mo_coeff = np.stack((mo_energy, mo_energy)), np.stack((mo_coeff, mo_coeff))
    else:
        mo_energy, mo_coeff = mf.eig(_spin_fock(mf, fock), s1e)
    # both spins share the restricted orbitals: PySCF's UHF occupation would warn that the
    # alpha HOMO is not below the beta LUMO, which here means nothing
    with lib.temporary_env(mf, verbose=min(mf.verbose, logger.ERROR)):
        mo_occ = mf.get_occ(mo_energy, mo_coeff)
    return mo_energy, mo_coeff, mo_occ


def keeps_integrals_in_memory(mf):
    """True when the SCF holds all two-electron integrals in memory (small molecules without
    density fitting; PySCF's own test, scf.hf.RHF.get_jk): they are built once, by the first
    K, and every later J and K is a cheap contraction."""
    from pyscf import df
    if isinstance(mf, df.df_jk._DFHF):
        return False
    return (getattr(mf, '_eri', None) is not None or mf.mol.incore_anyway
            or (hasattr(mf, '_is_mem_enough') and mf._is_mem_enough()))


def build_shared_integrals(mf):
    """Build the two-electron integrals of an SCF that keeps them in memory, before the
    guess's exact exchange, as PySCF's first get_jk would (scf.hf.SCF.get_jk): the guess's K
    uses them and the SCF then reuses them, so they are timed as shared
    (fock.SHARED_ERI_STEP), not as the guess's K."""
    omega, alpha, hyb = fock_mod.exchange_coefficients(mf)
    if ((hyb or alpha) and not isinstance(mf, scf.ghf.GHF)
            and getattr(mf, '_eri', 0) is None and keeps_integrals_in_memory(mf)):
        with timing.step(fock_mod.SHARED_ERI_STEP):
            mf._eri = mf.mol.intor('int2e', aosym='s8')


def default_exchange(mf):
    """The guess's exchange scheme: 'semilocal' (one exact K) for an SCF with in-core
    integrals, where the guess's K builds the integrals the SCF reuses; 'stand-in' (no K)
    otherwise, where one K costs about half an SCF cycle (docs/measurements.md)."""
    return 'semilocal' if keeps_integrals_in_memory(mf) else 'stand-in'


def guess_density_fitting(mf, memory_fraction=0.25):
    """A density-fitted copy of ``mf`` (PySCF's default JK-fitting basis, tensor built in
    memory) for the J and exact exchange of a guess, or None: the SCF fits already, the
    method has no exact exchange, or the tensor would take more than ``memory_fraction`` of
    the memory available, or the SCF keeps the two-electron integrals in memory (small
    molecules: the guess's exact K computes them for the SCF).

    A guess's exact exchange needs no more than a fitted K (an error of ~1e-5 in the matrix),
    and the exact one of a full density matrix costs as much as the SCF's first cycle.
    Measured (alkane C13H28, B3LYP/def2-SVP, 1 thread): J 10.0 s and K 35.7 s exact, against
    a tensor of 7-9 s, J 0.5 s and K 4.5 s fitted (docs/measurements.md).
    """
    from pyscf import df
    if (isinstance(mf, df.df_jk._DFHF) or not needs_density_matrix(mf)
            or keeps_integrals_in_memory(mf)):
        return None
    mol = mf.mol
    try:
        fitted = mf.density_fit()
        auxmol = df.addons.make_auxmol(mol, fitted.with_df.auxbasis or
                                       df.addons.make_auxbasis(mol))
    except Exception as err:     # an SCF class or a basis PySCF cannot fit: exact J and K
        logger.debug(mf, 'deepscf: no density fitting for the guess (%s)', err)
        return None
    tensor_bytes = 8. * auxmol.nao * mol.nao * (mol.nao + 1) / 2
    available = memory.available_bytes()
    if available is not None and tensor_bytes > memory_fraction * available:
        logger.debug(mf, 'deepscf: exact J and K in the guess (a fitting tensor of %.1f GiB)',
                     tensor_bytes / 2**30)
        return None
    fitted.with_df.max_memory = max(fitted.with_df.max_memory, 2 * tensor_bytes / 1e6 + 1000)
    try:
        with timing.step('DF tensor (guess only)'):
            fitted.with_df.build()
    except Exception as err:     # e.g. no fitting basis for an element: exact J and K
        logger.debug(mf, 'deepscf: no density fitting for the guess (%s)', err)
        return None
    return fitted


def solve(mf, density, exchange='semilocal', h1e=None, s1e=None, grids_level=1,
          fit_jk=False):
    """Diagonalize the Fock matrix of ``density`` in the basis of ``mf.mol``.

    Exact exchange and the meta-GGA kinetic density come from a density matrix: that of a first
    diagonalization's orbitals, in a second one.  The first diagonalization takes them from
    minao's density matrix ('two-step'), or, for LDA and GGA hybrids (``exchange='semilocal'``),
    replaces exact exchange by a semilocal stand-in (one K build instead of two).  'minao': one
    diagonalization with minao's matrix.  'stand-in': for LDA and GGA hybrids, the first
    diagonalization alone (no K build; for other methods as 'semilocal').

    ``h1e`` and ``s1e`` are the method's own (as mf.get_hcore, mf.get_ovlp give them).
    ``grids_level``: V_xc of the prediction on a DFT grid of this level (see
    fock.fock_grids), None for ``mf.grids``.  ``fit_jk`` (for the guess, not for energies): J
    through the SCF's density fitting, or, when it has none, J and exact exchange through a
    fitting of the guess's own (guess_density_fitting).

    Returns dict(mo_energy, mo_coeff, mo_occ, dm, fock, terms): dm is tagged with
    mo_coeff/mo_occ, fock the restricted Fock matrix whose eigenvectors these are, terms the
    energy pieces for the Harris functional (fock.harris_energy).
    """
    with threads.engine_blas_threads():
        return _solve(mf, density, exchange, h1e, s1e, grids_level, fit_jk)


def _solve(mf, density, exchange, h1e, s1e, grids_level, fit_jk):
    if exchange not in EXCHANGE_SCHEMES:
        raise ValueError(f'exchange={exchange!r}; choose one of {EXCHANGE_SCHEMES}')
    log = logger.new_logger(mf)
    mol = mf.mol
    if h1e is None:
        with timing.step('h1e'):
            h1e = mf.get_hcore(mol)
    if isinstance(mf, scf.ghf.GHF):          # spin blocks: the spatial core Hamiltonian is one
        h1e = h1e[:mol.nao, :mol.nao]
    if s1e is None:
        s1e = mf.get_ovlp(mol)
    # S^+-1/2 once, for the natural orbitals and the diagonalizations (GHF's overlap has two
    # spin blocks: its spatial one)
    with timing.step('diagonalization'):
        s_halves = orthogonalizer(s1e[:mol.nao, :mol.nao])
    # the grid of the prediction breaks the molecule's point group slightly; minao does not
    with timing.step('symmetry'):
        group = symmetry.ao_group(mol, h1e)
    # the first step's exchange: a semilocal stand-in (hybrid functionals, 'semilocal') or
    # K of minao's density matrix (HF, meta-GGAs' tau, 'two-step', 'minao')
    substitute = (fock_mod.semilocal_exchange_substitute(mf)
                  if exchange in ('semilocal', 'stand-in') else None)
    stand_in_only = exchange == 'stand-in' and substitute is not None
    dm_x = None
    if needs_density_matrix(mf) and substitute is None:
        with timing.step('minao'):
            dm_x = with_natural_orbitals(total_dm(mf.init_guess_by_minao(mol), mol.nao),
                                         s_halves)
    mgga = fock_mod.is_kohn_sham(mf) and mf._numint._xc_type(mf.xc) == 'MGGA'
    grids = None
    if fock_mod.is_kohn_sham(mf) and grids_level is not None:
        with timing.step('DFT grid'):
            grids = fock_mod.fock_grids(mol, grids_level, getattr(mf, 'small_rho_cutoff', 1e-7))
    # J and K through density fitting: the SCF's own, or one for the guess alone (fit_jk)
    jk_mf = (guess_density_fitting(mf) if fit_jk and not stand_in_only else None) or mf
    steps = 2 if (needs_density_matrix(mf) and exchange != 'minao' and not stand_in_only) else 1
    for step in range(steps):
        if step == 0 or mgga:        # J and V_xc change only through tau
            local, terms = fock_mod.local_fock(jk_mf, density, dm_x, h1e=h1e, grids=grids,
                                               extra_xc=substitute if step == 0 else None,
                                               fitted_coulomb=fit_jk,
                                               extra_apart=not stand_in_only)
        if stand_in_only:             # the stand-in is in V_xc already
            vk, terms['e_k'] = 0.0, 0.0
        elif step == 0 and substitute is not None:
            vk, terms['e_k'] = terms.pop('v_extra'), 0.0
        else:
            if jk_mf is mf:
                build_shared_integrals(mf)
            vk, terms['e_k'] = fock_mod.exchange_fock(jk_mf, dm_x)
        fock = symmetry.symmetrize_fock(local + vk, group)
        with timing.step('diagonalization'):
            mo_energy, mo_coeff, mo_occ = diagonalize(mf, fock, s1e, s_halves)
            dm = mf.make_rdm1(mo_coeff, mo_occ)
            dm_x = with_natural_orbitals(total_dm(dm, mol.nao), s_halves)
        log.debug('deepscf step %d: HOMO-LUMO from the predicted density done', step + 1)
    if terms['nelec_grid'] is not None:
        log.debug("deepscf: predicted density integrates to %.6f electrons on the Fock grid (%d)",
                  terms['nelec_grid'], mol.nelectron)
    dm = lib.tag_array(dm, mo_coeff=mo_coeff, mo_occ=mo_occ)
    return dict(mo_energy=mo_energy, mo_coeff=mo_coeff, mo_occ=mo_occ, dm=dm, fock=fock,
                terms=terms)
