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
    assert timing._seconds is None


def test_a_failing_step_still_counts():
    with timing.recording() as seconds:
        try:
            with timing.step('fails'):
                raise KeyError
        except KeyError:
            pass
    assert 'fails' in seconds
