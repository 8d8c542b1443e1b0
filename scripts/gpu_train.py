#!/usr/bin/env python
"""The GPU training kit: turn a short slot on one GPU into network accuracy.

On the GPU machine (torch and numpy; no PySCF, no HDF5 data: the compact set travels instead):

    python scripts/gpu_train.py train --data kit --out $OUT --minutes 8 \\
        --init weights/deepscf_default.pt     # or --resume kit/checkpoint.pt

(a slot runs two of these side by side, the bundled weights continued and a wider network:
scripts/gpu_slot.py)

trains the U-Net on random rotated crops whose targets are evaluated on the GPU from the compact
set (compact.py: every .npz file of kit/, merged as they load; bf16 autocast on CUDA), writes a
checkpoint and a validation line every ``--checkpoint-minutes``, and stops at ``--minutes``
with a checkpoint and exported TorchScript weights.  Then it times the network on linear
alkanes (29-401 atoms, first and warm call) and predicts the residual density of one validation
molecule on the GPU.  Files in --out:
checkpoint.pt (the last state: --resume continues from it), weights.pt (the best validation
state, TorchScript with metadata, loads in PyTorch 2.13 on the CPU), weights_stepNNNNNN.pt (the
weights at each checkpoint; the latest K with --keep-snapshots K), metrics.jsonl (loss and
validation lines), report.json (steps per second, validation against steps, inference timings)
and guess_residual.npz.

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
import copy
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
from pyscf.deepscf.argtypes import (nonnegative_int, positive_float, positive_int,  # noqa: E402
                                     typed)
from pyscf.deepscf.engine import model as nn_model                               # noqa: E402
from pyscf.deepscf.training import compact                                       # noqa: E402
from pyscf.deepscf.training.objectives import (  # noqa: E402
    cube_symmetry, learning_rate, optimizer_steps, training_step, validate)

VAL_SEED, VAL_CROP = 12345, 32     # the validation crops of `deepscf train --evaluate`


# ------------------------------------------------------------------------------- training

def synchronized_time(device):
    """time.perf_counter() once the device's queued work is done."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    return time.perf_counter()


def sample_batch(stack, args, rng):
    """A batch of random rotated crops (x, y, mask) of structures drawn from ``stack``
    (compact.StructureStack), evaluated ``args.sample_group`` structures at a time."""
    picks = rng.choice(len(stack), args.batch_size)
    geometries = [compact.crop_geometry(stack.coords_np[i], rng, args.spacing, args.margin,
                                        args.crop) for i in picks]
    return compact.crop_batch(stack, picks, geometries, args.crop, args.sample_group)


def choose_sample_group(stack, args, device, repeats=3):
    """(structures per evaluation, {group: seconds per batch}): the fastest way to draw this
    machine's batches, each candidate timed over ``repeats`` batches after one warm-up (their
    own random numbers: training's are untouched).  The numbers are the same for any group;
    the time is padding (large groups) against kernel launches (small ones), which only a
    measurement on the machine can weigh."""
    candidates = sorted({g for g in (1, 4, 8, 16, args.batch_size) if g <= args.batch_size})
    seconds = {}
    for group in candidates:
        trial = argparse.Namespace(**{**vars(args), 'sample_group': group})
        rng = np.random.default_rng([args.seed, 999, group])
        sample_batch(stack, trial, rng)
        t0 = synchronized_time(device)
        for _ in range(repeats):
            sample_batch(stack, trial, rng)
        seconds[group] = round((synchronized_time(device) - t0) / repeats, 4)
    return min(seconds, key=seconds.get), seconds


def validation_batches(structures, indices, args):
    """Fixed crops of the validation structures: crop k of structure j comes from
    default_rng([VAL_SEED, 0, 2 j + k]), as DensityDataset(seed=VAL_SEED, samples_per_structure=2)
    draws them from the HDF5 records, so both sets of targets can be compared crop by crop."""
    crops = [(structures[i], compact.crop_geometry(
        structures[i].coords_np, np.random.default_rng([VAL_SEED, 0, 2 * j + k]), args.spacing,
        args.margin, VAL_CROP)) for j, i in enumerate(indices) for k in range(2)]
    batches = []
    for s in range(0, len(crops), args.batch_size):
        part = crops[s:s + args.batch_size]
        stack = compact.StructureStack([c[0] for c in part])
        batches.append(compact.crop_batch(stack, range(len(part)), [c[1] for c in part],
                                          VAL_CROP))
    return batches


def initial_model(args, device):
    """(model, optimizer state or None, config, state): --resume, --init or a new network."""
    if args.resume:
        ckpt = torch.load(args.resume, map_location='cpu', weights_only=False)
        model = nn_model.UNet3D(ckpt['config'])
        model.load_state_dict(ckpt['model'])
        state = {'samples': 0, **ckpt['state']}          # a `deepscf train` checkpoint too
        return model.to(device), ckpt['optimizer'], ckpt['config'], state
    if args.init:
        module, meta = nn_model.load(args.init)
        model = nn_model.UNet3D(meta['config'])
        model.load_state_dict(module.state_dict())
        return model.to(device), None, meta['config'], {
            'step': 0, 'samples': 0, 'best': {}, 'init': os.path.basename(args.init)}
    cfg = {**nn_model.DEFAULT_CONFIG, 'widths': args.widths,
           'blocks_per_level': args.blocks_per_level}
    return nn_model.UNet3D(cfg).to(device), None, cfg, {'step': 0, 'samples': 0, 'best': {}}


def metadata(cfg, args, store, val_ids, state, exported):
    """The weights file's metadata; ``exported`` ({'step', 'samples', 'val'}) says which
    weights: a snapshot's own validation row, or the best one for weights.pt.  The weights a run
    started from (--init) are carried through every --resume in the checkpoint's state."""
    reference = {k: v for k, v in store.settings.items() if k not in ('split_seed',
                                                                       'factor_dtype')}
    return nn_model.make_metadata(
        cfg, args.spacing, args.margin, smoothing_bohr=0.0, reference=reference,
        dataset={'compact': ' '.join(os.path.basename(f) for f in store.files),
                 'split_seed': store.settings['split_seed'],
                 'split_fractions': [0.8, 0.1, 0.1],
                 'structures': {s: len(store.indices(s)) for s in ('train', 'val', 'test')},
                 'validation_structures': sorted(val_ids)},
        training={'kit': 'scripts/gpu_train.py', 'steps': exported.get('step'),
                  # a best step saved before 'samples' was kept in it has the run's count
                  'samples': exported.get('samples', state['samples']), 'crop': args.crop,
                  'batch_size': args.batch_size,
                  'bf16': args.bf16_used, 'device': args.device_name,
                  'init': state.get('init'),
                  'resume': os.path.basename(args.resume) if args.resume else None},
        validation=exported.get('val', {}))


def train(args):
    t_start = time.time()
    deadline = t_start + 60 * args.minutes
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    args.device_name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'
    args.bf16_used = device.type == 'cuda' and args.bf16 and torch.cuda.is_bf16_supported()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    log_file = open(os.path.join(args.out, 'metrics.jsonl'), 'a')

    def record(**entry):
        log_file.write(json.dumps({'time': time.time(), **entry}) + '\n')
        log_file.flush()

    try:
        store = compact.CompactSet(args.data)
    except ValueError as err:
        sys.exit(f'--data: {err}')
    train_idx, val_idx = store.indices('train'), store.indices('val')[:args.val_structures]
    if not train_idx or not val_idx:
        sys.exit(f'{store.path}: need structures in the train and val splits')
    # the training structures padded and stacked once: a batch is then one evaluation
    train_stack = compact.StructureStack([store.structure(i) for i in train_idx]).to(device)
    val_batches = validation_batches({i: store.structure(i, device) for i in val_idx}, val_idx,
                                     args)
    if args.sample_group == 'auto':
        args.sample_group, group_seconds = choose_sample_group(train_stack, args, device)
        print(f'crops evaluated {args.sample_group} structures at a time (seconds per batch: '
              f'{group_seconds})', flush=True)
        record(event='sample_group', chosen=args.sample_group, seconds_per_batch=group_seconds)
    model, opt_state, cfg, state = initial_model(args, device)
    try:
        nn_model.check_crop(args.crop, model.factor)
    except ValueError as err:
        sys.exit(f'--crop: {err}')
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    net = torch.compile(model) if args.compile else model
    val_ids = [store.ids[i] for i in val_idx]
    print(f'{len(train_idx)} train and {len(val_idx)} val structures from {store.path}; '
          f'device {args.device_name}, bf16 {args.bf16_used}; {time.time() - t_start:.1f} s '
          'to load', flush=True)
    record(event='start', args={k: v for k, v in vars(args).items() if k != 'func'},
           config=cfg, structures=len(train_idx) + len(val_idx))
    best_state = copy.deepcopy(model.state_dict())

    def checkpoint():
        val = validate(model, val_batches, device, args.spacing)
        row = {'step': state['step'], 'samples': state['samples'],
               'elapsed_s': round(time.time() - t_start, 1), 'val': val}
        record(**row)
        print(f'step {state["step"]} ({row["elapsed_s"]:.0f} s): val NMAE '
              f'{val["nmae_rho_percent"]:.3f} %', flush=True)
        if val['nmae_delta_rho'] < state['best'].get('val', {}).get('nmae_delta_rho', np.inf):
            state['best'] = {'step': state['step'], 'samples': state['samples'], 'val': val}
            best_state.update(copy.deepcopy(model.state_dict()))
        ckpt = {'model': model.state_dict(), 'optimizer': opt.state_dict(), 'config': cfg,
                'state': state, 'args': {k: v for k, v in vars(args).items() if k != 'func'},
                'metadata': metadata(cfg, args, store, val_ids, state, row)}
        path = os.path.join(args.out, 'checkpoint.pt')
        torch.save(ckpt, path + '.tmp')
        os.replace(path + '.tmp', path)
        # the weights of now, for finish to judge by the guess (the density NMAE above does
        # not rank weights for the guess: docs/measurements.md)
        nn_model.export(copy.deepcopy(model), os.path.join(
            args.out, f'weights_step{state["step"]:06d}.pt'), ckpt['metadata'])
        if args.keep_snapshots:     # the device tool returns at most 8 files: keep the latest
            for old in sorted(glob.glob(os.path.join(args.out, 'weights_step*.pt')))[
                    :-args.keep_snapshots]:
                os.remove(old)
        return row

    rng = np.random.default_rng([args.seed, state['step']])
    t0 = time.time()
    history = [checkpoint()]                        # the starting point, on the same crops
    # leave room for the last validation, checkpoint and export before the deadline
    reserve = 2 * (time.time() - t0) + 10
    t_train, step0, last_save = time.time(), state['step'], time.time()
    budget = max(deadline - reserve - t_train, 1e-6)
    split = {'sample_s': 0.0, 'step_s': 0.0, 'timed_steps': 0}
    draws = 0
    while time.time() < deadline - reserve:
        # every --time-every'th batch drawn is timed in two parts, synchronized, to tell what
        # bounds the rate: the crops' targets (compact.crop_batch) or the network's step
        draws += 1
        timed = draws % args.time_every == 0
        t_a = synchronized_time(device) if timed else 0.0
        batch = sample_batch(train_stack, args, rng)
        t_b = synchronized_time(device) if timed else 0.0
        # --crop-reuse K: K steps on each batch drawn, each after the first on a symmetry of
        # the cube (an exact sample of the molecules turned), where drawing bounds the rate
        for reuse in range(args.crop_reuse):
            x, y, mask = cube_symmetry(batch, rng) if reuse else batch
            for group in opt.param_groups:
                group['lr'] = learning_rate(args, time.time() - t_train, budget,
                                            optimizer_steps(opt))
            loss = training_step(net, opt, x, y, mask, args, args.bf16_used)
            state['step'] += 1
            state['samples'] += args.batch_size
            if timed and not reuse:
                t_c = synchronized_time(device)
                split['sample_s'] += (t_b - t_a) / args.crop_reuse
                split['step_s'] += t_c - t_b
                split['timed_steps'] += 1
                record(step=state['step'], loss=loss.item(), lr=opt.param_groups[0]['lr'],
                       sample_s=round(t_b - t_a, 4), step_s=round(t_c - t_b, 4))
            if time.time() - last_save > 60 * args.checkpoint_minutes:
                history.append(checkpoint())
                last_save = time.time()
            if time.time() >= deadline - reserve:
                break
    history.append(checkpoint())
    seconds = time.time() - t_train
    model.load_state_dict(best_state)
    weights = os.path.join(args.out, 'weights.pt')
    nn_model.export(model, weights, metadata(cfg, args, store, val_ids, state, state['best']))
    report = {'device': args.device_name, 'torch': torch.__version__, 'bf16': args.bf16_used,
              'structures': {'train': len(train_idx), 'val': len(val_idx)},
              'steps': state['step'] - step0, 'batch_size': args.batch_size, 'crop': args.crop,
              'sample_group': args.sample_group, 'crop_reuse': args.crop_reuse,
              'batches_drawn': draws,
              'train_seconds': round(seconds, 1),
              'steps_per_s': round((state['step'] - step0) / seconds, 3),
              # None where no batch was timed (fewer than --time-every drawn): not a zero
              'seconds_per_step': ({k: round(split[k] / split['timed_steps'], 4)
                                    for k in ('sample_s', 'step_s')}
                                   if split['timed_steps'] else None),
              'validation': [{k: r[k] for k in ('step', 'samples', 'elapsed_s')}
                             | {'nmae_rho_percent': r['val']['nmae_rho_percent']}
                             for r in history],
              'best': state['best']}
    per_step = report['seconds_per_step']
    split_words = (f'per step {per_step["sample_s"]:.4f} s sampling crops, '
                   f'{per_step["step_s"]:.4f} s network' if per_step else
                   f'the split not timed: {draws} batches drawn, every {args.time_every}th '
                   'is timed')
    print(f'trained {report["steps"]} steps in {seconds:.0f} s ({report["steps_per_s"]:.2f}/s; '
          f'{split_words}); '
          f'best val NMAE {state["best"]["val"]["nmae_rho_percent"]:.3f} % at step '
          f'{state["best"]["step"]}; exported {weights}', flush=True)
    if not args.no_timing:
        report['inference'] = time_inference(weights, device, args.timing_sizes)
        report['guess'] = predict_guess_molecule(weights, device, store, val_idx, args.out)
    with open(os.path.join(args.out, 'report.json'), 'w') as f:
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
    predictor = nn_model.NetworkPredictor(weights, device=str(device))
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
    from pyscf.deepscf.training import data
    from pyscf.deepscf.engine import grid as grid_mod
    from pyscf.deepscf import predict
    from pyscf.deepscf.predictors import GridPredictor
    saved = np.load(saved_path)
    symbols, coords = [str(s) for s in saved['symbols']], saved['coords_bohr']
    grid = grid_mod.UniformGrid(saved['origin_bohr'], float(saved['spacing_bohr']),
                                saved['shape'])
    cpu_grid, cpu_residual = nn_model.NetworkPredictor(weights, 'cpu').predict_atoms(symbols,
                                                                                     coords)
    mol = data.record_mole({'symbols': symbols, 'coords_bohr': coords, 'basis': 'def2-svp',
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
        nn_model.update_metadata(weights, {}, out=nn_model.DEFAULT_WEIGHTS)   # and its .json
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
    from pyscf.deepscf.training import data, dataset
    from pyscf.deepscf.training.guess_validation import validate_guess
    if args.data:
        records = [data.load_record(*r) for r in dataset.split_records(
            args.data, seed=meta['dataset'].get('split_seed', 0))['val'][:args.val_guess]]
        level = dataset.data_settings(args.data)
    else:
        store = compact.CompactSet(args.compact)
        records = dataset.compact_records(store, store.indices('val')[:args.val_guess])
        level = store.settings
    snapshots = sorted(glob.glob(os.path.join(args.run, 'weights_step*.pt')))
    keep = sorted({round(i) for i in np.linspace(len(snapshots) - 1, 0, min(most, len(snapshots)))})
    candidates = [os.path.join(args.run, 'weights.pt')] + [snapshots[i] for i in keep]
    figures = {}
    for path in candidates + [nn_model.DEFAULT_WEIGHTS]:
        name = 'bundled' if path == nn_model.DEFAULT_WEIGHTS else os.path.basename(path)
        figures[name] = validate_guess(NetworkPredictor(path, device='cpu'), records, level)
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
    args = argparse.Namespace(spacing=spacing_bohr, margin=margin_bohr, batch_size=4)
    return hdf5, validation_batches({i: store.structure(i) for i in index}, index, args)


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

structure_count = typed(int, lambda v: v >= 1,
                        "'auto' or a whole number of structures, at least 1")


def sample_group_arg(value):
    """--sample-group: 'auto' or a number of structures (at least 1)."""
    return value if value == 'auto' else structure_count(value)


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sub = p.add_subparsers(dest='command', required=True)
    t = sub.add_parser('train', help='train on the compact set (the GPU machine)',
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument('--data', required=True, nargs='+',
                   help='compact files (.npz, deepscf data compact) or folders of them (kit)')
    t.add_argument('--out', required=True, help='output folder')
    t.add_argument('--minutes', type=positive_float, required=True,
                   help='training stops before this, with a checkpoint and the export')
    t.add_argument('--checkpoint-minutes', type=positive_float, default=2.0)
    t.add_argument('--keep-snapshots', type=nonnegative_int, default=0, metavar='K',
                   help='keep only the latest K weights_step*.pt (0: all)')
    start = t.add_mutually_exclusive_group()
    start.add_argument('--init', help='start from exported weights (e.g. the bundled ones)')
    start.add_argument('--resume', help='continue from a checkpoint.pt of an earlier run')
    t.add_argument('--widths', type=int, nargs='+', default=nn_model.DEFAULT_CONFIG['widths'],
                   help='a new network (without --init/--resume)')
    t.add_argument('--blocks-per-level', type=int,
                   default=nn_model.DEFAULT_CONFIG['blocks_per_level'])
    t.add_argument('--batch-size', type=positive_int, default=16)
    t.add_argument('--crop', type=positive_int, default=32, help='training crop edge (validation: 32)')
    t.add_argument('--sample-group', default='auto', metavar='G', type=sample_group_arg,
                   help='structures whose crops are evaluated together (1: one at a time; '
                        'auto: the fastest of 1, 4, 8, 16 and the batch, timed at the start)')
    t.add_argument('--crop-reuse', type=positive_int, default=1, metavar='K',
                   help='K steps on each batch of crops drawn, each after the first on a random '
                        'symmetry of the cube (exact): where drawing the crops bounds the rate')
    t.add_argument('--spacing', type=float, default=0.3, help='bohr')
    t.add_argument('--margin', type=float, default=5.0, help='bohr')
    t.add_argument('--lr', type=positive_float, default=3e-4, help='a new network: about 2e-3')
    t.add_argument('--lr-final', type=float, default=1e-5,
                   help='cosine decay over the training time (None: constant)')
    t.add_argument('--warmup-steps', type=nonnegative_int, default=0, metavar='W',
                   help='ramp the rate linearly over the first W steps of a fresh optimizer '
                        '(fine-tunes: --init)')
    t.add_argument('--weight-decay', type=float, default=1e-4)
    t.add_argument('--loss-weight', choices=('none', 'valence'), default='none')
    t.add_argument('--coulomb-loss', type=float, default=0.0)
    t.add_argument('--val-structures', type=positive_int, default=None,
                   help='default: all of them')
    t.add_argument('--no-bf16', dest='bf16', action='store_false',
                   help='float32 on CUDA too (bf16 autocast is used where supported)')
    t.add_argument('--compile', action='store_true', help='torch.compile the network')
    t.add_argument('--device', default=None)
    t.add_argument('--threads', type=positive_int, default=None, help='torch CPU threads')
    t.add_argument('--seed', type=int, default=0)
    t.add_argument('--time-every', type=positive_int, default=50, metavar='N',
                   help='time every Nth batch drawn in two parts (crops, network)')
    t.add_argument('--timing-sizes', type=int, nargs='+', default=[29, 50, 101, 200, 401])
    t.add_argument('--no-timing', action='store_true', help='skip inference timing and guess')
    t.set_defaults(func=train)
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
