"""A larger molecule (penicillin G, 41 atoms, with sulfur): density-fitted B3LYP from the deepscf
guess against minao, and the predicted residual density as a cube file and a picture.

    python examples/03_larger_molecule.py [MOLECULE.xyz] [BASIS] [OUT_FOLDER]
"""
import os
import sys
import time

from pyscf import dft, gto
from pyscf import deepscf
from pyscf.deepscf import cube

here = os.path.dirname(os.path.abspath(__file__))
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, 'molecules', 'penicillin_g.xyz')
basis = sys.argv[2] if len(sys.argv) > 2 else 'def2-svp'
out = sys.argv[3] if len(sys.argv) > 3 else '.'
mol = gto.M(atom=path, basis=basis, verbose=0)
print(f'{os.path.basename(path)}: {mol.natm} atoms, {mol.nao} basis functions ({basis})')

t = time.perf_counter()
density = deepscf.predict_density(mol)        # network + fit: the predicted density
print(f'predicted density: {density.nelectron:.3f} electrons on a {density.grid.shape} grid '
      f'({time.perf_counter() - t:.1f} s)')
name = os.path.splitext(os.path.basename(path))[0]
cube.density_cube(mol, density, os.path.join(out, f'{name}_residual.cube'), residual=True)
cube.residual_picture(mol, density, os.path.join(out, f'{name}_residual.png'))
print(f'wrote {name}_residual.cube and {name}_residual.png in {out}')

for key in ('minao', 'deepscf'):
    mf = dft.RKS(mol, xc='b3lyp').density_fit()
    mf.init_guess = key
    t = time.perf_counter()
    mf.kernel()
    print(f'{key:8s} E = {mf.e_tot:.8f} Ha  cycles = {mf.cycles:3d}  '
          f'time = {time.perf_counter() - t:6.1f} s')
