"""Large molecules: the network, the predicted density and the guess on linear alkanes.

    python benchmarks/scale.py [--atoms 101 302 1001] [--guess-atoms 302] [--out DIR]

Each size runs in a fresh process (peak memory = the process's maximum resident set): the
network's residual on its box, then the predicted density (the network and the fit of the
residual), or the clear error the engine gives when that would exceed the memory available.
``--guess-atoms``: the whole deepscf guess (PBE/STO-3G; no SCF) of that alkane.
``--far-apart``: two methanes that far apart (Angstrom), a box larger than the memory.  Writes
scale.txt and scale.jsonl.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np


def child(size, what):
    """One step on an alkane of ``size`` atoms, or for 'far' two methanes ``size`` Angstrom apart."""
    from pyscf import dft, gto
    from pyscf import deepscf
    from pyscf.deepscf import molio
    from pyscf.deepscf.engine import timing
    if what == 'far':        # a box past any memory
        methane = [('C', (0, 0, 0)), ('H', (.63, .63, .63)), ('H', (-.63, -.63, .63)),
                   ('H', (-.63, .63, -.63)), ('H', (.63, -.63, -.63))]
        atom = methane + [(s, (x + size, y, z)) for s, (x, y, z) in methane]
        mol = gto.M(atom=atom, basis='sto-3g', verbose=0)
    else:
        symbols, coords = molio.alkane(max(1, round((size - 2) / 3)))
        mol = gto.M(atom=list(zip(symbols, coords)), basis='sto-3g', verbose=0)
    # the machine's memory is the bound measured here, not PySCF's default max_memory (4 GB)
    mol.max_memory = 1e6
    predictor = deepscf.default_predictor()
    row = {'natm': mol.natm, 'what': what}
    if what == 'far':
        row['apart_angstrom'] = size
    t0 = time.perf_counter()
    with timing.recording() as steps:
        try:
            if what == 'network':
                grid, _ = predictor.predict(mol)
                row['grid_points'] = grid.size
            elif what in ('density', 'far'):
                density = deepscf.predict_density(mol)
                row['functions'] = density.auxmol.nao
            else:
                mf = dft.RKS(mol, xc='pbe')
                mf.max_memory = mol.max_memory
                dm = deepscf.init_guess_by_deepscf(mf, strict=True)
                row['nao'] = mol.nao
                row['electrons'] = float(np.einsum('ij,ji', dm, mf.get_ovlp()))
            row['outcome'] = 'done'
        except MemoryError as err:
            row['outcome'] = f'{type(err).__name__}: {err}'
    row['steps'] = {k: round(v, 1) for k, v in steps.items()}
    row['seconds'] = round(time.perf_counter() - t0, 1)
    row['peak_MB'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(row))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--atoms', type=int, nargs='+', default=[101, 302, 1001])
    p.add_argument('--guess-atoms', type=int, nargs='*', default=[302])
    p.add_argument('--far-apart', type=float, nargs='*', default=[50000.],
                   help='predicted density of two methanes this many Angstrom apart')
    p.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results'))
    args = p.parse_args(argv)
    runs = [(n, w) for n in args.atoms for w in ('network', 'density')] + \
        [(n, 'guess') for n in args.guess_atoms] + [(d, 'far') for d in args.far_apart]
    rows = []
    print(f'{"atoms":>6s} {"step":>8s} {"s":>7s} {"peak MB":>8s}  outcome')
    for natm, what in runs:
        out = subprocess.run([sys.executable, __file__, '_child', str(natm), what],
                             capture_output=True, text=True)
        if out.returncode:
            row = {'natm': natm, 'what': what, 'outcome': f'process died ({out.returncode}): '
                                                          f'{out.stderr[-300:]}'}
        else:
            row = json.loads(out.stdout.splitlines()[-1])
        rows.append(row)
        print(f'{row["natm"]:6d} {what:>8s} {row.get("seconds", float("nan")):7.1f} '
              f'{row.get("peak_MB", 0):8d}  {row["outcome"]}', flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'scale.jsonl'), 'w') as f:
        for row in rows:
            f.write(json.dumps({**row, 'machine': platform.node()}) + '\n')
    with open(os.path.join(args.out, 'scale.txt'), 'w') as f:
        f.write('# python benchmarks/scale.py; linear alkanes, each step in a fresh process\n')
        for row in rows:
            steps = ', '.join(f'{k} {v:.1f} s' for k, v in row.get('steps', {}).items())
            f.write(f'{row["natm"]:6d} {row["what"]:>8s} {row.get("seconds", 0):7.1f} s '
                    f'{row.get("peak_MB", 0):7d} MB  {row["outcome"]}'
                    + (f' ({steps})' if steps else '') + '\n')


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '_child':
        child(float(sys.argv[2]), sys.argv[3])
    else:
        main()
