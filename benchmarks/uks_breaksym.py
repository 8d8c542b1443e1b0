"""Closed-shell molecules in UKS: SCF cycles from minao and from the network's guess with
PySCF's alpha/beta symmetry breaking of the guess (init_guess_breaksym=1, PySCF's default)
applied to both, and with it off.

    python benchmarks/uks_breaksym.py [--out benchmarks/results]

The deepscf guess of a spin-0 UHF/UKS with init_guess_breaksym falls back to PySCF's own
broken guess (domain.method_gaps); this measures the alternative, PySCF's breaking applied to
the deepscf guess (scf.uhf._break_dm_spin_symm), against minao.  B3LYP/def2-SVP; writes
uks_breaksym.txt.
"""
import argparse
import os
import sys

import numpy as np
from pyscf import dft, gto, scf

from pyscf import deepscf

MOLECULES = ('water', 'methanol', 'urea', 'glycine', 'pyridine')
DEV = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'molecules', 'dev')


def run(mol, breaksym, guess):
    mf = dft.UKS(mol, xc='b3lyp')
    mf.verbose = 0
    mf.init_guess_breaksym = breaksym
    dm0 = None
    if guess == 'deepscf':            # the network's guess, then PySCF's breaking of it
        unbroken = dft.UKS(mol, xc='b3lyp')
        unbroken.init_guess_breaksym = False
        dm0 = deepscf.init_guess_by_deepscf(unbroken, strict=True)
        if breaksym:
            dm0 = np.asarray(scf.uhf._break_dm_spin_symm(mol, dm0, breaksym))
    mf.kernel(dm0=dm0)
    return mf.cycles, mf.e_tot


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results'))
    args = p.parse_args(argv)
    lines = [f'{"molecule":10s} {"breaksym=1: minao":>18s} {"deepscf":>8s} | '
             f'{"breaksym off: minao":>20s} {"deepscf":>8s} | {"max |dE| Ha":>11s}']
    total = np.zeros(4, dtype=int)
    for name in MOLECULES:
        mol = gto.M(atom=os.path.join(DEV, name + '.xyz'), basis='def2-svp', verbose=0)
        runs = [run(mol, bs, g) for bs in (1, False) for g in ('minao', 'deepscf')]
        cycles = np.array([c for c, _ in runs])
        total += cycles
        de = max(abs(e - runs[0][1]) for _, e in runs)
        lines.append(f'{name:10s} {cycles[0]:18d} {cycles[1]:8d} | {cycles[2]:20d} '
                     f'{cycles[3]:8d} | {de:11.1e}')
        print(lines[-1], flush=True)
    lines.append(f'{"all":10s} {total[0]:18d} {total[1]:8d} | {total[2]:20d} {total[3]:8d} |')
    text = '\n'.join(lines)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'uks_breaksym.txt'), 'w') as f:
        f.write('# python benchmarks/uks_breaksym.py (UKS B3LYP/def2-SVP, bundled network)\n'
                + text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
