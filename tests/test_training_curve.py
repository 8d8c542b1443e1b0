"""benchmarks/training_curve.py: a resumed run's repeated steps replace the earlier ones, and
pauses between runs are not training time."""
import json
from conftest import load_script

training_curve = load_script('benchmarks', 'training_curve.py')


def test_resumed_run(tmp_path):
    lines = [{'time': 0, 'event': 'start'},
             {'time': 60, 'step': 10, 'loss': 3.0},
             {'time': 120, 'step': 20, 'loss': 2.0},
             {'time': 130, 'step': 20, 'val': {'nmae_rho_percent': 5.0}},
             {'time': 190, 'step': 30, 'loss': 9.0},     # lost: the run died before step 40
             {'time': 10000, 'event': 'start'},          # resumed from step 20, hours later
             {'time': 10060, 'step': 30, 'loss': 1.5},
             {'time': 10120, 'step': 40, 'loss': 1.0},
             {'time': 10130, 'step': 40, 'val': {'nmae_rho_percent': 4.0}}]
    path = tmp_path / 'metrics.jsonl'
    path.write_text(''.join(json.dumps(x) + '\n' for x in lines))
    run = training_curve.read_run(str(tmp_path), max_gap_s=900)
    assert run['starts'] == 2
    assert run['loss'] == [(10, 3.0), (20, 2.0), (30, 1.5), (40, 1.0)]
    assert [(s, v) for s, _, v in run['val']] == [(20, 5.0), (40, 4.0)]
    # 190 s before the pause and 130 s after it
    assert abs(run['val'][-1][1] * 3600 - 320) < 1e-6
