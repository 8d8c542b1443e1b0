"""The deepscf initial guess with the bundled model: SCF cycles against PySCF's default (minao).

    python examples/01_guess.py [MOLECULE.xyz] [BASIS]

The model's one-time load (torch's import, the weights, the first network pass) is timed on its
own: a script pays it once, and every later guess in the process is the guess alone.
"""
import os
import sys
import time

from pyscf import dft, gto
from pyscf import deepscf  # registers init_guess='deepscf'

here = os.path.dirname(os.path.abspath(__file__))
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, 'molecules', 'glycine.xyz')
basis = sys.argv[2] if len(sys.argv) > 2 else 'def2-svp'
mol = gto.M(atom=path, basis=basis, verbose=0)

t = time.perf_counter()
deepscf.default_predictor().predict_atoms(['H', 'H'], [[0, 0, 0], [0, 0, 1.4]])   # load + warm up
print(f'model load (once per process) {time.perf_counter() - t:5.1f} s')

for key in ('minao', 'deepscf'):
    mf = dft.RKS(mol, xc='b3lyp')
    mf.init_guess = key
    t = time.perf_counter()
    dm0 = mf.get_init_guess(mol, key)
    t_guess = time.perf_counter() - t
    mf.kernel(dm0=dm0)
    print(f'{key:8s} E = {mf.e_tot:.8f} Ha  cycles = {mf.cycles:3d}  guess = {t_guess:5.2f} s  '
          f'guess + SCF = {time.perf_counter() - t:5.1f} s  converged = {mf.converged}')
