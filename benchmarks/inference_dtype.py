"""CPU inference of the network: the stored TorchScript graph against the network as
NetworkPredictor runs it (this version's UNet3D, channels-last) in float32 and in bfloat16.

    python benchmarks/inference_dtype.py [XYZ ...] [--threads 1 2] [--weights W] [--out DIR]

For each molecule and thread count: the box, the seconds of one forward pass (the second call
of each) of the stored graph frozen with MKL-DNN convolutions (how inference ran before), of
the rebuilt network in float32 and in bfloat16, and how far each moves the predicted residual
from the stored graph's: |Δρ − Δρ_stored|_1 / |Δρ_stored|_1.  Prints a table and writes
DIR/inference_bf16_cpu.{txt,jsonl}.  Whether bfloat16 is fast depends on the CPU (avx512_bf16
or AMX: model.native_bfloat16); the network's own error, for scale, is about 14 % of |Δρ|_1.
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
DEV = os.path.join(HERE, '..', '..', 'shared', 'molecules', 'dev')
DEFAULT = [os.path.join(DEV, f) for f in ('water.xyz', 'glycine.xyz', 'vanillin.xyz')] + [
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
    p.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    p.add_argument('--weights', default=model.DEFAULT_WEIGHTS)
    p.add_argument('--out', default=os.path.join(HERE, 'results'))
    args = p.parse_args(argv)
    cpu = torch.device('cpu')
    stored, meta = model.load(args.weights)
    modules = {'stored': model.inference_module(stored, cpu),
               'fp32': model.inference_module(stored, cpu, meta['config'], torch.float32),
               'bf16': model.inference_module(stored, cpu, meta['config'], torch.bfloat16)}
    lines = [f'# python benchmarks/inference_dtype.py; {os.path.basename(args.weights)}, '
             f'{platform.node()}, torch {torch.__version__}, native bfloat16: '
             f'{model.native_bfloat16()}; seconds of one forward pass; change = '
             f'|d res|_1 / |res|_1 against the stored graph',
             f'{"molecule":16s} {"atoms":>5s} {"box":>15s} {"thr":>3s} {"stored":>7s} '
             f'{"fp32":>6s} {"bf16":>6s} {"x fp32":>6s} {"x bf16":>6s} {"chg fp32":>8s} '
             f'{"chg bf16":>8s}']
    print('\n'.join(lines), flush=True)
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for path in args.paths:
            mol = gto.M(atom=path, basis='sto-3g', verbose=0)
            symbols, coords = atoms.atom_symbols(mol), mol.atom_coords()
            grid = box_grid(coords, meta['spacing_bohr'], meta['margin_bohr'], meta['factor'])
            x = torch.from_numpy(fingerprints.fingerprints_on_grid(symbols, coords, grid))[None]
            with torch.inference_mode():
                out = {k: timed(m, x) for k, m in modules.items()}
            ref = out['stored'][1]
            row = {'molecule': os.path.splitext(os.path.basename(path))[0], 'natm': mol.natm,
                   'box': list(grid.shape), 'threads': threads,
                   **{f'{k}_s': t for k, (t, _) in out.items()},
                   **{f'{k}_change': float((y - ref).abs().sum() / ref.abs().sum())
                      for k, (_, y) in out.items() if k != 'stored'}}
            rows.append(row)
            lines.append(f'{row["molecule"]:16s} {mol.natm:5d} {str(tuple(grid.shape)):>15s} '
                         f'{threads:3d} {row["stored_s"]:7.2f} {row["fp32_s"]:6.2f} '
                         f'{row["bf16_s"]:6.2f} {row["stored_s"] / row["fp32_s"]:6.2f} '
                         f'{row["stored_s"] / row["bf16_s"]:6.2f} {row["fp32_change"]:8.1e} '
                         f'{row["bf16_change"]:8.1e}')
            print(lines[-1], flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'inference_bf16_cpu.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(os.path.join(args.out, 'inference_bf16_cpu.jsonl'), 'w') as f:
        for r in rows:
            f.write(json.dumps(r) + '\n')


if __name__ == '__main__':
    main()
