"""BLAS threads of the engine, per stage: the fit of the residual and solver.solve (Fock build,
exchange, diagonalization).

The Fock build alternates about a hundred times between NumPy, whose OpenBLAS runs its own
threads, and PySCF's C code (libcint, libxc, eval_ao), which runs OpenMP threads.  OpenBLAS's
idle threads keep spinning for a while after each call and, with few cores, take the CPU from
the OpenMP threads that run next.  The Fock build's NumPy products are small, so it runs them
on one thread.  The fit's products (the grid against the auxiliary basis, the Gram matrix) are
large and all NumPy: on two cores it takes 1.9-2.2 s with two threads against 2.8 s with one
(41 atoms; docs/measurements.md).  ``pyscf.__config__.deepscf_blas_threads`` (solve, default
1) and ``deepscf_fit_blas_threads`` (the fit, default None) set the limits; None leaves the
threads as they are (all cores, or the user's own limit).
"""
import contextlib
import functools

from pyscf import __config__


@functools.lru_cache(maxsize=None)
def _controller():
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()     # finds the loaded libraries once, not at every call


def _blas_limited(limit):
    if limit is None:
        return contextlib.nullcontext()
    return _controller().limit(limits=limit, user_api='blas')


def engine_blas_threads():
    """Context manager for the Fock build and diagonalizations: BLAS limited to
    ``__config__.deepscf_blas_threads`` threads (default 1; None: unchanged) inside it."""
    return _blas_limited(getattr(__config__, 'deepscf_blas_threads', 1))


def fit_blas_threads():
    """Context manager for the fit of the residual: BLAS limited to
    ``__config__.deepscf_fit_blas_threads`` threads (default None: unchanged) inside it."""
    return _blas_limited(getattr(__config__, 'deepscf_fit_blas_threads', None))
