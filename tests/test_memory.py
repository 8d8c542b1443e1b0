"""A box or a fit too large for the machine ends in a clear error before anything is allocated."""
import numpy as np
import pytest

from pyscf.deepscf.engine import auxbasis, domain_fit, fit, memory
from pyscf.deepscf.engine.grid import molecule_grid


def test_require_names_what_needs_the_memory(monkeypatch):
    monkeypatch.setattr(memory, 'available_bytes', lambda: 2 * 2**30)
    memory.require(2**30, 'a small thing')
    with pytest.raises(memory.PredictionMemoryError, match=r'the big thing needs about 3\.0 GiB.*2\.0 GiB'):
        memory.require(3 * 2**30, 'the big thing')


def test_network_box_past_the_memory_bound_is_refused(monkeypatch):
    from pyscf.deepscf.engine.model import NetworkPredictor
    predictor = NetworkPredictor()
    monkeypatch.setattr(memory, 'available_bytes', lambda: 1e6)
    coords = np.array([[0., 0., 0.], [0., 0., 1.8]])
    with pytest.raises(memory.PredictionMemoryError, match='the network box of 2 atoms'):
        predictor.predict_atoms(['O', 'H'], coords)


@pytest.mark.parametrize('fit_residual', [fit.fit_residual, domain_fit.fit_residual_by_domains])
def test_fit_past_the_memory_bound_is_refused(water, monkeypatch, fit_residual):
    aux = auxbasis.residual_auxmol(water)
    grid = molecule_grid(water, 0.3, 4.0)
    monkeypatch.setattr(memory, 'available_bytes', lambda: 1e5)
    with pytest.raises(memory.PredictionMemoryError, match='the fit of the residual'):
        fit_residual(aux, grid, np.zeros(grid.shape))


def test_max_memory_bounds_what_the_engine_may_take(monkeypatch):
    from pyscf import lib
    monkeypatch.setattr(memory, 'machine_available_bytes', lambda: 64e9)
    monkeypatch.setattr(lib, 'current_memory', lambda: (300., 0.))      # MB in use
    assert memory.available_bytes() == 64e9
    with memory.limit(2000):
        assert memory.available_bytes() == pytest.approx(1700e6)
        with pytest.raises(memory.PredictionMemoryError, match='max_memory'):
            memory.require(2e9, 'the big thing')
    # PySCF's max_memory is soft: past it, the engine still gets a fifth of it
    with memory.limit(200):
        assert memory.available_bytes() == pytest.approx(40e6)
    assert memory.available_bytes() == 64e9
