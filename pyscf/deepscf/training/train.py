"""The training loop of the density network (``deepscf train``; the GPU kit,
scripts/gpu_train.py, runs the same loop on the compact set).

Fits the U-Net (engine/model.py) on random rotated crops (batches.py: from the HDF5 records of
a data folder, or from the compact set) with a masked MSE loss on Δρ (objectives.py).  Writes
to ``--out DIR``: checkpoint.pt (last), best.pt (best validation: the density NMAE of fixed
crops, or with ``--val-guess N`` the guess's on N structures), metrics.jsonl (one JSON line per
log/validation event), report.json (steps, their cost, validation against steps), with
``--snapshots`` the weights of each validation, and with ``--export PATH`` TorchScript weights
with metadata (best.pt's).

Single process: CPU by default, CUDA when present.  Several GPUs or nodes (HDF5 data): torchrun
sets WORLD_SIZE/RANK/LOCAL_RANK; each process then takes its share of the crops
(DistributedSampler) and gradients are averaged (DistributedDataParallel).

Example (CPU, one thread, 25 minutes):
    python -m pyscf.deepscf.training.train --data /work/data/qm9_b3lyp_def2svp --out runs/first \\
        --threads 1 --max-minutes 25 --export weights/deepscf_default.pt
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist

from pyscf.deepscf.engine import model as nn_model
from pyscf.deepscf.training import batches
from pyscf.deepscf.training import export as weights_file
from pyscf.deepscf.training.objectives import (cube_symmetry, learning_rate, optimizer_steps,
                                               training_step, validate)
from pyscf.deepscf.training.options import build_parser, continue_run


def add_train_command(subparsers):
    """``deepscf train``, for the training commands of the ``deepscf`` command line."""
    from pyscf.deepscf.training.options import add_arguments
    p = subparsers.add_parser('train', help='train the density network',
                              description=__doc__.split('\n')[0],
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=run)


def main(argv=None):
    parser = build_parser()
    return run(parser.parse_args(argv), parser)


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


def export_checkpoint(ckpt_path, out_path):
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    model = nn_model.UNet3D(ckpt['config'])
    model.load_state_dict(ckpt['model'])
    weights_file.export(model, out_path, ckpt['metadata'])
    print(f'exported {ckpt_path} -> {out_path} ({os.path.getsize(out_path) / 1e6:.1f} MB); '
          f'validation {ckpt["metadata"].get("validation")}', flush=True)


def evaluate(args):
    """Figures of exported weights on all structures of a split of the data (2 fixed crops
    each): HDF5 records, or the compact set (its own split; crops of batches.VAL_CROP)."""
    module, meta = nn_model.load(args.evaluate)
    if batches.is_compact(args.data):
        from pyscf.deepscf.training import compact
        if meta.get('smoothing_bohr', 0.0):
            sys.exit('--evaluate: these weights predict a smoothed Δρ; the compact set gives '
                     'point values (evaluate them on the HDF5 data folder)')
        try:
            store = compact.CompactSet(args.data)
        except ValueError as err:
            sys.exit(f'--data: {err}')
        index = store.indices(args.split)
        crops = batches.validation_batches(store, index, meta['spacing_bohr'],
                                           meta['margin_bohr'], args.batch_size)
        data, structures, n_crops = store.path, len(index), 2 * len(index)
    else:
        from torch.utils.data import DataLoader
        from pyscf.deepscf.training import dataset
        data = os.path.abspath(args.data[0])
        records = dataset.split_records(data, seed=meta['dataset']['split_seed'])[args.split]
        crop_set = dataset.DensityDataset(records, spacing_bohr=meta['spacing_bohr'],
                                          margin_bohr=meta['margin_bohr'], crop=args.crop,
                                          smoothing_bohr=meta.get('smoothing_bohr', 0.0),
                                          samples_per_structure=2, seed=batches.VAL_SEED)
        crops = DataLoader(crop_set, batch_size=args.batch_size)
        structures, n_crops = len(records), len(crop_set)
    val = validate(module, crops, torch.device('cpu'), meta['spacing_bohr'])
    result = {'weights': os.path.abspath(args.evaluate), 'data': data, 'split': args.split,
              'structures': structures, 'crops': n_crops, **val}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'evaluation.json'), 'w') as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))
    return result


def new_config(args, source):
    """A new network's config: the model options, and an output scale that starts the network
    at O(1) (--out-scale, else the std of Δρ on the first training crops)."""
    out_scale = args.out_scale or float(source.first_targets().std())
    return {**nn_model.DEFAULT_CONFIG, 'widths': args.widths,
            'blocks_per_level': args.blocks_per_level, 'groups': args.groups,
            'out_scale': out_scale}


def weights_metadata(cfg, args, source, state, weights):
    """The metadata of exported weights; ``weights`` ({'step', 'samples', 'val'}) says which:
    a validation's own row, or the best one.  The weights the run started from (--init) are
    carried through every --resume in the state."""
    return weights_file.make_metadata(
        cfg, args.spacing, args.margin, smoothing_bohr=args.smoothing,
        reference=source.reference, dataset=source.metadata(),
        training={'seed': args.seed, 'crop': args.crop, 'batch_size': args.batch_size,
                  'steps': weights.get('step'), 'samples': weights.get('samples'),
                  'loss_weight': args.loss_weight, 'coulomb_loss': args.coulomb_loss,
                  'crop_reuse': args.crop_reuse, 'bf16': args.bf16, 'device': args.device_name,
                  'init': state.get('init'), 'resume': state.get('resume'),
                  **args.training_metadata},
        validation=weights.get('val', {}))


# ------------------------------------------------------------------------------- the loop

def run(args, parser=None):
    """Train (or export / evaluate) as the parsed command line ``args`` says; returns 0."""
    t_start = time.time()
    ckpt_path, best_path = (os.path.join(args.out, n) for n in ('checkpoint.pt', 'best.pt'))
    if args.export_only:
        if not args.export:
            sys.exit('--export-only needs --export PATH')
        export_checkpoint(best_path if os.path.exists(best_path) else ckpt_path, args.export)
        return 0
    missing = [s for s in args.data if not os.path.exists(s)]
    if missing:
        (parser or build_parser()).error(f'--data: no data folder or compact file {missing[0]}')
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.evaluate:
        evaluate(args)
        return 0
    rank, world, device = setup_distributed(args.device)
    resume_path = ckpt_path if args.resume is True else args.resume
    ckpt = None
    if resume_path and (os.path.exists(resume_path) or args.resume is not True):
        ckpt = torch.load(resume_path, map_location='cpu', weights_only=False)
        continue_run(args, ckpt.get('args') or {}, ckpt.get('given'))
    # checked once the resumed run's options are back
    if args.lr_over_minutes and not (args.max_minutes and args.lr_final is not None):
        sys.exit('--lr-over-minutes needs --max-minutes and --lr-final')
    args.bf16 = bool(args.bf16)       # None (not given, nothing resumed): off
    args.device_name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'
    args.training_metadata = getattr(args, 'training_metadata', None) or {}
    given = list(getattr(args, 'given', ()))
    options = {k: v for k, v in vars(args).items() if k not in ('func', 'given')}
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    try:
        source = batches.open_batches(args, device, world)
    except ValueError as err:
        sys.exit(f'--data: {err}')

    # the network and its optimiser: resumed, from exported weights (--init), or new
    if ckpt:
        cfg, state = ckpt['config'], {'samples': 0, 'epoch': 0, **ckpt['state']}
        state.setdefault('init', (ckpt.get('metadata') or {}).get('training', {}).get('init'))
        state['resume'] = os.path.basename(resume_path)
    elif args.init:
        init_module, meta = nn_model.load(args.init)
        cfg = meta['config']
        state = {'epoch': 0, 'step': 0, 'samples': 0, 'best': {},
                 'init': os.path.basename(args.init)}
    else:
        cfg = new_config(args, source)
        state = {'epoch': 0, 'step': 0, 'samples': 0, 'best': {}}
    model = nn_model.UNet3D(cfg)
    if ckpt:
        model.load_state_dict(ckpt['model'])
    elif args.init:
        model.load_state_dict(init_module.state_dict())
    model = model.to(device)
    try:
        nn_model.check_crop(args.crop, model.factor)
    except ValueError as err:
        sys.exit(f'--crop: {err}')
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    if ckpt:
        opt.load_state_dict(ckpt['optimizer'])
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    if args.compile:        # crops and batches have one shape: compiled once
        net = torch.compile(net)

    log = open(os.path.join(args.out, 'metrics.jsonl'), 'a') if rank == 0 else None

    def record(**entry):
        if log:
            log.write(json.dumps({'time': time.time(), **entry}) + '\n')
            log.flush()

    def save(path, weights):
        if rank == 0:
            torch.save({'model': model.state_dict(), 'optimizer': opt.state_dict(), 'config': cfg,
                        'state': state, 'args': options, 'given': given,
                        'metadata': weights_metadata(cfg, args, source, state, weights)},
                       path + '.tmp')
            os.replace(path + '.tmp', path)

    def current_predictor():
        """The model as it is now, exported and loaded as users load weights (on the CPU)."""
        path = os.path.join(args.out, 'validation_weights.pt')
        weights_file.export(model, path,
                            weights_metadata(cfg, args, source, state, state['best']))
        # float32: validation figures comparable between machines with and without bfloat16
        return nn_model.NetworkPredictor(path, device='cpu', dtype='float32')

    # --val-guess: the SCF's density matrices of the first validation structures, loaded once
    guess_records = source.guess_records(args.val_guess) if args.val_guess else []
    best_key = 'guess_nmae_percent' if guess_records else 'nmae_delta_rho'
    slowest_validation = [0.0]

    def validate_and_save():
        t0 = time.time()
        val = validate(model, source.val_batches, device, args.spacing)
        if guess_records and rank == 0:
            from pyscf.deepscf.training.guess_validation import validate_guess
            val.update(validate_guess(current_predictor(), guess_records, source.reference))
        row = {'step': state['step'], 'epoch': state['epoch'], 'samples': state['samples'],
               'elapsed_s': round(time.time() - t_start, 1), 'val': val}
        record(**row)
        if rank == 0:
            print(f'step {state["step"]} ({row["elapsed_s"]:.0f} s): validation NMAE '
                  f'{val["nmae_rho_percent"]:.3f} %' + (f', guess {val[best_key]:.3f} %'
                                                         if guess_records else ''), flush=True)
        weights = {k: row[k] for k in ('step', 'samples', 'val')}
        if val.get(best_key, np.inf) < state['best'].get('val', {}).get(best_key, np.inf):
            state['best'] = weights
            save(best_path, weights)
        save(ckpt_path, weights)
        if args.snapshots and rank == 0:
            weights_file.export(model, os.path.join(
                args.out, f'weights_step{state["step"]:06d}.pt'),
                weights_metadata(cfg, args, source, state, weights))
            if args.keep_snapshots:     # the device tool returns at most 8 files
                for old in sorted(glob.glob(os.path.join(args.out, 'weights_step*.pt')))[
                        :-args.keep_snapshots]:
                    os.remove(old)
        slowest_validation[0] = max(slowest_validation[0], time.time() - t0)
        return row

    for event in source.events:
        record(**event)
    record(event='start', args=options, config=cfg, world=world, structures=source.structures())
    if rank == 0:
        print(f'train {source.structures()["train"]} structures, val '
              f'{source.structures()["val"]}; device {args.device_name}, bf16 {args.bf16}, '
              f'world {world}, out_scale {cfg["out_scale"]:.3g}; {time.time() - t_start:.1f} s '
              'to load', flush=True)
    history = [validate_and_save()] if args.validate_first else []
    deadline = t_start + 60 * args.max_minutes if args.max_minutes else np.inf

    def time_left():
        """Seconds of steps left: the last validation and the export must fit too."""
        return deadline - 2 * slowest_validation[0] - 10 - time.time()

    t_train, step0, last_save = time.time(), state['step'], time.time()
    time_budget = max(time_left(), 1e-6)
    total_steps = args.max_steps or args.epochs * len(source) * args.crop_reuse
    split = {'sample_s': 0.0, 'step_s': 0.0, 'timed_steps': 0}
    draws, stop = 0, False
    while state['epoch'] < args.epochs and not stop:
        epoch_batches = source.epoch(state['epoch'], state['step'])
        bar = None
        if not args.no_progress and rank == 0:
            from tqdm import tqdm
            bar = tqdm(total=len(source), desc=f'epoch {state["epoch"]}')
        while not stop:
            # every --time-every'th batch drawn is timed in two parts, synchronized, to tell
            # what bounds the rate: drawing the crops or the network's step
            timed = (draws + 1) % args.time_every == 0
            t_a = batches.synchronized_time(device) if timed else 0.0
            batch = next(epoch_batches, None)
            if batch is None:
                break
            draws += 1
            batch = [t.to(device) for t in batch]
            t_b = batches.synchronized_time(device) if timed else 0.0
            for reuse in range(args.crop_reuse):
                x, y, mask = (cube_symmetry(batch, np.random.default_rng(
                    [args.seed, state['step']])) if reuse else batch)
                progress, total = ((time.time() - t_train, time_budget) if args.lr_over_minutes
                                   else (state['step'], total_steps))
                for group in opt.param_groups:
                    group['lr'] = learning_rate(args, progress, total, optimizer_steps(opt))
                loss = training_step(net, opt, x, y, mask, args, args.bf16)
                state['step'] += 1
                state['samples'] += len(x)
                if timed and not reuse:
                    t_c = batches.synchronized_time(device)
                    split['sample_s'] += (t_b - t_a) / args.crop_reuse
                    split['step_s'] += t_c - t_b
                    split['timed_steps'] += 1
                    record(step=state['step'], loss=loss.item(), lr=opt.param_groups[0]['lr'],
                           sample_s=round(t_b - t_a, 4), step_s=round(t_c - t_b, 4))
                if state['step'] % 10 == 0:
                    record(step=state['step'], epoch=state['epoch'], loss=loss.item(),
                           lr=opt.param_groups[0]['lr'])
                if bar is not None:
                    bar.set_postfix(loss=f'{loss.item():.3g}', refresh=False)
                if (args.val_every and state['step'] % args.val_every == 0) or (
                        args.checkpoint_minutes
                        and time.time() - last_save > 60 * args.checkpoint_minutes):
                    history.append(validate_and_save())
                    last_save = time.time()
                if (args.max_steps and state['step'] >= args.max_steps) or time_left() <= 0:
                    stop = True
                    break
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        if not stop:
            state['epoch'] += 1
    history.append(validate_and_save())
    seconds = time.time() - t_train
    if rank == 0:
        if args.export:
            export_checkpoint(best_path if os.path.exists(best_path) else ckpt_path, args.export)
        write_report(args, source, state, history, step0, draws, seconds, split)
    if world > 1:
        dist.destroy_process_group()
    return 0


def write_report(args, source, state, history, step0, draws, seconds, split):
    """report.json: what the run's steps cost and how validation fell; printed in one line."""
    steps = state['step'] - step0
    # None where no batch was timed (fewer than --time-every drawn): not a zero
    per_step = ({k: round(split[k] / split['timed_steps'], 4) for k in ('sample_s', 'step_s')}
                if split['timed_steps'] else None)
    report = {'device': args.device_name, 'torch': torch.__version__, 'bf16': args.bf16,
              'structures': source.structures(), 'steps': steps, 'batch_size': args.batch_size,
              'crop': args.crop, 'sample_group': args.sample_group,
              'crop_reuse': args.crop_reuse, 'batches_drawn': draws,
              'train_seconds': round(seconds, 1), 'steps_per_s': round(steps / seconds, 3),
              'seconds_per_step': per_step,
              'validation': [{k: r[k] for k in ('step', 'samples', 'elapsed_s')}
                             | {'nmae_rho_percent': r['val']['nmae_rho_percent']}
                             for r in history],
              'best': state['best']}
    with open(os.path.join(args.out, 'report.json'), 'w') as f:
        json.dump(report, f, indent=1)
    split_words = (f'per step {per_step["sample_s"]:.4f} s sampling crops, '
                   f'{per_step["step_s"]:.4f} s network' if per_step else
                   f'the split not timed: {draws} batches drawn, every {args.time_every}th '
                   'is timed')
    best = state['best']
    # no best where no validation was finite (a diverged run)
    best_words = (f'best validation NMAE {best["val"]["nmae_rho_percent"]:.3f} % at step '
                  f'{best["step"]}' if best.get('val') else 'no finite validation')
    print(f'trained {steps} steps in {seconds:.0f} s ({report["steps_per_s"]:.2f}/s; '
          f'{split_words}); {best_words}', flush=True)
    return report


if __name__ == '__main__':
    sys.exit(main())
