"""Training of the density network (``deepscf train`` / ``python -m pyscf.deepscf.training.train``).

Reads the HDF5 shards of ``deepscf data generate``, splits them by molecule (dataset.py), and
fits the U-Net (model.py) on random rotated crops with a masked MSE loss on Δρ.  Writes to
``--out DIR``: checkpoint.pt (last), best.pt (best validation: the density NMAE of fixed crops,
or with ``--val-guess N`` the guess's on N structures), metrics.jsonl (one JSON line per
log/validation event), and with ``--export PATH`` TorchScript weights with metadata.

Single process: CPU by default, CUDA when present.  Several GPUs or nodes: torchrun sets
WORLD_SIZE/RANK/LOCAL_RANK; each process then takes its share of the crops
(DistributedSampler) and gradients are averaged (DistributedDataParallel).

Example (CPU, one thread, 25 minutes):
    python -m pyscf.deepscf.training.train --data /work/data/qm9_b3lyp_def2svp --out runs/first \\
        --threads 1 --max-minutes 25 --export weights/deepscf_default.pt
"""
import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from pyscf.deepscf.argtypes import nonnegative_int, positive_float, positive_int
from pyscf.deepscf.training import data as data_io, dataset as ds
from pyscf.deepscf.training.guess_validation import validate_guess
from pyscf.deepscf.engine import model as nn_model
from pyscf.deepscf.training.objectives import (cube_symmetry, learning_rate, optimizer_steps,
                                               training_step, validate)


def build_parser():
    p = argparse.ArgumentParser(prog='deepscf train', description=__doc__.split('\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    return add_arguments(p)


def add_train_command(subparsers):
    """``deepscf train`` for cli.py: ``COMMANDS.append(train.add_train_command)``."""
    p = subparsers.add_parser('train', help='train the density network',
                              description=__doc__.split('\n')[0],
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=_run_command)


def _run_command(args, parser):
    if not os.path.isdir(args.data):
        parser.error(f'--data: no data folder {args.data}')
    return run(args)


def add_arguments(p):
    p.add_argument('--data', required=True, help='data folder (HDF5 shards)')
    p.add_argument('--out', required=True, metavar='DIR', help='run folder (checkpoints, log)')
    p.add_argument('--resume', action='store_true', help='continue from DIR/checkpoint.pt')
    p.add_argument('--init', metavar='WEIGHTS',
                   help='start from the parameters of exported weights (e.g. the bundled '
                        'model) instead of random ones; their config replaces the model options')
    p.add_argument('--export', metavar='PATH', help='write TorchScript weights here at the end')
    p.add_argument('--export-only', action='store_true',
                   help='no training: export DIR/best.pt (else checkpoint.pt) to --export')
    p.add_argument('--evaluate', metavar='WEIGHTS',
                   help='no training: validation figures of exported WEIGHTS on every structure '
                        'of --split now in --data (writes DIR/evaluation.json)')
    p.add_argument('--split', choices=ds.SPLITS, default='val', help='for --evaluate')
    g = p.add_argument_group('model')
    g.add_argument('--widths', type=int, nargs='+', default=nn_model.DEFAULT_CONFIG['widths'])
    g.add_argument('--blocks-per-level', type=int,
                   default=nn_model.DEFAULT_CONFIG['blocks_per_level'])
    g.add_argument('--groups', type=int, default=nn_model.DEFAULT_CONFIG['groups'])
    g.add_argument('--out-scale', type=float, default=None,
                   help='output scale (default: std of Δρ on the first training batches)')
    g = p.add_argument_group('data')
    g.add_argument('--spacing', type=float, default=ds.DEFAULT_SPACING_BOHR, help='bohr')
    g.add_argument('--margin', type=float, default=ds.DEFAULT_MARGIN_BOHR, help='bohr')
    g.add_argument('--smoothing', type=float, default=0.0,
                   help='target: the residual smoothed by a Gaussian of this standard '
                        'deviation (bohr; the oracle uses 0.2), 0 for point values')
    g.add_argument('--crop', type=positive_int, default=32, help='crop edge (voxels)')
    g.add_argument('--samples-per-structure', type=positive_int, default=4, help='crops per epoch')
    g.add_argument('--crop-reuse', type=positive_int, default=1, metavar='K',
                   help='train K steps on each batch of crops, each step but the first on a '
                        'random symmetry of the cube (rotation or mirror image, exact): '
                        'drawing a crop costs about half a CPU step')
    g.add_argument('--split-seed', type=int, default=0)
    g.add_argument('--val-structures', type=positive_int, default=16, help='validation molecules used')
    g.add_argument('--workers', type=nonnegative_int, default=0, help='DataLoader worker processes')
    g.add_argument('--rescan', action='store_true',
                   help='re-list the data folder each epoch (train while data is generated)')
    g = p.add_argument_group('optimisation')
    g.add_argument('--epochs', type=nonnegative_int, default=100)
    g.add_argument('--max-minutes', type=positive_float, default=None, help='stop after this long')
    g.add_argument('--batch-size', type=positive_int, default=2)
    g.add_argument('--lr', type=positive_float, default=2e-3)
    g.add_argument('--lr-final', type=float, default=None,
                   help='cosine decay of the learning rate from --lr to this over --epochs '
                        '(default: constant --lr)')
    g.add_argument('--lr-over-minutes', action='store_true',
                   help='the cosine of --lr-final runs over --max-minutes of wall time instead '
                        'of over --epochs (runs compared at equal compute; not resumable)')
    g.add_argument('--warmup-steps', type=nonnegative_int, default=0, metavar='W',
                   help='ramp the rate linearly over the first W steps of a fresh optimizer '
                        '(fine-tunes: --init; a --resume keeps its optimizer and does not '
                        'warm up again)')
    g.add_argument('--weight-decay', type=float, default=1e-4)
    g.add_argument('--coulomb-loss', type=float, default=0.0, metavar='LAMBDA',
                   help='add LAMBDA x the Hartree energy of the error per voxel to the loss')
    g.add_argument('--loss-weight', choices=('none', 'valence'), default='none',
                   help="'valence': weight 1/(1+ρ0) de-emphasises the cores")
    g.add_argument('--val-every', type=positive_int, default=200, help='steps between validations')
    g.add_argument('--val-guess', type=nonnegative_int, default=0, metavar='N',
                   help='at each validation also build the guess (one Fock build at the data\'s '
                        'level) of the first N validation structures and keep best.pt by its '
                        'density-matrix NMAE against theirs, not by the crops\' density NMAE '
                        '(guess_validation.py; ~10 s a QM9 structure on one thread)')
    g.add_argument('--seed', type=int, default=0)
    g.add_argument('--threads', type=positive_int, default=None, help='torch CPU threads')
    g.add_argument('--device', default=None, help="default 'cuda' when present, else 'cpu'")
    g.add_argument('--bf16', action=argparse.BooleanOptionalAction, default=None,
                   help='bfloat16 autocast for the network in training (validation and exported '
                        'weights stay float32; the network\'s arithmetic 2x faster on this CPU, '
                        'a step with its crops drawn 1.4x: docs/measurements.md); --no-bf16 '
                        'switches it off in a resumed run (default: off)')
    g.add_argument('--compile', action='store_true',
                   help='torch.compile the training steps (1.2-1.5x on this CPU, '
                        'benchmarks/results/train_throughput.txt)')
    g.add_argument('--no-progress', action='store_true')
    return p


# ------------------------------------------------------------------------------- pieces

def setup_distributed(device_arg):
    """(rank, world, device); init_process_group when launched by torchrun."""
    world = int(os.environ.get('WORLD_SIZE', 1))
    rank, local = int(os.environ.get('RANK', 0)), int(os.environ.get('LOCAL_RANK', 0))
    device = torch.device(device_arg or ('cuda' if torch.cuda.is_available() else 'cpu'))
    if device.type == 'cuda' and world > 1:
        device = torch.device('cuda', local)
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group('nccl' if device.type == 'cuda' else 'gloo')
    return rank, world, device


def make_metadata(cfg, args, splits, val_records, best):
    return nn_model.make_metadata(
        cfg, args.spacing, args.margin, smoothing_bohr=args.smoothing,
        reference=ds.data_settings(args.data), dataset={
            'folder': os.path.abspath(args.data), 'split_seed': args.split_seed,
            'split_fractions': [0.8, 0.1, 0.1],
            'structures': {k: len(v) for k, v in splits.items()},
            'validation_structures': sorted(r[1] for r in val_records)},
        training={'seed': args.seed, 'crop': args.crop, 'steps': best.get('step'),
                  'loss_weight': args.loss_weight, 'coulomb_loss': args.coulomb_loss,
                  'init': os.path.basename(args.init) if args.init else None,
                  'crop_reuse': args.crop_reuse, 'bf16': args.bf16},
        validation=best.get('val', {}))


def export_checkpoint(ckpt_path, out_path):
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    model = nn_model.UNet3D(ckpt['config'])
    model.load_state_dict(ckpt['model'])
    nn_model.export(model, out_path, ckpt['metadata'])
    print(f'exported {ckpt_path} -> {out_path} ({os.path.getsize(out_path) / 1e6:.1f} MB); '
          f'validation {ckpt["metadata"].get("validation")}')


def evaluate(args):
    """Figures of exported weights on all structures of a split (2 fixed crops each)."""
    module, meta = nn_model.load(args.evaluate)
    records = ds.split_records(args.data, seed=meta['dataset']['split_seed'])[args.split]
    crops = ds.DensityDataset(records, spacing_bohr=meta['spacing_bohr'],
                              margin_bohr=meta['margin_bohr'], crop=args.crop,
                              smoothing_bohr=meta.get('smoothing_bohr', 0.0),
                              samples_per_structure=2, seed=12345)
    val = validate(module, DataLoader(crops, batch_size=args.batch_size), torch.device('cpu'),
                   meta['spacing_bohr'])
    result = {'weights': os.path.abspath(args.evaluate), 'data': os.path.abspath(args.data),
              'split': args.split, 'structures': len(records), 'crops': len(crops), **val}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'evaluation.json'), 'w') as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))
    return result


# ------------------------------------------------------------------------------- main

# Options that say how to run, not what the run is: a resumed run takes them from the command
# line; every other option it takes from the run it continues, unless given a new value.
RUN_CONTROL = {'data', 'out', 'resume', 'init', 'export', 'export_only', 'evaluate', 'split',
               'max_minutes', 'threads', 'device', 'workers', 'no_progress', 'rescan', 'func',
               'command', 'compile'}


def continue_run(args, saved):
    """Give ``args`` the resumed run's options (``saved``: its parsed command line) where the
    command line leaves them at their defaults, so that ``--resume`` alone continues the run
    as it was started (learning-rate schedule, batch, crops); a value given now wins."""
    defaults = vars(build_parser().parse_args(['--data', '-', '--out', '-']))
    for key, value in saved.items():
        if key not in RUN_CONTROL and key in defaults and getattr(args, key, None) == defaults[key]:
            setattr(args, key, value)


def main(argv=None):
    return run(build_parser().parse_args(argv))


def run(args):
    """Train (or export / evaluate) as the parsed command line ``args`` says."""
    ckpt_path, best_path = (os.path.join(args.out, n) for n in ('checkpoint.pt', 'best.pt'))
    if args.export_only:
        if not args.export:
            sys.exit('--export-only needs --export PATH')
        export_checkpoint(best_path if os.path.exists(best_path) else ckpt_path, args.export)
        return 0
    if args.lr_over_minutes and not (args.max_minutes and args.lr_final is not None):
        sys.exit('--lr-over-minutes needs --max-minutes and --lr-final')
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.evaluate:
        evaluate(args)
        return 0
    rank, world, device = setup_distributed(args.device)
    ckpt = None
    if args.resume and os.path.exists(ckpt_path):
        ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
        continue_run(args, ckpt.get('args') or {})
    args.bf16 = bool(args.bf16)       # None (not given, nothing resumed): off
    options = {k: v for k, v in vars(args).items() if k != 'func'}   # cli.py adds its handler
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)

    # data: molecule-level split, training crops re-drawn each epoch, fixed validation crops
    splits = ds.split_records(args.data, seed=args.split_seed)
    if not splits['train'] or not splits['val']:
        sys.exit(f'{args.data}: need structures in both train and val splits, have '
                 f'{ {k: len(v) for k, v in splits.items()} }')
    common = dict(spacing_bohr=args.spacing, margin_bohr=args.margin, crop=args.crop,
                  smoothing_bohr=args.smoothing)
    train_set = ds.DensityDataset(splits['train'], samples_per_structure=args.samples_per_structure,
                                  seed=args.seed, **common)
    val_set = ds.DensityDataset(splits['val'][:args.val_structures], samples_per_structure=2,
                                seed=12345, **common)
    sampler = DistributedSampler(train_set, seed=args.seed) if world > 1 else None
    # Workers are spawned, not forked: a forked child that calls OpenMP (PySCF's integrals)
    # after the parent has used it hangs in libgomp (seen: the first batch never came).  They
    # are re-created each epoch, so they see set_epoch and --rescan.
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=sampler is None,
                        sampler=sampler, num_workers=args.workers, drop_last=True,
                        persistent_workers=False,
                        multiprocessing_context='spawn' if args.workers > 0 else None)
    val_loader = list(DataLoader(val_set, batch_size=args.batch_size))    # fixed, kept in memory

    # model and optimiser, or resume
    cfg = {**nn_model.DEFAULT_CONFIG, 'widths': args.widths,
           'blocks_per_level': args.blocks_per_level, 'groups': args.groups}
    state = {'epoch': 0, 'step': 0, 'best': {}}
    init = None
    if ckpt:
        cfg, state = ckpt['config'], ckpt['state']
        # the run's starting weights, for the metadata: those of the run being resumed
        args.init = args.init or (ckpt.get('metadata') or {}).get('training', {}).get('init')
    elif args.init:
        module, meta = nn_model.load(args.init)
        init = module.state_dict()
        cfg = meta['config']
    elif args.out_scale:
        cfg['out_scale'] = args.out_scale
    else:   # output scale: the std of Δρ on a few training crops, so the net starts at O(1)
        ys = [train_set[i][1][train_set[i][2] > 0] for i in range(min(8, len(train_set)))]
        cfg['out_scale'] = float(torch.cat(ys).std())
    model = nn_model.UNet3D(cfg).to(device)
    try:
        nn_model.check_crop(args.crop, model.factor)
    except ValueError as err:
        sys.exit(f'--crop: {err}')
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    if ckpt:
        model.load_state_dict(ckpt['model'])
        opt.load_state_dict(ckpt['optimizer'])
    elif init is not None:
        model.load_state_dict(init)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    if args.compile:        # crops and batches have one shape: compiled once
        net = torch.compile(net)
    log = open(os.path.join(args.out, 'metrics.jsonl'), 'a') if rank == 0 else None

    def record(**entry):
        if log:
            log.write(json.dumps({'time': time.time(), **entry}) + '\n')
            log.flush()

    def save(path):
        if rank == 0:
            torch.save({'model': model.state_dict(), 'optimizer': opt.state_dict(), 'config': cfg,
                        'state': state, 'args': options,
                        'metadata': make_metadata(cfg, args, splits, val_set.records,
                                                          state['best'])}, path + '.tmp')
            os.replace(path + '.tmp', path)

    # --val-guess: the SCF's density matrices of the first validation structures, loaded once
    guess_records = [data_io.load_record(*r) for r in splits['val'][:args.val_guess]]
    guess_level = ds.data_settings(args.data)
    best_key = 'guess_nmae_percent' if guess_records else 'nmae_delta_rho'

    def validate_and_save():
        val = validate(model, val_loader, device, args.spacing)
        if guess_records and rank == 0:
            val.update(validate_guess(current_predictor(), guess_records, guess_level))
        record(step=state['step'], epoch=state['epoch'], val=val)
        if rank == 0:
            print(f'step {state["step"]}: validation {val}', flush=True)
        if val.get(best_key, np.inf) < state['best'].get('val', {}).get(best_key, np.inf):
            state['best'] = {'step': state['step'], 'val': val}
            save(best_path)
        save(ckpt_path)

    def current_predictor():
        """The model as it is now, exported and loaded as users load weights (on the CPU)."""
        path = os.path.join(args.out, 'validation_weights.pt')
        nn_model.export(copy.deepcopy(model), path,
                        make_metadata(cfg, args, splits, val_set.records, state['best']))
        return nn_model.NetworkPredictor(path, device='cpu')

    record(event='start', args=options, config=cfg, world=world,
           structures={k: len(v) for k, v in splits.items()})
    if rank == 0:
        print(f'train {len(splits["train"])} structures, val {len(val_set.records)}, '
              f'device {device}, world {world}, out_scale {cfg["out_scale"]:.3g}', flush=True)
    t_start, stop = time.time(), False
    from tqdm import tqdm
    while state['epoch'] < args.epochs and not stop:
        if args.rescan and state['epoch'] > 0:     # new shards: same hash split, more molecules
            splits = ds.split_records(args.data, seed=args.split_seed)
            train_set.records = splits['train']
        train_set.set_epoch(state['epoch'])
        if sampler is not None:
            sampler.set_epoch(state['epoch'])
        bar = tqdm(loader, desc=f'epoch {state["epoch"]}', disable=args.no_progress or rank > 0)
        for batch in bar:
            batch = [t.to(device) for t in batch]
            for reuse in range(args.crop_reuse):
                x, y, mask = (cube_symmetry(batch, np.random.default_rng(
                    [args.seed, state['step']])) if reuse else batch)
                progress, total = ((time.time() - t_start, 60 * args.max_minutes)
                                   if args.lr_over_minutes else
                                   (state['step'], args.epochs * len(loader) * args.crop_reuse))
                for group in opt.param_groups:
                    group['lr'] = learning_rate(args, progress, total, optimizer_steps(opt))
                loss = training_step(net, opt, x, y, mask, args, args.bf16)
                state['step'] += 1
                bar.set_postfix(loss=f'{loss.item():.3g}')
                if state['step'] % 10 == 0:
                    record(step=state['step'], epoch=state['epoch'], loss=loss.item(),
                           lr=opt.param_groups[0]['lr'])
                if state['step'] % args.val_every == 0:
                    validate_and_save()
                if args.max_minutes and time.time() - t_start > 60 * args.max_minutes:
                    stop = True
                    break
            if stop:
                break
        if not stop:
            state['epoch'] += 1
    validate_and_save()
    if args.export and rank == 0:
        export_checkpoint(best_path if os.path.exists(best_path) else ckpt_path, args.export)
    if world > 1:
        dist.destroy_process_group()
    return 0


if __name__ == '__main__':
    sys.exit(main())
