"""NonSCF with the bundled model: energy, dipole and polarizability from one Fock build.

    python examples/02_nonscf.py [MOLECULE.xyz] [BASIS]
"""
import os
import sys
import time
import warnings

from pyscf import dft, gto
from pyscf import deepscf

here = os.path.dirname(os.path.abspath(__file__))
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, 'molecules', 'glycine.xyz')
basis = sys.argv[2] if len(sys.argv) > 2 else 'def2-svp'
mol = gto.M(atom=path, basis=basis, verbose=0)

t = time.perf_counter()
mf = deepscf.NonSCF(mol, xc='pbe').run()
t_nonscf = time.perf_counter() - t
t = time.perf_counter()
ref = dft.RKS(mol, xc='pbe').run()
t_scf = time.perf_counter() - t
print(f'NonSCF  E = {mf.e_tot:.8f} Ha (KS of the output {mf.e_ks:.8f}, Harris '
      f'{mf.e_harris:.8f}, Harris of the output {mf.e_harris_output:.8f})  {t_nonscf:.1f} s')
print(f'SCF     E = {ref.e_tot:.8f} Ha  {ref.cycles} cycles  {t_scf:.1f} s')
print(f'error   {1e3 * (mf.e_tot - ref.e_tot):.3f} mHa')
print('dipole (Debye) NonSCF', mf.dip_moment(verbose=0).round(3), ' SCF', ref.dip_moment(verbose=0).round(3))
with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    from pyscf.prop.polarizability.rks import Polarizability
print('isotropic polarizability (a.u.) NonSCF %.3f  SCF %.3f' % (
    Polarizability(mf).polarizability().trace() / 3, Polarizability(ref).polarizability().trace() / 3))
