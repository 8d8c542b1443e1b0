import time

from pyscf.deepscf.engine import timing


def test_steps_are_recorded_only_inside_recording():
    with timing.step('outside'):
        pass
    with timing.recording() as seconds:
        for _ in range(2):
            with timing.step('sleep'):
                time.sleep(0.01)
        with timing.recording() as inner:
            with timing.step('inner'):
                pass
    assert set(seconds) == {'sleep'} and seconds['sleep'] >= 0.02
    assert set(inner) == {'inner'}
    assert timing._record is None


def test_a_failing_step_still_counts():
    with timing.recording() as seconds:
        try:
            with timing.step('fails'):
                raise KeyError
        except KeyError:
            pass
    assert 'fails' in seconds


def test_memory_of_a_step_is_its_own_peak():
    import mmap

    import numpy as np
    import pytest
    if not timing.memory_supported():
        pytest.skip('no /proc/self/clear_refs here')

    def touch_fresh_pages(n_bytes):
        # An anonymous mapping of its own: fresh pages whatever the process freed before.
        # (np.ones can land in free heap memory glibc kept resident after earlier tests:
        # a 64 MB step once read 0.0 MB after 209 other tests in the same process.)
        pages = mmap.mmap(-1, n_bytes)
        view = np.frombuffer(pages, dtype=np.uint8)
        view[:] = 1
        del view
        pages.close()

    with timing.recording(memory=True) as seconds:
        with timing.step('outer'):
            with timing.step('big'):
                touch_fresh_pages(200 * 2**20)
            with timing.step('small'):
                touch_fresh_pages(64 * 2**20)
    # the big array is freed inside its step, yet its peak is kept, for it and the outer step
    assert 190 < seconds.peak_mb['big'] < 260
    assert 60 < seconds.peak_mb['small'] < 110
    assert seconds.peak_mb['outer'] >= seconds.peak_mb['big'] - 1
    assert timing.process_peak_mb() > 190
    with timing.recording() as plain:
        with timing.step('x'):
            pass
    assert plain.peak_mb is None and set(plain) == {'x'}
