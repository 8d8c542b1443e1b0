"""The README's picture: glycine's molecular plane, the network's input, its predicted residual
density and the SCF's (B3LYP/def2-SVP), written to docs/slices_glycine.png.

    python scripts/make_slice_figure.py [MOLECULE.xyz] [OUT.png]
"""
import os
import sys

from pyscf import dft, gto

from pyscf.deepscf import cube, predict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'examples', 'molecules',
                                                          'glycine.xyz')
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, 'docs', 'slices_glycine.png')
mol = gto.M(atom=path, basis='def2-svp', verbose=0)
mf = dft.RKS(mol, xc='b3lyp').run()
cube.slices_picture(mol, predict.predict_density(mol), mf.make_rdm1(), out)
print(f'wrote {out}')
