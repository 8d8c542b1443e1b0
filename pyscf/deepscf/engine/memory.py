"""Memory the engine is about to take, checked before it takes it.

A box or a fit too large for the machine must end in a clear error, not in the operating
system killing the process: the network's box and the residual fit estimate their largest
arrays and call ``require`` first.
"""
import os


class PredictionMemoryError(MemoryError):
    """The prediction of this molecule needs more memory than the machine has available."""


def available_bytes():
    """Memory available to this process now (Linux MemAvailable), or None if unknown."""
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


def require(needed_bytes, what):
    """Raise PredictionMemoryError naming ``what`` when ``needed_bytes`` exceed the memory
    available now (no check where the machine does not say)."""
    available = available_bytes()
    if available is not None and needed_bytes > available:
        raise PredictionMemoryError(
            f'deepscf: {what} needs about {needed_bytes / 2**30:.1f} GiB, and this machine has '
            f'{available / 2**30:.1f} GiB available; nothing was allocated')
