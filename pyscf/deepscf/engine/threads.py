"""BLAS threads of the engine: the fit of the residual and solver.solve (Fock build, exchange,
diagonalization).

The Fock build and the fit alternate about a hundred times between NumPy, whose OpenBLAS runs
its own threads, and PySCF's C code (libcint, libxc, eval_ao), which runs OpenMP threads.
OpenBLAS's idle threads keep spinning for a while after each call and, with few cores, take
the CPU from the OpenMP threads that run next.  The engine's NumPy products are small (at most
the auxiliary basis squared), so it runs them on one thread.  Measured on 2 cores (exact
density, def2-SVP, guess seconds over five or six repeats, against one SCF cycle):
PBE methanol 0.18-0.34 with NumPy's default threads, 0.12 with one (cycle 0.19); glycine
0.57-0.74, 0.43 (0.63); pyridine 0.66-1.00, 0.53 (0.81).  Limiting the local Fock build
alone: methanol 0.16-0.24.  Density-fitted B3LYP (exchange through NumPy): glycine 0.58-0.80,
0.48-0.53 (0.66); pyridine 0.76-0.86, 0.71-0.94 (0.90).  Machines with many cores may do better
with more: set BLAS_THREADS (None leaves the threads as they are).
"""
import contextlib
import functools

BLAS_THREADS = 1


@functools.lru_cache(maxsize=None)
def _controller():
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()     # finds the loaded libraries once (2 ms per search)


def engine_blas_threads():
    """Context manager: BLAS libraries limited to BLAS_THREADS threads inside it."""
    if BLAS_THREADS is None:
        return contextlib.nullcontext()
    return _controller().limit(limits=BLAS_THREADS, user_api='blas')
