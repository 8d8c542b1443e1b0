"""``init_guess='deepscf'``: the density matrix of the Fock matrix built from a predicted density.

Importing ``pyscf.deepscf`` registers the key with PySCF's ``SCF.get_init_guess`` (the method that
RHF, UHF, ROHF and GHF all call); every other key goes to PySCF unchanged.
"""
import numpy as np
from pyscf import scf
from pyscf.lib import logger

from pyscf.deepscf.engine import solver
from pyscf.deepscf.predict import PredictionError, predict_density

GUESS_KEY = 'deepscf'


def init_guess_by_deepscf(mf, mol=None, predictor=None, exchange='auto', strict=False,
                          s1e=None, fit_jk=True):
    """Initial density matrix from the predicted density, in the format of ``mf``.

    Args:
        mf : any PySCF mean-field object (RHF/RKS/UHF/UKS/ROHF/ROKS/GHF, density-fitted or not)
        predictor : object with predict(mol) -> (grid, residual); None for the default model
        exchange : 'auto' (default: solver.default_exchange), 'stand-in', 'semilocal',
            'two-step' or 'minao': whether and from which density matrix the guess builds
            exact exchange (solver.solve)
        strict : raise instead of falling back to minao (elements the model does not know, or
            any failure of the prediction: a non-finite density, a box or fit larger than the
            memory available, an unreadable weights file)
        s1e : the overlap matrix, when the caller has it (PySCF's SCF kernel passes it)
        fit_jk : J and exact exchange of the guess through density fitting when the SCF
            itself does not fit and the tensor fits in a quarter of the free memory
            (solver.guess_density_fitting; the SCF's own fitting when it has one)

    Returns:
        density matrix tagged with mo_coeff and mo_occ (as PySCF's own guesses)
    """
    if mol is None:
        mol = mf.mol
    unsupported = solver.check_molecule(mol)
    if unsupported:
        msg = (f'deepscf guess: no model for element(s) {", ".join(unsupported)}; '
               'falling back to the minao guess')
        if strict:
            raise ValueError(msg.split(';')[0])
        logger.warn(mf, msg)
        return mf.init_guess_by_minao(mol)
    t0 = (logger.process_clock(), logger.perf_counter())
    try:
        density = predict_density(mol, predictor=predictor, verbose=mf.verbose,
                                  stdout=mf.stdout)
        if exchange == 'auto':
            exchange = solver.default_exchange(mf)
        dm = solver.solve(mf, density, exchange=exchange, s1e=s1e, fit_jk=fit_jk)['dm']
        if not np.all(np.isfinite(dm)):
            raise PredictionError('deepscf: the guess density matrix has non-finite elements')
    except Exception as err:       # a guess must never stop the SCF: the documented fallback
        if strict:
            raise
        logger.warn(mf, 'deepscf guess failed (%s: %s); falling back to the minao guess',
                    type(err).__name__, err)
        return mf.init_guess_by_minao(mol)
    logger.timer(mf, 'deepscf initial guess', *t0)
    return dm


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
    """Make init_guess='deepscf' available on every PySCF mean-field class (idempotent)."""
    scf.hf.SCF.get_init_guess = get_init_guess
    scf.hf.SCF.init_guess_by_deepscf = init_guess_by_deepscf
