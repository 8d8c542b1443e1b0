#!/usr/bin/env python
"""The GPU training kit: turn a short slot on one GPU into network accuracy.

On the GPU machine (torch and numpy; no PySCF, no HDF5 data: the compact set travels instead):

    python scripts/gpu_train.py train --data kit --out $OUT --minutes 8 \\
        --init weights/deepscf_default.pt     # or --resume kit/checkpoint.pt

(a slot runs two of these side by side: scripts/gpu_slot.py) runs the training loop of
``deepscf train`` (pyscf/deepscf/training/train.py, with the kit's defaults below) on the compact
set (every .npz file of kit/), its crops evaluated on the GPU: the starting weights validated
first, then a validation, a checkpoint and a snapshot of the weights every
``--checkpoint-minutes``, and the run ends by ``--minutes`` with the best validation's weights
exported.  Then it times the network on linear alkanes (29-401 atoms, first and warm call) and
predicts the residual density of one validation molecule on the GPU.  Files in --out:
checkpoint.pt (the last state: --resume continues from it), best.pt, weights.pt (the best
validation state, TorchScript with metadata, loads in PyTorch 2.13 on the CPU),
weights_stepNNNNNN.pt (the weights at each validation; the latest K with --keep-snapshots K),
metrics.jsonl (loss and validation lines), report.json (steps per second, validation against
steps, inference timings) and guess_residual.npz.

Back on a machine with PySCF (the HDF5 data folder too, if it survived):

    python scripts/gpu_train.py finish --run DIR --compact kit [--data DATA] [--bundle]

evaluates the run's weights and the bundled ones on the validation split against the compact
targets and, with --data, the HDF5 ones (PySCF), runs the guess from the GPU's prediction
against minao, chooses among weights.pt and the snapshots by the guess's density matrix on
validation structures (the validation density does not rank weights for the guess), and with
--bundle copies the chosen weights into the package where their guess beats the bundled
weights'.
"""
import argparse
import glob
import json
import os
import sys
import time
import types

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def enter_package_without_pyscf():
    """The kit's modules need torch and numpy only, but the package's __init__ registers the
    PySCF guess: where PySCF is missing, enter the package folders without running it."""
    try:
        import pyscf.gto  # noqa: F401  (PySCF present: the package imports normally)
        return
    except ImportError:
        pass
    for name, folder in (('pyscf', 'pyscf'), ('pyscf.deepscf', os.path.join('pyscf', 'deepscf'))):
        module = types.ModuleType(name)
        module.__path__ = [os.path.join(ROOT, folder)]
        sys.modules[name] = module


enter_package_without_pyscf()
from pyscf.deepscf import molio                                                  # noqa: E402
from pyscf.deepscf.argtypes import nonnegative_int, positive_int                 # noqa: E402
from pyscf.deepscf.engine import model as nn_model                               # noqa: E402
from pyscf.deepscf.training import compact, train                                # noqa: E402
from pyscf.deepscf.training import export as weights_file                        # noqa: E402
from pyscf.deepscf.training.batches import VAL_CROP, VAL_SEED, validation_batches  # noqa: E402
from pyscf.deepscf.training.objectives import validate                           # noqa: E402
from pyscf.deepscf.training.options import add_arguments                         # noqa: E402

# the kit's defaults for the one training loop: a slot is a few minutes of one GPU
KIT_DEFAULTS = {'batch_size': 16, 'lr': 3e-4, 'lr_final': 1e-5, 'val_structures': None,
                'val_every': 0, 'checkpoint_minutes': 2.0, 'validate_first': True,
                'snapshots': True, 'no_progress': True,
                # the clock (or --max-steps) ends a kit run, and the cosine runs over the clock
                'epochs': 10 ** 9, 'lr_over_minutes': None,
                # a new network (--widths) starts at the model's default output scale
                'out_scale': nn_model.DEFAULT_CONFIG['out_scale']}


def train_on_slot(args, parser):
    """The training loop on the compact set, then the kit's own measurements on the device."""
    args.export = args.export or os.path.join(args.out, 'weights.pt')
    if args.export_only or args.evaluate:     # no training: no report, nothing timed
        return train.run(args, parser)
    if not (args.max_minutes or args.max_steps):
        parser.error('give --minutes (a slot) or --max-steps')
    if args.lr_over_minutes is None:
        args.lr_over_minutes = bool(args.max_minutes)
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    if args.bf16 is None:       # the kit's default: bf16 autocast where CUDA supports it
        args.bf16 = device.type == 'cuda' and torch.cuda.is_bf16_supported()
    torch.backends.cudnn.benchmark = True     # one shape of crops: cuDNN's fastest kernels
    args.training_metadata = {'kit': 'scripts/gpu_train.py'}
    train.run(args, parser)
    report_path = os.path.join(args.out, 'report.json')
    with open(report_path) as f:
        report = json.load(f)
    if not args.no_timing:
        report['inference'] = time_inference(args.export, device, args.timing_sizes)
        store = compact.CompactSet(args.data)
        report['guess'] = predict_guess_molecule(
            args.export, device, store, store.indices('val')[:args.val_structures], args.out)
    with open(report_path, 'w') as f:
        json.dump(report, f, indent=1)
    return report


# ------------------------------------------------------------------------------- after training

def time_inference(weights, device, sizes):
    """Seconds of the network's prediction (grid, fingerprints, U-Net) on linear alkanes of
    about ``sizes`` atoms on ``device``: the first call and a warm one."""
    t0 = time.perf_counter()
    predictor = nn_model.NetworkPredictor(weights, device=str(device))
    rows = [{'load_s': round(time.perf_counter() - t0, 3)}]
    for natm in sizes:
        symbols, coords = molio.alkane(max(1, round((natm - 2) / 3)))
        coords = coords / molio.ANGSTROM_PER_BOHR
        row = {'natm': len(symbols)}
        for call in ('first_s', 'warm_s'):
            t0 = time.perf_counter()
            grid, _ = predictor.predict_atoms(symbols, coords)
            if device.type == 'cuda':
                torch.cuda.synchronize()
            row[call] = round(time.perf_counter() - t0, 4)
        row['grid_points'] = grid.size
        if device.type == 'cuda':
            row['peak_gpu_MB'] = round(torch.cuda.max_memory_allocated(device) / 2**20)
        rows.append(row)
        print(f'inference {row}', flush=True)
    return rows


def predict_guess_molecule(weights, device, store, val_idx, out):
    """The residual density of the largest validation molecule predicted on ``device``, saved
    for ``finish``, which runs the guess from it with PySCF."""
    i = max(val_idx, key=lambda j: store.arrays['atom_start'][j + 1] - store.arrays['atom_start'][j])
    s = store.structure(i)
    # float32, as gpu_guess's CPU prediction it is compared with (on a CPU 'auto' may take
    # bfloat16)
    predictor = nn_model.NetworkPredictor(weights, device=str(device), dtype='float32')
    t0 = time.perf_counter()
    grid, residual = predictor.predict_atoms(s.symbols, s.coords_np)
    seconds = time.perf_counter() - t0
    np.savez(os.path.join(out, 'guess_residual.npz'), id=store.ids[i], symbols=s.symbols,
             coords_bohr=s.coords_np, origin_bohr=grid.origin_bohr,
             spacing_bohr=grid.spacing_bohr, shape=grid.shape,
             residual=residual.astype(np.float32), device=str(device))
    print(f'guess molecule {store.ids[i]} ({len(s.symbols)} atoms) predicted on {device} in '
          f'{seconds:.3f} s', flush=True)
    return {'id': store.ids[i], 'natm': len(s.symbols), 'seconds': round(seconds, 4)}


def gpu_guess(weights, saved_path):
    """SCF cycles from minao and from the residual density the GPU predicted for the largest
    validation molecule (``predict_guess_molecule``), and how far the CPU's prediction with the
    same weights differs from it (electrons/bohr^3)."""
    from pyscf import dft
    from pyscf.deepscf.training.records import record_mole
    from pyscf.deepscf.engine import grid as grid_mod
    from pyscf.deepscf import predict
    from pyscf.deepscf.reference_predictors import GridPredictor
    saved = np.load(saved_path)
    symbols, coords = [str(s) for s in saved['symbols']], saved['coords_bohr']
    grid = grid_mod.UniformGrid(saved['origin_bohr'], float(saved['spacing_bohr']),
                                saved['shape'])
    # float32 on both (predict_guess_molecule): the difference is then the devices'
    cpu = nn_model.NetworkPredictor(weights, 'cpu', dtype='float32')
    cpu_grid, cpu_residual = cpu.predict_atoms(symbols, coords)
    mol = record_mole({'symbols': symbols, 'coords_bohr': coords, 'basis': 'def2-svp',
                            'charge': 0, 'spin': 0})
    cycles = {}
    for guess in ('minao', 'deepscf'):
        mf = dft.RKS(mol, xc='b3lyp')
        mf.init_guess = guess
        with predict.using_predictor(GridPredictor(symbols, coords, grid, saved['residual'])):
            mf.kernel()
        cycles[guess] = {'cycles': mf.cycles, 'e_tot': mf.e_tot, 'converged': mf.converged}
    guess = {'id': str(saved['id']), 'natm': len(symbols), 'device': str(saved['device']),
             'max_abs_cuda_minus_cpu': float(np.abs(saved['residual'] - cpu_residual).max()),
             'same_grid': cpu_grid.shape == grid.shape, **cycles}
    print(json.dumps(guess), flush=True)
    return guess


def finish(args):
    """On a machine with PySCF: the run's weights against the bundled ones (validation NMAE on
    the HDF5 targets and the compact ones), the guess from the GPU's prediction, --bundle."""
    weights = os.path.join(args.run, 'weights.pt')
    _, meta = nn_model.load(weights)
    result = {'run': os.path.abspath(args.run),
              'data': os.path.abspath(args.data) if args.data else None,
              'compact': [os.path.abspath(c) for c in args.compact]}
    crops = validation_crops(args.data, args.compact, meta['spacing_bohr'], meta['margin_bohr'],
                             args.val_structures, meta['dataset'].get('split_seed', 0))
    for name, path in (('run', weights), ('bundled', nn_model.DEFAULT_WEIGHTS)):
        result[name] = target_figures(path, crops)
        print(f'{name}: {result[name]}', flush=True)
    saved_path = os.path.join(args.run, 'guess_residual.npz')
    if os.path.exists(saved_path):
        result['guess'] = gpu_guess(weights, saved_path)
    else:  # a run with --no-timing (a short second run) predicts no guess molecule
        print(f'no {saved_path}: the GPU-predicted guess is not checked', flush=True)
    if args.val_guess:
        weights, better = judge_by_guess(args, meta, result)
    else:
        key = 'hdf5_nmae_rho_percent' if args.data else 'compact_nmae_rho_percent'
        better = result['run'][key] < result['bundled'][key]
    result['bundled_now'] = bool(args.bundle and better)
    if result['bundled_now']:
        weights_file.update_metadata(weights, {}, out=nn_model.DEFAULT_WEIGHTS)   # and its .json
        print(f'bundled {weights}; recalibrate NonSCF: python scripts/calibrate_nonscf.py '
              f'--data {args.data or " ".join(args.compact)} --write', flush=True)
    with open(args.report or os.path.join(ROOT, 'benchmarks', 'results', 'gpu_finish.json'),
              'w') as f:
        json.dump(result, f, indent=1)
    return result


def judge_by_guess(args, meta, result, most=6):
    """(weights file, better than the bundled): of the run's weights.pt and its snapshots (at
    most ``most``, evenly spaced, the last included), the one whose guess is nearest the SCF
    on the first ``args.val_guess`` validation structures of the HDF5 data, or of the compact
    set without it (guess_validation.py), and whether it beats the bundled weights' guess
    there."""
    from pyscf.deepscf.engine.model import NetworkPredictor
    from pyscf.deepscf.training import dataset, records
    from pyscf.deepscf.training.compact_pyscf import compact_records
    from pyscf.deepscf.training.guess_validation import validate_guess
    if args.data:
        guess_records = [records.load_record(*r) for r in dataset.split_records(
            args.data, seed=meta['dataset'].get('split_seed', 0))['val'][:args.val_guess]]
        level = records.data_settings(args.data)
    else:
        store = compact.CompactSet(args.compact)
        guess_records = compact_records(store, store.indices('val')[:args.val_guess])
        level = store.settings
    snapshots = sorted(glob.glob(os.path.join(args.run, 'weights_step*.pt')))
    keep = sorted({round(i) for i in np.linspace(len(snapshots) - 1, 0, min(most, len(snapshots)))})
    candidates = [os.path.join(args.run, 'weights.pt')] + [snapshots[i] for i in keep]
    figures = {}
    for path in candidates + [nn_model.DEFAULT_WEIGHTS]:
        name = 'bundled' if path == nn_model.DEFAULT_WEIGHTS else os.path.basename(path)
        # float32: the figures comparable between machines with and without bfloat16
        figures[name] = validate_guess(NetworkPredictor(path, device='cpu', dtype='float32'),
                                       guess_records, level)
        print(f'guess validation {name}: {figures[name]}', flush=True)
    chosen = min(candidates, key=lambda p: figures[os.path.basename(p)]['guess_nmae_percent'])
    result['guess_validation'] = figures
    result['chosen'] = os.path.basename(chosen)
    return chosen, (figures[result['chosen']]['guess_nmae_percent']
                    < figures['bundled']['guess_nmae_percent'])


def validation_crops(folder, compact_sources, spacing_bohr, margin_bohr, val_structures=None,
                     split_seed=0):
    """The validation split's fixed crops twice: targets by PySCF from the HDF5 records and by
    torch from the compact set (the same rotations and crops), as lists of batches; without a
    data folder (None), the compact set's own validation split and no HDF5 batches (None)."""
    from torch.utils.data import DataLoader
    from pyscf.deepscf.training import dataset
    store = compact.CompactSet(compact_sources)
    if folder is None:
        hdf5, index = None, store.indices('val')[:val_structures]
    else:
        records = dataset.split_records(folder, seed=split_seed)['val'][:val_structures]
        crops = dataset.DensityDataset(records, spacing_bohr=spacing_bohr,
                                       margin_bohr=margin_bohr, crop=VAL_CROP,
                                       samples_per_structure=2, seed=VAL_SEED)
        hdf5 = list(DataLoader(crops, batch_size=4))
        index = [store.ids.index(r[1]) for r in records]
    return hdf5, validation_batches(store, index, spacing_bohr, margin_bohr, 4)


def target_figures(weights, crops):
    """Validation figures of ``weights`` on both sets of targets of validation_crops (the
    compact ones alone where there are no HDF5 batches)."""
    module, meta = nn_model.load(weights)
    module.eval()
    out = {'structures': sum(len(b[0]) for b in crops[1]) // 2}
    for name, batches in zip(('hdf5', 'compact'), crops):
        if batches is not None:
            figures = validate(module, batches, torch.device('cpu'), meta['spacing_bohr'])
            out[f'{name}_nmae_rho_percent'] = figures['nmae_rho_percent']
            out[f'{name}_nmae_long_percent'] = figures['nmae_long_percent']
            out[f'{name}_nmae_delta_rho'] = figures['nmae_delta_rho']
    return out


# ------------------------------------------------------------------------------- command line

def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sub = p.add_subparsers(dest='command', required=True)
    t = sub.add_parser('train', help='train on the compact set (the GPU machine)',
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(t)
    t.set_defaults(**KIT_DEFAULTS, func=lambda args: train_on_slot(args, t))
    t.add_argument('--timing-sizes', type=int, nargs='+', default=[29, 50, 101, 200, 401],
                   help='alkanes of about these many atoms timed after training')
    t.add_argument('--no-timing', action='store_true', help='skip inference timing and guess')
    f = sub.add_parser('finish', help='evaluate and bundle a run (needs PySCF and the data)',
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    f.add_argument('--run', required=True, help='the train --out folder, fetched back')
    f.add_argument('--data', default=None,
                   help='the HDF5 data folder (without it, the compact set\'s validation '
                        'structures stand in, its density matrices rebuilt from the factors, '
                        'and the HDF5 targets are not compared)')
    f.add_argument('--compact', required=True, nargs='+',
                   help='the compact files or folder the run trained on')
    f.add_argument('--val-structures', type=positive_int, default=None)
    f.add_argument('--val-guess', type=nonnegative_int, default=12, metavar='N',
                   help='choose among weights.pt and the snapshots by the guess on N validation '
                        'structures, and bundle (--bundle) only a better guess than the bundled '
                        'weights\' (0: by the validation density NMAE alone)')
    f.add_argument('--bundle', action='store_true', help='bundle the weights if better')
    f.add_argument('--report', help='JSON report (default benchmarks/results/gpu_finish.json)')
    f.set_defaults(func=finish)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.func(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
