"""predict_density(mol): the predicted density of a molecule as an analytic object.

The predictor (by default the bundled network, engine/model.py) gives the residual density on
a uniform grid; density.fit_density adds the free atoms and fits the residual to Gaussians.
"""
import contextlib
import time

import numpy as np
from pyscf.lib import logger

from pyscf.deepscf import domain
from pyscf.deepscf.engine import memory, threads, timing
from pyscf.deepscf.engine.density import fit_density

_default_predictor = None


class PredictionError(ValueError):
    """A predicted density that cannot be used (non-finite values, a wrong grid)."""


def default_predictor():
    """The predictor used when none is given: set_default_predictor's, else the bundled model."""
    global _default_predictor
    if _default_predictor is None:
        from pyscf.deepscf.engine.model import NetworkPredictor
        _default_predictor = NetworkPredictor()
    return _default_predictor


def warm_up(predictor=None):
    """Load ``predictor`` (default: the bundled model; torch's import and the weights) and run
    it once on water, as the first guess of a process does; returns the seconds taken.
    Benchmarks call it before their clocks: a script pays this once per process, not per
    guess."""
    from pyscf import gto
    t0 = time.perf_counter()
    water = gto.M(atom='O 0 0 0.12; H 0 0.76 -0.47; H 0 -0.76 -0.47', verbose=0)
    (predictor or default_predictor()).predict(water)
    return time.perf_counter() - t0


def set_default_predictor(predictor):
    """Use ``predictor`` wherever none is given (None: back to the bundled model)."""
    global _default_predictor
    _default_predictor = predictor


@contextlib.contextmanager
def using_predictor(predictor):
    """``with using_predictor(p): mf.kernel()`` runs init_guess='deepscf' with ``p``."""
    global _default_predictor
    saved = _default_predictor
    _default_predictor = predictor
    try:
        yield predictor
    finally:
        _default_predictor = saved


def predict_density(mol, predictor=None, verbose=None, stdout=None, max_memory=None):
    """density.PredictedDensity of ``mol`` (a gto.Mole; coordinates in the Mole's units, bohr
    inside).

    ``max_memory`` (MB, default ``mol.max_memory``): the network's box and the fit are refused
    (PredictionMemoryError) before they would take more than that, less what the process uses.
    Raises ValueError for what the model cannot describe (domain.model_gaps: elements it
    lacks, ECP atoms).
    """
    gaps = domain.model_gaps(mol)
    if gaps:
        raise ValueError('deepscf: ' + '; '.join(gaps))
    if predictor is None:
        predictor = default_predictor()
    if max_memory is None:
        max_memory = mol.max_memory
    log = logger.new_logger(mol if verbose is None else None, mol.verbose if verbose is None
                            else verbose)
    if stdout is not None:
        log.stdout = stdout
    t0 = (logger.process_clock(), logger.perf_counter())
    with memory.limit(max_memory):
        grid, residual = predictor.predict(mol)
    residual = np.asarray(residual)
    if residual.shape != grid.shape:
        raise PredictionError(f'deepscf: the predictor returned a residual of shape '
                              f'{residual.shape} for a grid of {grid.shape}')
    bad = np.count_nonzero(~np.isfinite(residual))
    if bad:
        raise PredictionError(f'deepscf: the predictor returned {bad} non-finite value(s) (NaN '
                              f'or Inf) among the {residual.size} of the residual density')
    t0 = log.timer('deepscf residual density on %s grid' % (grid.shape,), *t0)
    # a predictor's grid holds point values unless it says it smoothed them
    with threads.fit_blas_threads(), timing.step('fit'), memory.limit(max_memory):
        density = fit_density(mol, grid, residual,
                              smoothing_bohr=getattr(predictor, 'smoothing_bohr', 0.0))
    if not np.all(np.isfinite(density.coeff)):
        raise PredictionError('deepscf: the fit of the residual density gave non-finite '
                              'coefficients')
    log.timer('deepscf fit of the residual (%d Gaussians)' % density.auxmol.nao, *t0)
    return density
