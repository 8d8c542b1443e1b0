"""The deepscf initial guess with the bundled model: SCF cycles against PySCF's default (minao).

    python examples/01_guess.py [MOLECULE.xyz] [BASIS]
"""
import os
import sys
import time

from pyscf import dft, gto
import pyscf.deepscf  # noqa: F401  registers init_guess='deepscf'

here = os.path.dirname(os.path.abspath(__file__))
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, 'molecules', 'glycine.xyz')
basis = sys.argv[2] if len(sys.argv) > 2 else 'def2-svp'
mol = gto.M(atom=path, basis=basis, verbose=0)

for key in ('minao', 'deepscf'):
    mf = dft.RKS(mol, xc='b3lyp')
    mf.init_guess = key
    t = time.perf_counter()
    mf.kernel()
    print(f'{key:8s} E = {mf.e_tot:.8f} Ha  cycles = {mf.cycles:3d}  '
          f'time = {time.perf_counter() - t:5.1f} s  converged = {mf.converged}')
