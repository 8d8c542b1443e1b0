"""Which length scales of the network's error does the guess feel?

    python benchmarks/error_scales.py [FILES_OR_FOLDER ...] [--sigmas 0.5 1 2] [--out DIR]

For each molecule (default: the dev set), the residual density the network predicts on its
grid and the exact one (the B3LYP/def2-SVP SCF's, density-fitted as the training data, point
values on the same grid) differ by an error e(r).  The guess (init_guess='deepscf' at the
training level: one Fock build, diagonalized) is then built from

* the network's residual, and the exact one (the floor the grid and fit leave to the
  network's point values), and the exact one smoothed by σ 0.2 bohr (docs/oracle.md);
* the network's with the error's long wavelengths removed, ``net + G_σ * e`` (G_σ: a Gaussian
  filter of standard deviation σ bohr), and with its short ones removed, ``net + e − G_σ * e``;

and its density matrix compared with the SCF's (density NMAE %, as benchmarks/model.py's guess
column).  If fixing the long wavelengths alone brings the guess near the floor, a loss that
weights them (the Coulomb loss, coarser targets) is the lever; if the short ones matter, the
network's resolution and capacity are.  Writes error_scales.txt and .jsonl.
"""
import argparse
import json
import os
import platform

import numpy as np
from pyscf import dft
from scipy.ndimage import gaussian_filter

from pyscf.deepscf import bench, molio
from pyscf.deepscf.engine import atoms
from pyscf.deepscf.engine.exact_residual import residual_density_on_points
from pyscf.deepscf.engine.grid import sample_on_grid
from pyscf.deepscf.engine.model import NetworkPredictor
from pyscf.deepscf.reference_predictors import GridPredictor, OraclePredictor
from pyscf.deepscf.training.guess_validation import guess_nmae_percent

DEV = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'molecules', 'dev')


def scale_rows(mol, predictor, sigmas_bohr):
    """{variant: guess NMAE %} of ``mol`` (see the module's docstring)."""
    ref = dft.RKS(mol, xc='b3lyp').density_fit().run()          # the training data's level
    dm_ref = ref.make_rdm1()
    grid, net = predictor.predict(mol)
    exact = sample_on_grid(lambda c: residual_density_on_points(mol, dm_ref, c), grid)
    error = exact - net
    symbols, coords = atoms.atom_symbols(mol), mol.atom_coords()[atoms.real_atoms(mol)]

    def guess(residual):
        return guess_nmae_percent(mol, dm_ref, GridPredictor(symbols, coords, grid, residual),
                                  predictor.metadata['reference'])

    # the engine's floor with the targets smoothed by σ 0.2 bohr (docs/oracle.md)
    smoothed = OraclePredictor(dm_ref, predictor.spacing_bohr, predictor.margin_bohr, 0.2)
    row = {'network': guess(net), 'exact': guess(exact),
           'exact_smoothed': guess_nmae_percent(mol, dm_ref, smoothed,
                                                predictor.metadata['reference']),
           'error_nmae_percent': 100 * np.abs(error).sum() * grid.voxel_volume / mol.nelectron}
    for sigma in sigmas_bohr:
        smooth = gaussian_filter(error, sigma / grid.spacing_bohr, mode='constant')
        row[f'long_fixed_{sigma:g}'] = guess(net + smooth)
        row[f'short_fixed_{sigma:g}'] = guess(net + error - smooth)
        row[f'long_share_{sigma:g}'] = float(np.abs(smooth).sum() / np.abs(error).sum())
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('paths', nargs='*', default=[DEV])
    p.add_argument('--sigmas', type=float, nargs='+', default=[0.5, 1.0, 2.0], help='bohr')
    p.add_argument('--weights', default=None)
    p.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results'))
    args = p.parse_args(argv)
    predictor = NetworkPredictor(args.weights)
    rows = []
    for path in bench.molecule_files(args.paths):
        name = os.path.splitext(os.path.basename(path))[0]
        mol = molio.load_molecule(path, basis='def2-svp')
        rows.append({'molecule': name, 'natm': mol.natm,
                     **scale_rows(mol, predictor, args.sigmas)})
        print(json.dumps(rows[-1]), flush=True)
        with open(os.path.join(args.out, 'error_scales.jsonl'), 'w') as f:
            f.writelines(json.dumps(r) + '\n' for r in rows)
    columns = ['network', 'exact', 'exact_smoothed'] + [f'{k}_fixed_{s:g}' for s in args.sigmas
                                      for k in ('long', 'short')]
    lines = [f'guess density-matrix NMAE % (B3LYP/def2-SVP, against the SCF), weights '
             f'{os.path.basename(predictor.weights)}, {platform.node()}; long_fixed_σ: the '
             'network\'s residual with its error\'s wavelengths above ~σ bohr (a Gaussian '
             'filter) removed; short_fixed_σ: those below removed', '',
             '| molecule | atoms | ' + ' | '.join(columns) + ' |',
             '|---|---|' + '---|' * len(columns)]
    for r in rows + [{'molecule': '**mean**', 'natm': '',
                      **{c: np.mean([r[c] for r in rows]) for c in columns}}]:
        lines.append(f'| {r["molecule"]} | {r["natm"]} | '
                     + ' | '.join(f'{r[c]:.3f}' for c in columns) + ' |')
    lines += ['', 'share of the error\'s L1 norm in the long wavelengths (|G_σ * e| / |e|), '
              'mean: ' + ', '.join(f'σ {s:g}: {np.mean([r[f"long_share_{s:g}"] for r in rows]):.2f}'
                                   for s in args.sigmas)]
    print('\n'.join(lines))
    with open(os.path.join(args.out, 'error_scales.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
