"""Memory the engine is about to take, checked before it takes it.

A box or a fit too large must end in a clear error, not in the operating system killing the
process: the network's box and the residual fit estimate their largest arrays and call
``require`` first.  The bound is the machine's available memory and, inside ``limit``, what is
left of the method's ``max_memory`` (megabytes, PySCF's convention: the process's memory in
use counts against it, down to a fifth of max_memory).
"""
import contextlib
import contextvars
import os

_LIMIT_MB = contextvars.ContextVar('deepscf_max_memory_mb', default=None)


class PredictionMemoryError(MemoryError):
    """The prediction of this molecule needs more memory than it may take."""


def machine_available_bytes():
    """Memory available on the machine now (Linux MemAvailable), or None if unknown."""
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_AVPHYS_PAGES')
    except (ValueError, OSError, AttributeError):
        return None


@contextlib.contextmanager
def limit(max_memory_mb):
    """Within the block, available_bytes is at most ``max_memory_mb`` (a method's max_memory,
    MB) minus the memory this process uses, but no less than a fifth of it; None: the
    machine's bound only."""
    token = _LIMIT_MB.set(max_memory_mb)
    try:
        yield
    finally:
        _LIMIT_MB.reset(token)


def available_bytes():
    """Memory the engine may take now: the machine's, within the active ``limit``; None if
    neither is known."""
    available = machine_available_bytes()
    limit_mb = _LIMIT_MB.get()
    if limit_mb is not None:
        # PySCF's max_memory is soft: what the process holds already (an SCF's integrals)
        # leaves the prediction at least a fifth of it
        from pyscf import lib
        allowed = max(limit_mb - lib.current_memory()[0], 0.2 * limit_mb) * 1e6
        available = allowed if available is None else min(available, allowed)
    return available


def require(needed_bytes, what):
    """Raise PredictionMemoryError naming ``what`` when ``needed_bytes`` exceed
    available_bytes (no check where nothing is known)."""
    available = available_bytes()
    if available is not None and needed_bytes > available:
        limit_mb = _LIMIT_MB.get()
        bound = ('this machine has' if limit_mb is None else
                 f'max_memory ({limit_mb:.0f} MB, less what the process uses) and the machine '
                 'leave')
        raise PredictionMemoryError(
            f'deepscf: {what} needs about {needed_bytes / 2**30:.1f} GiB, and {bound} '
            f'{available / 2**30:.1f} GiB available; nothing was allocated')
