"""From a predicted density to orbitals: one Fock build in the user's basis and a diagonalization.

Shared by the initial guess (guess.py) and the non-self-consistent solver (nonscf.py).
"""
import collections

import numpy as np
import scipy.linalg
from pyscf import lib, scf
from pyscf.lib import logger

from pyscf.deepscf.engine import fock as fock_mod, memory, symmetry, threads, timing
from pyscf.deepscf.engine.fock import total_dm

# Where exact exchange's density matrix comes from, for LDA and GGA hybrids (others always
# take minao's in a first diagonalization): 'semilocal' stands in a semilocal functional for
# exact exchange in a first diagonalization and builds K from its orbitals in a second;
# 'stand-in' stops after the first (no K: the guess's cheapest).  docs/how_it_works.md, step 4.
EXCHANGE_SCHEMES = ('semilocal', 'stand-in')

# What solve returns: the orbitals of the Fock matrix of the predicted density, their density
# matrix (tagged with them) and that Fock matrix (restricted, fock.with_energy_tags)
Solution = collections.namedtuple('Solution', 'mo_energy mo_coeff mo_occ dm fock')


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
    matrix.  ``s_halves``: orthogonalizer(S); None leaves the matrix untagged.
    """
    if s_halves is None:
        return dm
    s_half, s_inv_half = s_halves
    occ, u = np.linalg.eigh(s_half @ dm @ s_half)
    # PySCF contracts every orbital with occupation > 0: rounding leaves ~1e-15 on about half
    # of the empty ones of an idempotent matrix
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
    whose threads stall against NumPy's right after the Fock build.  Both spins of a UHF share
    the restricted Fock matrix.
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

    A guess's exact exchange needs no more than a fitted K, and the exact one of a full density
    matrix costs as much as the SCF's first cycle (docs/measurements.md).
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
    """Diagonalize the Fock matrix of ``density`` in the basis of ``mf.mol``; a Solution.

    Exact exchange and the meta-GGA kinetic density come from a density matrix: that of a first
    diagonalization's orbitals, in a second one (and, for K from in-core integrals, that of
    the second's orbitals in a third).  In the first, LDA and GGA hybrids replace
    exact exchange by a semilocal stand-in (fock.semilocal_exchange_substitute); HF and
    meta-GGAs take minao's density matrix.  ``exchange='stand-in'``: for LDA and GGA hybrids,
    the first diagonalization alone (no K build; for other methods as 'semilocal').

    ``h1e`` and ``s1e`` are the method's own (as mf.get_hcore, mf.get_ovlp give them).
    ``grids_level``: V_xc of the prediction on a DFT grid of this level (fock.fock_grids), None
    for ``mf.grids``.  ``fit_jk`` (for the guess, not for energies): J through the SCF's
    density fitting, or, when it has none, J and exact exchange through a fitting of the
    guess's own (guess_density_fitting).
    """
    if exchange not in EXCHANGE_SCHEMES:
        raise ValueError(f'exchange={exchange!r}; choose one of {EXCHANGE_SCHEMES}')
    with threads.engine_blas_threads():
        return _solve(mf, density, exchange, h1e, s1e, grids_level, fit_jk)


def _solve(mf, density, exchange, h1e, s1e, grids_level, fit_jk):
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
    # the first step's exchange: a semilocal stand-in (LDA and GGA hybrids) or K of minao's
    # density matrix (HF, meta-GGAs' tau)
    substitute = fock_mod.semilocal_exchange_substitute(mf)
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
    steps = 2 if (needs_density_matrix(mf) and not stand_in_only) else 1
    if steps == 2 and not mgga and jk_mf is mf and keeps_integrals_in_memory(mf):
        # K from in-core integrals is a contraction: a second one, from the second step's
        # orbitals, costs little and brings K closer to the density's own (docs/oracle.md)
        steps = 3
    for step in range(steps):
        if step == 0 or mgga:        # J and V_xc change only through tau
            local = fock_mod.local_fock(jk_mf, density, dm_x, h1e=h1e, grids=grids,
                                        extra_xc=substitute if step == 0 else None,
                                        fitted_coulomb=fit_jk, extra_apart=not stand_in_only)
        if stand_in_only:             # the stand-in is in V_xc already
            vk, ek = 0.0, 0.0
        elif step == 0 and substitute is not None:
            vk, ek = local.v_extra, 0.0
        else:
            if jk_mf is mf:
                build_shared_integrals(mf)
            vk, ek = fock_mod.exchange_fock(jk_mf, dm_x)
        fock = fock_mod.with_energy_tags(symmetry.symmetrize_fock(local + vk, group), local, ek)
        with timing.step('diagonalization'):
            mo_energy, mo_coeff, mo_occ = diagonalize(mf, fock, s1e, s_halves)
            dm = mf.make_rdm1(mo_coeff, mo_occ)
            dm_x = with_natural_orbitals(total_dm(dm, mol.nao), s_halves)
        log.debug('deepscf step %d: HOMO-LUMO from the predicted density done', step + 1)
    if local.nelec_grid is not None:
        log.debug("deepscf: predicted density integrates to %.6f electrons on the Fock grid (%d)",
                  local.nelec_grid, mol.nelectron)
    dm = lib.tag_array(dm, mo_coeff=mo_coeff, mo_occ=mo_occ)
    return Solution(mo_energy, mo_coeff, mo_occ, dm, fock)
