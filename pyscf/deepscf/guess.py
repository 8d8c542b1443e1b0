"""``init_guess='deepscf'``: the density matrix of the Fock matrix built from a predicted density.

Importing ``pyscf.deepscf`` registers the key with PySCF's ``SCF.get_init_guess`` (the method that
RHF, UHF, ROHF and GHF all call); every other key goes to PySCF unchanged.
"""
import numpy as np
from pyscf import __config__, scf
from pyscf.lib import logger

from pyscf.deepscf import domain
from pyscf.deepscf.engine import atoms, memory, solver
from pyscf.deepscf.predict import PredictionError, default_predictor, predict_density

GUESS_KEY = 'deepscf'
FALLBACK_NOTE = 'falling back to the minao guess'
# The DFT grid of the guess's V_xc, for a predictor that names none (its
# ``guess_grids_level``): level 1 serves an exact density as well as the SCF's own level 3
# (docs/oracle.md); NonSCF's energies keep their own level (nonscf.py)
GRIDS_LEVEL = getattr(__config__, 'deepscf_guess_grids_level', 1)
# Below this many atoms the guess costs as much time as the SCF cycles it saves, or more
# (B3LYP/def2-SVP, two threads: 1.09-1.21 of minao's wall time below 8 atoms, 0.83-1.03 from
# 8 to 26; docs/measurements.md): it says so
SMALL_MOLECULE_ATOMS = getattr(__config__, 'deepscf_small_molecule_atoms', 8)


def init_guess_by_deepscf(mf, mol=None, predictor=None, exchange='auto', strict=None,
                          s1e=None, fit_jk=True):
    """Initial density matrix from the predicted density, in the format of ``mf``.

    Args:
        mf : any PySCF mean-field object (RHF/RKS/UHF/UKS/ROHF/ROKS/GHF, density-fitted or not)
        predictor : object with predict(mol) -> (grid, residual); None: ``mf.deepscf_predictor``,
            else the default model.  Its ``guess_grids_level``, where it has one, is the level
            of the DFT grid of V_xc (default GRIDS_LEVEL)
        exchange : 'auto' (default: solver.default_exchange), 'stand-in' or 'semilocal':
            whether the guess builds exact exchange (solver.solve)
        strict : raise instead of falling back to minao (where the guess is out of its depth,
            domain.guess_gaps, or on any failure of the prediction: a non-finite density, a box
            or fit larger than the memory allowed, an unreadable weights file); None:
            ``mf.deepscf_strict``
        s1e : the overlap matrix, when the caller has it (PySCF's SCF kernel passes it)
        fit_jk : J and exact exchange of the guess through density fitting when the SCF
            itself does not fit and the tensor fits in a quarter of the memory allowed
            (solver.guess_density_fitting; the SCF's own fitting when it has one)

    The memory the prediction takes is bounded by ``mf.max_memory`` (MB).  Where the guess is
    out of its depth (domain.guess_gaps, method_gaps and, from its own orbitals,
    output_gaps: e.g. a spin-0 UHF/UKS with ``init_guess_breaksym``, a stretched bond, a partly
    filled degenerate level) it logs why and returns minao's guess.

    Returns:
        density matrix tagged with mo_coeff and mo_occ (as PySCF's own guesses)
    """
    if exchange != 'auto' and exchange not in solver.EXCHANGE_SCHEMES:   # a caller's error
        raise ValueError(f"exchange={exchange!r}; choose 'auto' or one of "
                         f'{solver.EXCHANGE_SCHEMES}')
    if mol is None:
        mol = mf.mol
    if strict is None:
        strict = getattr(mf, 'deepscf_strict', False)
    if predictor is None:
        predictor = getattr(mf, 'deepscf_predictor', None)
    gaps = domain.guess_gaps(mol) + domain.method_gaps(mf)
    if gaps:
        return _fall_back(mf, mol, gaps, strict)
    t0 = (logger.process_clock(), logger.perf_counter())
    try:
        with memory.limit(mf.max_memory):
            if predictor is None:
                predictor = default_predictor()
            density = predict_density(mol, predictor=predictor, verbose=mf.verbose,
                                      stdout=mf.stdout, max_memory=mf.max_memory)
            if exchange == 'auto':
                exchange = solver.default_exchange(mf)
            solution = solver.solve(mf, density, exchange=exchange, s1e=s1e, fit_jk=fit_jk,
                                    grids_level=getattr(predictor, 'guess_grids_level',
                                                        GRIDS_LEVEL))
        dm = solution.dm
        if not np.all(np.isfinite(dm)):
            raise PredictionError('deepscf: the guess density matrix has non-finite elements')
    except Exception as err:       # a guess must never stop the SCF: the documented fallback
        if strict:
            raise
        logger.warn(mf, 'deepscf guess failed (%s: %s); %s', type(err).__name__, err,
                    FALLBACK_NOTE)
        return mf.init_guess_by_minao(mol)
    gaps = domain.output_gaps(solution.mo_energy, solution.mo_occ)
    if gaps:
        return _fall_back(mf, mol, gaps, strict)
    logger.timer(mf, 'deepscf initial guess', *t0)
    n_atoms = len(atoms.real_atoms(mol))
    if n_atoms < SMALL_MOLECULE_ATOMS:
        logger.note(mf, 'deepscf: with %d atoms the guess costs as much time as the SCF cycles '
                    'it saves, or more; it saves time from about %d atoms (init_guess=\'minao\' '
                    'is as fast here)', n_atoms, SMALL_MOLECULE_ATOMS)
    return dm


def _fall_back(mf, mol, reasons, strict):
    """minao's guess, with the reasons logged at WARN level; ValueError naming them if strict."""
    if strict:
        raise ValueError('deepscf guess: ' + '; '.join(reasons))
    logger.warn(mf, 'deepscf guess: %s; %s', '; '.join(reasons), FALLBACK_NOTE)
    return mf.init_guess_by_minao(mol)


_pyscf_get_init_guess = scf.hf.SCF.get_init_guess


def get_init_guess(mf, mol=None, key='minao', **kwargs):
    """PySCF's SCF.get_init_guess, plus the 'deepscf' key (other keys unchanged)."""
    if isinstance(key, str) and key.lower() == GUESS_KEY:
        if mol is None:
            mol = mf.mol
        if getattr(mol, 'natm', 0) == 0:
            return _pyscf_get_init_guess(mf, mol, key, **kwargs)   # PySCF's "no atoms" path
        return init_guess_by_deepscf(mf, mol, s1e=kwargs.get('s1e'))
    return _pyscf_get_init_guess(mf, mol, key, **kwargs)


def register():
    """Make init_guess='deepscf' available on every PySCF mean-field class (idempotent), with
    two options on each method object: ``mf.deepscf_strict`` (raise instead of falling back to
    minao) and ``mf.deepscf_predictor`` (the predictor of this object's guess)."""
    scf.hf.SCF.get_init_guess = get_init_guess
    scf.hf.SCF.init_guess_by_deepscf = init_guess_by_deepscf
    scf.hf.SCF.deepscf_strict = False
    scf.hf.SCF.deepscf_predictor = None
    # PySCF's check_sanity warns of attributes no class declares
    scf.hf.SCF._keys = scf.hf.SCF._keys | {'deepscf_strict', 'deepscf_predictor'}
