"""Where the training loop's batches come from: the HDF5 records of a data folder (crops drawn
with PySCF, in DataLoader workers) or the compact set (crops evaluated in torch on the training
device: the GPU kit, which has no PySCF).  Both give the loop the same things: ``epoch(epoch,
step)`` (an iterator over one epoch's batches), ``len()`` (batches per epoch), the fixed
``val_batches``, the level of theory (``reference``) and the data's part of the metadata.
"""
import glob
import os
import time

import numpy as np
import torch

from pyscf.deepscf.training import compact

SPLIT_FRACTIONS = [0.8, 0.1, 0.1]
# validation crops: two per structure, crop k of structure j from default_rng([VAL_SEED, 0, 2j+k])
VAL_SEED, VAL_CROP = 12345, 32


def is_compact(sources):
    """Whether ``sources`` (paths that exist) are the compact set: a file among them, or a folder
    holding .npz files; any folder without them is an HDF5 data folder (records.shard_files)."""
    return any(not os.path.isdir(s) or glob.glob(os.path.join(s, '*.npz')) for s in sources)


def open_batches(args, device, world=1):
    """The batches of ``args.data`` (paths that exist): an HDF5 data folder or the compact set;
    ValueError naming what is wrong with the data."""
    if is_compact(args.data):
        return CompactBatches(args, device, world)
    if len(args.data) > 1:
        raise ValueError('HDF5 data trains on one data folder; several sources are compact '
                         'files (.npz) or folders of them')
    return RecordBatches(args, world)


class RecordBatches:
    """Random rotated crops of the HDF5 records (dataset.DensityDataset), re-drawn each epoch."""

    def __init__(self, args, world):
        from torch.utils.data import DataLoader
        from torch.utils.data.distributed import DistributedSampler
        from pyscf.deepscf.training import dataset, records
        self.args, self.folder, self.dataset = args, args.data[0], dataset
        self.splits = dataset.split_records(self.folder, seed=args.split_seed)
        if not self.splits['train'] or not self.splits['val']:
            raise ValueError(f'{self.folder}: need structures in both train and val splits, '
                             f'have { {k: len(v) for k, v in self.splits.items()} }')
        common = dict(spacing_bohr=args.spacing, margin_bohr=args.margin, crop=args.crop,
                      smoothing_bohr=args.smoothing)
        self.train_set = dataset.DensityDataset(
            self.splits['train'], samples_per_structure=args.samples_per_structure,
            seed=args.seed, **common)
        val_set = dataset.DensityDataset(self.splits['val'][:args.val_structures],
                                         samples_per_structure=2, seed=VAL_SEED, **common)
        self.sampler = DistributedSampler(self.train_set, seed=args.seed) if world > 1 else None
        # Workers are spawned, not forked: a forked child that calls OpenMP (PySCF's integrals)
        # after the parent has used it hangs in libgomp.  They are re-created each epoch, so
        # they see set_epoch and --rescan.
        self.loader = DataLoader(self.train_set, batch_size=args.batch_size,
                                 shuffle=self.sampler is None, sampler=self.sampler,
                                 num_workers=args.workers, drop_last=True,
                                 persistent_workers=False,
                                 multiprocessing_context='spawn' if args.workers else None)
        self.val_batches = list(DataLoader(val_set, batch_size=args.batch_size))
        self.val_ids = [r[1] for r in val_set.records]
        self.reference = records.data_settings(self.folder)
        self.events = []
        self._records = records

    def __len__(self):
        return len(self.loader)

    def structures(self):
        return {'train': len(self.splits['train']), 'val': len(self.val_ids)}

    def metadata(self):
        return {'folder': os.path.abspath(self.folder), 'split_seed': self.args.split_seed,
                'split_fractions': SPLIT_FRACTIONS,
                'structures': {k: len(v) for k, v in self.splits.items()},
                'validation_structures': sorted(self.val_ids)}

    def epoch(self, epoch, step):
        if self.args.rescan and epoch > 0:     # new shards: same hash split, more molecules
            self.splits = self.dataset.split_records(self.folder, seed=self.args.split_seed)
            self.train_set.records = self.splits['train']
        self.train_set.set_epoch(epoch)
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
        return iter(self.loader)

    def first_targets(self, n=8):
        """Δρ of the valid voxels of the first ``n`` training crops."""
        items = [self.train_set[i] for i in range(min(n, len(self.train_set)))]
        return torch.cat([y[mask > 0] for _, y, mask in items])

    def guess_records(self, n):
        """The first ``n`` validation structures as records (with their SCF density matrix)."""
        return [self._records.load_record(*r) for r in self.splits['val'][:n]]


class CompactBatches:
    """Random rotated crops of the compact set, evaluated on ``device``: the training structures
    padded and stacked once, each batch drawn from random structures; an epoch is as many
    batches as the records' epoch of the same structures."""

    def __init__(self, args, device, world):
        if world > 1:
            raise ValueError('the compact set trains in one process')
        if args.smoothing:
            raise ValueError('the compact set gives point values of Δρ (--smoothing 0)')
        self.args, self.device = args, device
        self.store = compact.CompactSet(args.data)
        self.train_idx = self.store.indices('train')
        self.val_idx = self.store.indices('val')[:args.val_structures]
        if not self.train_idx or not self.val_idx:
            raise ValueError(f'{self.store.path}: need structures in the train and val splits')
        self.stack = compact.StructureStack(
            [self.store.structure(i) for i in self.train_idx]).to(device)
        self.val_batches = validation_batches(self.store, self.val_idx, args.spacing,
                                              args.margin, args.batch_size, device)
        self.val_ids = [self.store.ids[i] for i in self.val_idx]
        self.reference = {k: v for k, v in self.store.settings.items()
                          if k not in ('split_seed', 'factor_dtype')}
        self.events = []
        if args.sample_group == 'auto':
            args.sample_group, seconds = choose_sample_group(self.stack, args, device)
            print(f'crops evaluated {args.sample_group} structures at a time (seconds per '
                  f'batch: {seconds})', flush=True)
            self.events.append({'event': 'sample_group', 'chosen': args.sample_group,
                                'seconds_per_batch': seconds})

    def __len__(self):
        return max(1, len(self.train_idx) * self.args.samples_per_structure
                   // self.args.batch_size)

    def structures(self):
        return {'train': len(self.train_idx), 'val': len(self.val_idx)}

    def metadata(self):
        return {'compact': ' '.join(os.path.basename(f) for f in self.store.files),
                'split_seed': self.store.settings['split_seed'],
                'split_fractions': SPLIT_FRACTIONS,
                'structures': {s: len(self.store.indices(s)) for s in ('train', 'val', 'test')},
                'validation_structures': sorted(self.val_ids)}

    def epoch(self, epoch, step):
        rng = np.random.default_rng([self.args.seed, step])     # resumable: a function of the step
        return (sample_batch(self.stack, self.args, rng) for _ in range(len(self)))

    def first_targets(self, n=8):
        x, y, mask = sample_batch(self.stack, self.args, np.random.default_rng([self.args.seed]),
                                  n)
        return y[mask > 0].cpu()

    def guess_records(self, n):
        from pyscf.deepscf.training.compact_pyscf import compact_records
        return compact_records(self.store, self.store.indices('val')[:n])


def synchronized_time(device):
    """time.perf_counter() once the device's queued work is done."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    return time.perf_counter()


def sample_batch(stack, args, rng, size=None):
    """A batch of random rotated crops (x, y, mask) of structures drawn from ``stack``
    (compact.StructureStack), evaluated ``args.sample_group`` structures at a time."""
    picks = rng.choice(len(stack), size or args.batch_size)
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
        args.sample_group = group
        rng = np.random.default_rng([args.seed, 999, group])
        sample_batch(stack, args, rng)
        t0 = synchronized_time(device)
        for _ in range(repeats):
            sample_batch(stack, args, rng)
        seconds[group] = round((synchronized_time(device) - t0) / repeats, 4)
    return min(seconds, key=seconds.get), seconds


def validation_batches(store, indices, spacing_bohr, margin_bohr, batch_size, device='cpu'):
    """Fixed crops of the compact set's structures ``indices``, the crops that
    dataset.DensityDataset(seed=VAL_SEED, samples_per_structure=2) draws from the HDF5 records,
    so both sets of targets can be compared crop by crop."""
    structures = {i: store.structure(i, device) for i in indices}
    crops = [(structures[i], compact.crop_geometry(
        structures[i].coords_np, np.random.default_rng([VAL_SEED, 0, 2 * j + k]), spacing_bohr,
        margin_bohr, VAL_CROP)) for j, i in enumerate(indices) for k in range(2)]
    batches = []
    for s in range(0, len(crops), batch_size):
        part = crops[s:s + batch_size]
        stack = compact.StructureStack([c[0] for c in part])
        batches.append(compact.crop_batch(stack, range(len(part)), [c[1] for c in part],
                                          VAL_CROP))
    return batches
