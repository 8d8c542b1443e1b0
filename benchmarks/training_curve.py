"""Learning curves of training runs: validation NMAE against steps and against training hours.

    python benchmarks/training_curve.py RUN_DIR [RUN_DIR ...] [--labels A B] [--out benchmarks/results]
                                       [--name training_curve]

Reads each run's ``metrics.jsonl`` (written by ``deepscf train`` and by the GPU kit). Training
time is the sum of the intervals between consecutive log lines, leaving out pauses longer than
``--max-gap`` minutes (a run resumed later), so a run stopped and resumed many times
is on the same clock as one that ran through. Prints a table (every validation), writes
<name>.txt, .jsonl and .png: NMAE of rho (%) against steps and against hours, and the training
loss (a running mean of 20 log lines) against steps.
"""
import argparse
import json
import os

import numpy as np


def read_run(path, max_gap_s=900.0):
    """Validation and loss records of one run folder (or metrics.jsonl) with training seconds.

    Returns dict(val=[(step, hours, nmae_rho_percent)], loss=[(step, loss)], starts=int).
    """
    if os.path.isdir(path):
        path = os.path.join(path, 'metrics.jsonl')
    val, loss, starts = [], [], 0
    seconds, last_time, resumed = 0.0, None, False
    for line in open(path):
        rec = json.loads(line)
        if 'time' in rec:
            if last_time is not None and 0 < rec['time'] - last_time <= max_gap_s:
                seconds += rec['time'] - last_time
            last_time = rec['time']
        if rec.get('event') == 'start':
            starts += 1
            resumed = starts > 1
            continue
        if resumed:
            # A resumed run repeats the steps after its checkpoint: its first logged step drops
            # what the run before logged from there on.
            step = rec['step']
            val = [v for v in val if v[0] < step or ('val' not in rec and v[0] == step)]
            loss = [v for v in loss if v[0] < step or ('val' in rec and v[0] == step)]
            resumed = False
        if 'val' in rec:
            val.append((rec['step'], seconds / 3600, rec['val']['nmae_rho_percent']))
        elif 'loss' in rec:
            loss.append((rec['step'], rec['loss']))
    return {'val': val, 'loss': loss, 'starts': starts}


def running_mean(values, window=20):
    """Running mean over ``window`` values; the values themselves when there are fewer."""
    values = np.asarray(values, dtype=float)
    if len(values) < window:
        return values
    return np.convolve(values, np.ones(window) / window, mode='valid')


def report(runs, labels):
    lines = []
    for label, run in zip(labels, runs):
        val = run['val']
        if not val:
            lines.append(f'{label}: no validation yet')
            continue
        best = min(val, key=lambda v: v[2])
        lines.append(f'## {label}: {len(val)} validations, {run["starts"]} start(s); '
                     f'first {val[0][2]:.3f} % at step {val[0][0]}, best {best[2]:.3f} % at step '
                     f'{best[0]} ({best[1]:.2f} h), last {val[-1][2]:.3f} % at step {val[-1][0]} '
                     f'({val[-1][1]:.2f} h, {val[-1][0] / max(val[-1][1], 1e-9):.0f} steps/h)')
        lines.append(f'{"step":>7} {"hours":>7} {"NMAE rho %":>11}')
        lines += [f'{s:7d} {h:7.2f} {v:11.3f}' for s, h, v in val]
    return '\n'.join(lines)


def plot(runs, labels, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for label, run in zip(labels, runs):
        if run['val']:
            steps, hours, nmae = zip(*run['val'])
            axes[0].plot(steps, nmae, 'o-', ms=3, label=label)
            axes[1].plot(hours, nmae, 'o-', ms=3, label=label)
        if run['loss']:
            steps, loss = zip(*run['loss'])
            smooth = running_mean(loss)
            axes[2].semilogy(steps[len(steps) - len(smooth):], smooth, label=label)
    axes[0].set(xlabel='step', ylabel='validation NMAE of rho (%)')
    axes[1].set(xlabel='training hours', ylabel='validation NMAE of rho (%)')
    axes[2].set(xlabel='step', ylabel='training loss (running mean)')
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('runs', nargs='+', help='run folders or metrics.jsonl files')
    p.add_argument('--labels', nargs='+', help='one per run (default: the folder names)')
    p.add_argument('--max-gap', type=float, default=15.0,
                   help='minutes; a longer pause between log lines is not training time')
    p.add_argument('--out', default=None, help='write <name>.txt, .jsonl, .png here')
    p.add_argument('--name', default='training_curve')
    args = p.parse_args(argv)
    labels = args.labels or [os.path.basename(os.path.normpath(r)) for r in args.runs]
    if len(labels) != len(args.runs):
        p.error(f'{len(args.runs)} runs but {len(labels)} labels')
    runs = [read_run(r, args.max_gap * 60) for r in args.runs]
    text = report(runs, labels)
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        stem = os.path.join(args.out, args.name)
        with open(stem + '.txt', 'w') as f:
            f.write(text + '\n')
        with open(stem + '.jsonl', 'w') as f:
            for label, run in zip(labels, runs):
                for s, h, v in run['val']:
                    f.write(json.dumps({'run': label, 'step': s, 'hours': round(h, 4),
                                        'nmae_rho_percent': v}) + '\n')
        plot(runs, labels, stem + '.png')
        print(f'wrote {stem}.txt, .jsonl and .png')


if __name__ == '__main__':
    main()
