"""Wall time of each step of the guess, recorded only when asked (benchmarks/guess_profile.py).

    with timing.recording() as seconds:
        mf.get_init_guess(key='deepscf')
    seconds  # {'fingerprints': ..., 'network': ..., 'fit': ..., 'J': ..., ...}

Outside ``recording()`` a step costs one global lookup.  Steps that run twice add up.
"""
import contextlib
import time

_seconds = None


@contextlib.contextmanager
def step(name):
    """Add the wall time of the block to step ``name`` of the current recording, if any."""
    record = _seconds
    if record is None:
        yield
        return
    t0 = time.perf_counter()
    try:
        yield
    finally:
        record[name] = record.get(name, 0.0) + time.perf_counter() - t0


@contextlib.contextmanager
def recording():
    """Collect the steps run inside the block into a dict {step: seconds} (nested: innermost)."""
    global _seconds
    saved, _seconds = _seconds, {}
    try:
        yield _seconds
    finally:
        _seconds = saved
