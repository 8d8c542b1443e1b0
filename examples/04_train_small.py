"""A small training run from scratch: reference SCFs of a few QM9 molecules, a few minutes of
training, exported weights, and a guess with them.  (The bundled model was trained the same way,
on 1,500 structures and for longer: see the README.)

    python examples/04_train_small.py [--molecules 12] [--minutes 3] [--steps N] [--basis def2-svp]
                                      [--out DIR]
"""
import argparse
import os
import tempfile

from pyscf import dft, gto
from pyscf import deepscf
from pyscf.deepscf.cli import main as deepscf_command
from pyscf.deepscf.engine.model import NetworkPredictor

p = argparse.ArgumentParser()
p.add_argument('--molecules', type=int, default=12)
p.add_argument('--minutes', type=float, default=3)
p.add_argument('--steps', type=int, default=None, help='stop after this many steps instead')
p.add_argument('--basis', default='def2-svp')
p.add_argument('--out', default=os.path.join(tempfile.gettempdir(), 'deepscf_small_run'))
args = p.parse_args()
data, run = os.path.join(args.out, 'data'), os.path.join(args.out, 'run')
weights = os.path.join(args.out, 'small.pt')

# 1. reference densities (a rerun resumes), 2. training with validation, 3. export
deepscf_command(['data', 'generate', '--qm9', str(args.molecules), '--basis', args.basis,
                 '--workers', '0', '--out', data, '--no-progress'])
deepscf_command(['train', '--data', data, '--out', run, '--max-minutes', str(args.minutes),
                 '--widths', '8', '16', '--val-every', '20', '--no-progress',
                 '--export', weights]
                + (['--max-steps', str(args.steps)] if args.steps else []))

# 4. the new weights as the predictor of a guess
mol = gto.M(atom='O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692', basis=args.basis,
            verbose=0)
with deepscf.using_predictor(NetworkPredictor(weights)):
    mf = dft.RKS(mol, xc='b3lyp')
    mf.init_guess = 'deepscf'
    mf.kernel()
print(f'water with {weights}: E = {mf.e_tot:.8f} Ha in {mf.cycles} cycles')
