"""Training throughput on the CPU: which settings feed the network the most voxels per second.

    python benchmarks/train_throughput.py [--threads 1] [--steps 6] [--out benchmarks/results]

One training step (forward, masked loss, backward, AdamW) of the bundled architecture on
random crops, timed over ``--steps`` steps after two warm-up steps, for each setting: crop edge
and batch size, channels-last memory layout, torch.compile, bfloat16 autocast, and the width of
the network.  The crops are random numbers: this times the arithmetic alone.  Drawing real crops
costs as much again when it shares the thread (``--workers 0``; docs/experiments.md, levers at
equal compute), less with ``--crop-reuse``.  Writes train_throughput.txt and .jsonl.
"""
import argparse
import json
import os
import platform
import time

import torch

from pyscf.deepscf.engine import fingerprints, model as nn_model
from pyscf.deepscf.training.objectives import masked_loss

SETTINGS = [  # (name, crop, batch, options)
    ('default (crop 32, batch 2)', 32, 2, {}),
    ('crop 24, batch 4', 24, 4, {}),
    ('crop 40, batch 1', 40, 1, {}),
    ('crop 32, batch 4', 32, 4, {}),
    ('channels-last', 32, 2, {'channels_last': True}),
    ('bfloat16 autocast', 32, 2, {'bf16': True}),
    ('torch.compile', 32, 2, {'compile': True}),
    ('torch.compile + bfloat16', 32, 2, {'compile': True, 'bf16': True}),
    ('torch.compile, crop 24 b 4', 24, 4, {'compile': True}),
    ('wider: 24-48-96', 32, 2, {'widths': [24, 48, 96]}),
    ('wider: 32-64-128', 32, 2, {'widths': [32, 64, 128]}),
]


def time_setting(crop, batch, steps, channels_last=False, bf16=False, compile=False,
                 widths=None):
    """Seconds per training step and parameters of the model for one setting."""
    torch.manual_seed(0)
    cfg = dict(nn_model.DEFAULT_CONFIG, out_scale=0.0128)
    if widths:
        cfg['widths'] = widths
    model = nn_model.UNet3D(cfg)
    fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    net = torch.compile(model) if compile else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, fingerprints.N_CHANNELS, crop, crop, crop).to(memory_format=fmt)
    y = torch.randn(batch, 1, crop, crop, crop) * 0.01
    mask = torch.ones_like(y)
    seconds = []
    for step in range(steps + 2):
        t0 = time.perf_counter()
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
            pred = net(x)
        loss = masked_loss(pred.float(), y, mask, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seconds.append(time.perf_counter() - t0)
    per_step = sorted(seconds[2:])[len(seconds[2:]) // 2]         # median after warm-up
    return per_step, sum(p.numel() for p in model.parameters())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--steps', type=int, default=6)
    p.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results'))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    head = f'{"setting":28s} {"params":>9s} {"s/step":>7s} {"Mvoxel/s":>9s} {"vs default":>10s}'
    print(head, flush=True)
    for name, crop, batch, options in SETTINGS:
        try:
            per_step, params = time_setting(crop, batch, args.steps, **options)
            row = {'setting': name, 'crop': crop, 'batch': batch, **options, 'params': params,
                   'seconds_per_step': per_step, 'mvoxels_per_s': batch * crop ** 3 / per_step / 1e6}
        except Exception as err:            # a setting this torch build cannot run
            row = {'setting': name, 'error': f'{type(err).__name__}: {str(err)[:200]}'}
        rows.append(row)
        if 'error' in row:
            print(f'{name:28s} failed: {row["error"]}', flush=True)
        else:
            print(f'{name:28s} {params:9d} {per_step:7.2f} {row["mvoxels_per_s"]:9.3f} '
                  f'{row["mvoxels_per_s"] / rows[0]["mvoxels_per_s"]:10.2f}', flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'train_throughput.jsonl'), 'w') as f:
        for row in rows:
            f.write(json.dumps({**row, 'threads': args.threads, 'torch': torch.__version__,
                                'machine': platform.node()}) + '\n')
    with open(os.path.join(args.out, 'train_throughput.txt'), 'w') as f:
        f.write(f'# python benchmarks/train_throughput.py --threads {args.threads}; '
                f'torch {torch.__version__}; median s/step of {args.steps}\n{head}\n')
        for row in rows:
            if 'error' in row:
                f.write(f'{row["setting"]:28s} failed: {row["error"]}\n')
            else:
                f.write(f'{row["setting"]:28s} {row["params"]:9d} {row["seconds_per_step"]:7.2f} '
                        f'{row["mvoxels_per_s"]:9.3f} '
                        f'{row["mvoxels_per_s"] / rows[0]["mvoxels_per_s"]:10.2f}\n')


if __name__ == '__main__':
    main()
