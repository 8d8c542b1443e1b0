"""How fast the GPU kit draws its training crops from the compact set, by how many structures
are evaluated together (compact.crop_batch's ``group``).

    python benchmarks/crop_sampling.py [--data kit] [--device cpu] [--batch-sizes 8 32]
                                       [--groups 1 4 8 0] [--repeats 3] [--threads 1]
                                       [--out benchmarks/results]

Draws ``--repeats`` batches of random rotated 32³ crops of training structures of the compact
set (every 8th: QM9 and drug-like ones in the kit's proportions) and evaluates each batch once
per group size (1: one structure at a time, what crop_sample does and what the kit did
before grouping; 0: the whole batch at once, padded to its largest structure), synchronized on
``--device``; the same rotations and crops every way, and the largest difference of the
targets from group 1's is printed with the times.  Writes crop_sampling_<device>.txt and
.jsonl.  Torch and numpy only: it runs on the GPU machine too.
"""
import argparse
import json
import os
import platform
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
from gpu_train import enter_package_without_pyscf  # noqa: E402

enter_package_without_pyscf()
from pyscf.deepscf.training import compact  # noqa: E402
from pyscf.deepscf.training.batches import synchronized_time  # noqa: E402


def time_batch(stack, positions, groups, crop, device, seed):
    """({group: seconds}, {group: largest |y - y of group 1|}) of one batch of crops."""
    rng = np.random.default_rng(seed)
    geometries = [compact.crop_geometry(stack.coords_np[p], rng, 0.3, 5.0, crop)
                  for p in positions]
    seconds, y = {}, {}
    for group in [1] + [g for g in groups if g != 1]:
        t0 = synchronized_time(device)
        y[group] = compact.crop_batch(stack, positions, geometries, crop, group or None)[1]
        seconds[group] = synchronized_time(device) - t0
    return seconds, {g: float((y[g] - y[1]).abs().max()) for g in groups}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=os.path.join(ROOT, 'kit'))
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--batch-sizes', type=int, nargs='+', default=[8, 32])
    p.add_argument('--structures', type=int, default=200,
                   help='training structures drawn from (the first N of the split)')
    p.add_argument('--groups', type=int, nargs='+', default=[1, 4, 8, 0],
                   help='structures evaluated together (0: the whole batch)')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--crop', type=int, default=32)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', default=os.path.join(ROOT, 'benchmarks', 'results'))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    data = compact.CompactSet(args.data)
    # every 8th training structure: QM9 and drug-like ones in the kit's proportions
    indices = data.indices('train')[::8][:args.structures]
    stack = compact.StructureStack([data.structure(i, device) for i in indices])
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.node()
    rows = []
    for batch in args.batch_sizes:
        for r in range(args.repeats + 1):                  # the first: warm-up, not kept
            positions = np.random.default_rng([batch, r]).choice(len(indices), batch)
            seconds, diff = time_batch(stack, positions, args.groups, args.crop, device, r)
            if r:
                rows += [{'device': str(device), 'name': name, 'threads': args.threads,
                          'batch': batch, 'crop': args.crop, 'group': g,
                          'atoms_mean': float(np.mean(stack.natm[positions])),
                          'seconds': round(seconds[g], 4), 'max_abs_diff_y': diff[g]}
                         for g in args.groups]
                print(rows[-len(args.groups):], flush=True)
    lines = [f'crop sampling on {device} ({name}), {args.threads} thread(s), crops of '
             f'{args.crop}^3 from {len(indices)} training structures of '
             f'{" ".join(os.path.relpath(f, ROOT) for f in data.files)}; seconds '
             'per batch (median), by structures evaluated together (0: the whole batch)', '',
             '| batch | atoms (mean) | ' + ' | '.join(f'group {g}' for g in args.groups)
             + ' | crops/s, fastest |', '|---|---|' + '---|' * (len(args.groups) + 1)]
    for batch in args.batch_sizes:
        part = [r for r in rows if r['batch'] == batch]
        median = {g: np.median([r['seconds'] for r in part if r['group'] == g])
                  for g in args.groups}
        lines.append(f'| {batch} | {np.mean([r["atoms_mean"] for r in part]):.1f} | '
                     + ' | '.join(f'{median[g]:.3f}' for g in args.groups)
                     + f' | {batch / min(median.values()):.1f} |')
    lines += ['', f'{args.repeats} batches each; largest |y - y one at a time| '
              f'{max(r["max_abs_diff_y"] for r in rows):.1e} e/bohr^3']
    print('\n'.join(lines))
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f'crop_sampling_{device.type}')
    with open(stem + '.txt', 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(stem + '.jsonl', 'w') as f:
        f.writelines(json.dumps(r) + '\n' for r in rows)


if __name__ == '__main__':
    main()
