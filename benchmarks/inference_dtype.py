"""CPU inference of the network in float32 (as NetworkPredictor runs it) against bfloat16.

    python benchmarks/inference_dtype.py [XYZ ...] [--weights W] [--out DIR]

For each molecule: the box, the seconds of one forward pass of the frozen (MKL-DNN) module in
float32 and with parameters and input cast to bfloat16 (the second call of each, one thread),
and how far bfloat16 moves the predicted residual: |Δρ_bf16 − Δρ_fp32|_1 / |Δρ_fp32|_1.
Prints a table and writes DIR/inference_bf16_cpu.{txt,jsonl}.  Whether bfloat16 is fast depends on the
CPU (avx512_bf16 or AMX); the network's own error, for scale, is about 13 % of |Δρ|_1.
"""
import argparse
import json
import os
import platform
import time

import torch
from pyscf import gto

from pyscf.deepscf.engine import atoms, fingerprints, model
from pyscf.deepscf.engine.grid import box_grid

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = [os.path.join(HERE, '..', '..', 'shared', 'molecules', 'dev', 'vanillin.xyz')] + [
    os.path.join(HERE, 'large', f) for f in ('penicillin_g.xyz', 'icosane.xyz', 'cholesterol.xyz')]


def timed(module, x):
    """(seconds of the second call, output as float32)."""
    module(x)                                     # the first builds oneDNN's primitives
    t0 = time.perf_counter()
    y = module(x)
    return time.perf_counter() - t0, y.float()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('paths', nargs='*', default=DEFAULT)
    p.add_argument('--weights', default=model.DEFAULT_WEIGHTS)
    p.add_argument('--out', default=os.path.join(HERE, 'results'))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    cpu = torch.device('cpu')
    fp32, meta = model.load(args.weights)
    bf16, _ = model.load(args.weights)
    fp32 = model.inference_module(fp32, cpu)
    bf16 = model.inference_module(bf16.to(torch.bfloat16), cpu)
    lines = [f'# {os.path.basename(args.weights)}, one thread, {platform.node()}, '
             f'torch {torch.__version__}',
             f'{"molecule":24s} {"atoms":>5s} {"box":>16s} {"fp32 s":>7s} {"bf16 s":>7s} '
             f'{"speed-up":>8s} {"|d res|/|res|":>13s}']
    print('\n'.join(lines), flush=True)
    rows = []
    for path in args.paths:
        mol = gto.M(atom=path, basis='sto-3g', verbose=0)
        symbols, coords = atoms.atom_symbols(mol), mol.atom_coords()
        grid = box_grid(coords, meta['spacing_bohr'], meta['margin_bohr'], meta['factor'])
        x = torch.from_numpy(fingerprints.fingerprints_on_grid(symbols, coords, grid))[None]
        with torch.inference_mode():
            t32, y32 = timed(fp32, x.float())
            t16, y16 = timed(bf16, x.to(torch.bfloat16))
        change = float((y16 - y32).abs().sum() / y32.abs().sum())
        rows.append({'molecule': os.path.basename(path), 'natm': mol.natm,
                     'box': list(grid.shape), 'fp32_s': t32, 'bf16_s': t16,
                     'residual_change': change})
        lines.append(f'{rows[-1]["molecule"]:24s} {mol.natm:5d} {str(tuple(grid.shape)):>16s} '
                     f'{t32:7.2f} {t16:7.2f} {t32 / t16:8.2f} {change:13.2e}')
        print(lines[-1], flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'inference_bf16_cpu.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(os.path.join(args.out, 'inference_bf16_cpu.jsonl'), 'w') as f:
        for r in rows:
            f.write(json.dumps(r) + '\n')


if __name__ == '__main__':
    main()
