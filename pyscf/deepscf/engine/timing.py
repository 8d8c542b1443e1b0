"""Wall time (and, when asked, memory) of each step of the guess, recorded only inside
``recording()`` (benchmarks/guess_profile.py).

    with timing.recording() as seconds:
        mf.get_init_guess(key='deepscf')
    seconds  # {'fingerprints': ..., 'network': ..., 'fit': ..., 'J': ..., ...}

    with timing.recording(memory=True) as seconds:
        ...
    seconds.peak_mb  # {'network': MB the step needed above the resident set it started from}

Outside ``recording()`` a step costs one global lookup.  Steps that run twice add up (seconds)
or keep their larger peak (memory).

Memory is the resident set (Linux /proc/self/status): at the start of a step the kernel's
high-water mark is reset to the current resident set (/proc/self/clear_refs, "5"), so its value
at the end is the step's own peak; the step's figure is that peak minus the resident set it
started from.  ``process_peak_mb()`` keeps the process's peak across those resets (they reset
getrusage's ru_maxrss too).  Nested steps are measured correctly: an inner reset first folds
the high-water mark into every step still open.
"""
import contextlib
import time


class Recording(dict):
    """{step: seconds}, and with memory, peak_mb {step: MB above the step's starting RSS}."""

    def __init__(self, memory=False):
        super().__init__()
        self.peak_mb = {} if memory else None


_record = None
_open_steps = []          # [step name, RSS at its start (kB), its high-water mark so far (kB)]
_process_peak_kb = 0


def _status_kb(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise OSError(f'no {field} in /proc/self/status')


def _fold_high_water_mark():
    global _process_peak_kb
    hwm = _status_kb('VmHWM')
    _process_peak_kb = max(_process_peak_kb, hwm)
    for frame in _open_steps:
        frame[2] = max(frame[2], hwm)


def _reset_high_water_mark():
    _fold_high_water_mark()
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')


def resident_mb():
    """The process's resident set now, MB (Linux)."""
    return _status_kb('VmRSS') / 1024


def memory_supported():
    """True where the per-step peak can be measured (Linux with a writable clear_refs)."""
    try:
        _reset_high_water_mark()
        return True
    except OSError:
        return False


def process_peak_mb():
    """The process's peak resident set (MB) so far, across the resets of the steps."""
    try:
        _fold_high_water_mark()
    except OSError:
        pass
    import resource
    return max(_process_peak_kb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


@contextlib.contextmanager
def step(name):
    """Add the wall time (and peak memory) of the block to step ``name`` of the current
    recording, if any."""
    record = _record
    if record is None:
        yield
        return
    frame = None
    if record.peak_mb is not None:
        _reset_high_water_mark()
        rss = _status_kb('VmRSS')
        frame = [name, rss, rss]
        _open_steps.append(frame)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        record[name] = record.get(name, 0.0) + time.perf_counter() - t0
        if frame is not None:
            _fold_high_water_mark()
            _open_steps.remove(frame)
            mb = (frame[2] - frame[1]) / 1024
            record.peak_mb[name] = max(record.peak_mb.get(name, 0.0), mb)


@contextlib.contextmanager
def recording(memory=False):
    """Collect the steps run inside the block into a dict {step: seconds} (nested: innermost);
    with ``memory`` (Linux), also its ``peak_mb``: {step: MB above the RSS the step began at}."""
    global _record
    if memory and not memory_supported():
        raise OSError('per-step memory needs Linux with a writable /proc/self/clear_refs')
    saved, _record = _record, Recording(memory)
    try:
        yield _record
    finally:
        _record = saved
