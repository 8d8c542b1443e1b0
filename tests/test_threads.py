"""The engine's BLAS thread limit: applied inside, restored after, switchable off."""
import numpy as np
from pyscf import __config__
from threadpoolctl import threadpool_info

from pyscf.deepscf.engine import threads


def blas_threads():
    return [d['num_threads'] for d in threadpool_info() if d['user_api'] == 'blas']


def test_limit_applies_inside_and_is_restored(monkeypatch):
    np.ones((4, 4)) @ np.ones((4, 4))
    before = blas_threads()
    with threads.engine_blas_threads():
        assert set(blas_threads()) == {1}
    assert blas_threads() == before
    monkeypatch.setattr(__config__, 'deepscf_blas_threads', None, raising=False)
    with threads.engine_blas_threads():
        assert blas_threads() == before


def test_fit_keeps_the_threads_unless_configured(monkeypatch):
    np.ones((4, 4)) @ np.ones((4, 4))
    before = blas_threads()
    with threads.fit_blas_threads():
        assert blas_threads() == before
    monkeypatch.setattr(__config__, 'deepscf_fit_blas_threads', 1, raising=False)
    with threads.fit_blas_threads():
        assert set(blas_threads()) == {1}
    assert blas_threads() == before
