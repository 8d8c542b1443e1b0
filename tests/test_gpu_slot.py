"""One GPU slot's two runs side by side (scripts/gpu_slot.py), run on the CPU: both train, and
what comes back fits the device tool's limits (8 files, 16 MiB each, 64 MiB), the logs first,
also when a run is stopped at the deadline."""
import json
import os
import subprocess
import sys
import tarfile

from conftest import load_script
from pyscf.deepscf.engine import model as nn_model

SCRIPT = os.path.join(os.path.dirname(__file__), '..', 'scripts', 'gpu_slot.py')
CPU = ['--device', 'cpu', '--threads', '1', '--batch-size', '2', '--crop', '16',
       '--val-every', '2', '--timing-sizes', '8']


def logs(out, name):
    """The names in a run's logs.tar."""
    with tarfile.open(os.path.join(out, name, 'logs.tar')) as tar:
        return sorted(tar.getnames())


def test_two_runs_side_by_side_come_back_within_the_limits(tiny_kit, tmp_path):
    _, kit = tiny_kit
    out = str(tmp_path / 'out')
    proc = subprocess.run([sys.executable, SCRIPT, '--out', out, '--work', str(tmp_path / 'work'),
                           '--minutes', '5', '--', *CPU, '--max-steps', '4', '--data', kit],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    files = sorted(os.path.relpath(os.path.join(d, f), out)
                   for d, _, fs in os.walk(out) for f in fs)
    total = sum(os.path.getsize(os.path.join(out, f)) for f in files)
    assert len(files) <= 8 and total <= 64 * 2**20
    assert {'ft/logs.tar', 'ft/weights.pt', 'fast/logs.tar', 'fast/weights.pt'} <= set(files)
    assert logs(out, 'ft') == ['guess_residual.npz', 'log.txt', 'metrics.jsonl', 'report.json']
    assert logs(out, 'fast') == ['log.txt', 'metrics.jsonl', 'report.json']   # --no-timing
    with tarfile.open(os.path.join(out, 'fast', 'logs.tar')) as tar:
        report = json.load(tar.extractfile('report.json'))
        start = [line for line in map(json.loads, tar.extractfile('metrics.jsonl'))
                 if line.get('event') == 'start'][0]
    _, bundled = nn_model.load(nn_model.DEFAULT_WEIGHTS)
    assert report['steps'] == 4 and start['args']['lr'] == 1e-3   # the bundled weights, faster
    assert start['args']['crop_reuse'] == report['crop_reuse'] == 1   # fresh crops each step
    assert start['config']['widths'] == bundled['config']['widths']
    assert '[ft] ' in proc.stdout and '[fast] ' in proc.stdout     # both relayed, by name


def test_a_run_past_the_deadline_is_stopped_and_its_logs_still_come_back(tiny_kit, tmp_path):
    _, kit = tiny_kit
    out = str(tmp_path / 'out')
    proc = subprocess.run([sys.executable, SCRIPT, '--out', out, '--work', str(tmp_path / 'work'),
                           '--minutes', '5', '--deadline-s', '45', '--runs', 'fast', '--', *CPU,
                           '--data', kit], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and 'stopped' in proc.stdout
    names = logs(out, 'fast')
    assert 'metrics.jsonl' in names and 'report.json' not in names      # stopped mid-training


def test_weights_come_back_by_priority_within_the_limits(tmp_path, monkeypatch):
    slot = load_script('scripts', 'gpu_slot.py')
    work, out = tmp_path / 'work', str(tmp_path / 'out')
    sizes = {'ft': {'weights.pt': 3, 'checkpoint.pt': 9, 'metrics.jsonl': 1},
             'fast': {'weights.pt': 12, 'checkpoint.pt': 37, 'metrics.jsonl': 1}}
    for step in range(1, 6):
        sizes['ft'][f'weights_step{step:06d}.pt'] = 3
        sizes['fast'][f'weights_step{step:06d}.pt'] = 12
    for name, files in sizes.items():
        (work / name).mkdir(parents=True)
        for f, mib in files.items():
            (work / name / f).write_bytes(b'\0' * (mib * 2**20 // 64))   # 1/64 scale
    monkeypatch.setattr(slot, 'MAX_FILE_BYTES', 16 * 2**20 // 64)
    monkeypatch.setattr(slot, 'MAX_TOTAL_BYTES', 64 * 2**20 // 64)
    kept, left = slot.pack(str(work), out, ['ft', 'fast'])
    assert [d for d, _ in kept] == [
        'ft/logs.tar', 'fast/logs.tar', 'ft/weights.pt', 'fast/weights.pt',
        'ft/weights_step000005.pt', 'ft/weights_step000004.pt', 'ft/weights_step000003.pt',
        'ft/weights_step000002.pt']                                     # 8 files: the newest
    assert ('fast/checkpoint.pt', 37 * 2**20 // 64) in left            # over 16 MiB
    assert sorted(os.listdir(os.path.join(out, 'ft'))) == sorted(
        os.path.basename(d) for d, _ in kept if d.startswith('ft/'))
