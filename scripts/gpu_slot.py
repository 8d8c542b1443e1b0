#!/usr/bin/env python
"""One GPU slot, two training runs side by side, and the files the device tool can bring back.

    PYTHONUNBUFFERED=1 python3 scripts/gpu_slot.py --out $OUT

runs ``gpu_train.py train`` twice at once on the one GPU, each for ``--minutes``:

* ``ft``: the bundled weights continued at lr 3e-4 (cosine to 1e-5);
* ``fast``: the same weights continued at lr 1e-3: which rate a short continuation wants.

Why side by side: one run's steps leave most of the GPU idle (drawing the crops, kernel
launches of one process), so a second process adds steps; each run's ``report.json`` gives its
steps per second.  Why ``--crop-reuse 1``: continuing trained weights, a step on a reused crop
was worth less than a step on a fresh one (docs/experiments.md, "Crop reuse").

The device tool returns at most 8 files of 16 MiB, 64 MiB in all.  Each run trains in a work
folder; at the end (also when a run fails or outlives ``--deadline-s``) this script copies into
``--out/NAME/`` a ``logs.tar`` (metrics.jsonl, report.json, log.txt, guess_residual.npz) and
then weight files by priority (each run's weights.pt, then snapshots, newest first, then the
checkpoints) while they fit.  Back here:

    cp -r FILES_AT RUN && tar -xf RUN/ft/logs.tar -C RUN/ft   # files_at is read-only
    python scripts/gpu_train.py finish --run RUN/ft ...

Arguments after ``--`` go to both runs (a CPU dry run: ``-- --device cpu --batch-size 2``).
"""
import argparse
import glob
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, 'scripts', 'gpu_train.py')
COMMON = ['--data', os.path.join(ROOT, 'kit'), '--batch-size', '32', '--coulomb-loss', '30',
          '--warmup-steps', '100', '--threads', '4', '--crop-reuse', '1']
BUNDLED = os.path.join(ROOT, 'weights', 'deepscf_default.pt')
RUNS = {
    'ft': ['--init', BUNDLED, '--keep-snapshots', '2'],
    'fast': ['--init', BUNDLED, '--lr', '1e-3', '--keep-snapshots', '2', '--no-timing'],
}
LOG_FILES = ('metrics.jsonl', 'report.json', 'log.txt', 'guess_residual.npz')
MAX_FILES, MAX_FILE_BYTES, MAX_TOTAL_BYTES = 8, 16 * 2**20, 64 * 2**20   # the device tool's


def relay(proc, name, log_path):
    """Copy a run's output to its log.txt and to our stdout, each line prefixed by its name."""
    with open(log_path, 'w') as log:
        for line in proc.stdout:
            log.write(line)
            log.flush()
            print(f'[{name}] {line}', end='', flush=True)


def start(name, work, minutes, extra):
    folder = os.path.join(work, name)
    os.makedirs(folder, exist_ok=True)
    cmd = [sys.executable, TRAIN, 'train', '--out', folder, '--minutes', str(minutes),
           *COMMON, *RUNS[name], *extra]
    print(f'[{name}] ' + ' '.join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    thread = threading.Thread(target=relay, args=(proc, name, os.path.join(folder, 'log.txt')),
                              daemon=True)
    thread.start()
    return proc, thread


def wait(procs, deadline):
    """Wait for the runs; stop (SIGTERM, then SIGKILL) any still running at ``deadline``."""
    for name, (proc, thread) in procs.items():
        try:
            proc.wait(timeout=max(deadline - time.time(), 0.1))
        except subprocess.TimeoutExpired:
            print(f'[{name}] still running at the deadline: stopped', flush=True)
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        thread.join(timeout=5)
        print(f'[{name}] exit code {proc.returncode}', flush=True)


def returned_files(work, names):
    """(source, destination relative to --out) in the order they should come back: the logs,
    each run's weights.pt, the snapshots (newest first, run by run), the checkpoints."""
    logs = [(os.path.join(work, n, 'logs.tar'), f'{n}/logs.tar') for n in names]
    best = [(os.path.join(work, n, 'weights.pt'), f'{n}/weights.pt') for n in names]
    snapshots = [(p, f'{n}/{os.path.basename(p)}') for n in names for p in
                 sorted(glob.glob(os.path.join(work, n, 'weights_step*.pt')), reverse=True)]
    checkpoints = [(os.path.join(work, n, 'checkpoint.pt'), f'{n}/checkpoint.pt') for n in names]
    return [(s, d) for s, d in logs + best + snapshots + checkpoints if os.path.isfile(s)]


def pack(work, out, names):
    """Copy what fits the device tool's limits from ``work`` into ``out``; returns the list of
    (relative path, bytes) copied and of those left out."""
    for n in names:
        with tarfile.open(os.path.join(work, n, 'logs.tar'), 'w') as tar:
            for f in LOG_FILES:
                if os.path.isfile(os.path.join(work, n, f)):
                    tar.add(os.path.join(work, n, f), arcname=f)
    kept, left, total = [], [], 0
    for src, dst in returned_files(work, names):
        size = os.path.getsize(src)
        if len(kept) < MAX_FILES and size <= MAX_FILE_BYTES and total + size <= MAX_TOTAL_BYTES:
            os.makedirs(os.path.dirname(os.path.join(out, dst)), exist_ok=True)
            shutil.copyfile(src, os.path.join(out, dst))
            kept.append((dst, size))
            total += size
        else:
            left.append((dst, size))
    return kept, left


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index('--') + 1:] if '--' in argv else []
    argv = argv[:argv.index('--')] if '--' in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', required=True, help='the folder that comes back ($OUT)')
    p.add_argument('--work', default=None,
                   help='the runs\' own folders, outside OUT (default /tmp/gpu_slot_PID)')
    p.add_argument('--minutes', type=float, default=8.0, help='training minutes of each run')
    p.add_argument('--deadline-s', type=float, default=570.0,
                   help='runs still going this long after the start are stopped, so that the '
                        'copy ends inside the device tool\'s 600 s')
    p.add_argument('--runs', nargs='+', choices=sorted(RUNS), default=list(RUNS))
    args = p.parse_args(argv)
    t0 = time.time()
    work = args.work or os.path.join('/tmp', f'gpu_slot_{os.getpid()}')
    os.makedirs(args.out, exist_ok=True)
    procs = {n: start(n, work, args.minutes, extra) for n in args.runs}
    try:
        wait(procs, t0 + args.deadline_s)
    finally:
        kept, left = pack(work, args.out, args.runs)
        for dst, size in kept:
            print(f'returned {dst} ({size / 2**20:.1f} MiB)', flush=True)
        for dst, size in left:
            print(f'left out {dst} ({size / 2**20:.1f} MiB): over the device tool\'s limits',
                  flush=True)
    failed = [n for n, (proc, _) in procs.items() if proc.returncode != 0]
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
