"""BLAS threads of the engine: the fit of the residual and solver.solve (Fock build, exchange,
diagonalization).

The Fock build and the fit alternate about a hundred times between NumPy, whose OpenBLAS runs
its own threads, and PySCF's C code (libcint, libxc, eval_ao), which runs OpenMP threads.
OpenBLAS's idle threads keep spinning for a while after each call and, with few cores, take
the CPU from the OpenMP threads that run next.  The engine's NumPy products are small (at most
the auxiliary basis squared), so it runs them on one thread (docs/oracle.md).  Machines with
many cores may do better with more: ``pyscf.__config__.deepscf_blas_threads`` sets the limit
(None leaves the threads as they are).
"""
import contextlib
import functools

from pyscf import __config__


@functools.lru_cache(maxsize=None)
def _controller():
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()     # finds the loaded libraries once, not at every call


def engine_blas_threads():
    """Context manager: BLAS libraries limited to ``__config__.deepscf_blas_threads`` threads
    (default 1; None: unchanged) inside it."""
    limit = getattr(__config__, 'deepscf_blas_threads', 1)
    if limit is None:
        return contextlib.nullcontext()
    return _controller().limit(limits=limit, user_api='blas')
