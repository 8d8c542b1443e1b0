"""The training loop's options (``deepscf train``; the GPU kit sets other defaults on the same
parser) and how a resumed run takes back the options it was started with.  Standard library and
the model's defaults only: the GPU kit builds this parser without PySCF."""
import argparse

from pyscf.deepscf.argtypes import nonnegative_int, positive_float, positive_int, typed
from pyscf.deepscf.engine import model as nn_model

SPLITS = ('train', 'val', 'test')
DEFAULT_SPACING_BOHR = 0.3
DEFAULT_MARGIN_BOHR = 5.0
DEFAULT_CROP = 32

structure_count = typed(int, lambda v: v >= 1, "'auto' or a whole number of structures, at least 1")


def sample_group_arg(value):
    """--sample-group: 'auto' or a number of structures (at least 1)."""
    return value if value == 'auto' else structure_count(value)


def noting_given(action_class):
    """``action_class`` that also adds its option's dest to ``namespace.given``: the options the
    command line gave explicitly (a resumed run takes back the others, continue_run)."""
    class Noted(action_class):
        def __call__(self, parser, namespace, values, option_string=None):
            super().__call__(parser, namespace, values, option_string)
            namespace.given = sorted(set(getattr(namespace, 'given', ())) | {self.dest})
    Noted.__name__ = f'Noted{action_class.__name__}'
    return Noted


def add_arguments(p):
    # every option added below (and after, e.g. by the GPU kit) notes when it is given
    for name, action in ((None, argparse._StoreAction), ('store', argparse._StoreAction),
                         ('store_true', argparse._StoreTrueAction),
                         (argparse.BooleanOptionalAction, argparse.BooleanOptionalAction)):
        p.register('action', name, noting_given(action))
    p.add_argument('--data', required=True, nargs='+', metavar='SOURCE',
                   help='a data folder (HDF5 shards of `deepscf data generate`), or compact '
                        'files (.npz, `deepscf data compact`) and folders of them (the GPU kit)')
    p.add_argument('--out', required=True, metavar='DIR', help='run folder (checkpoints, log)')
    start = p.add_mutually_exclusive_group()
    start.add_argument('--resume', nargs='?', const=True, default=None, metavar='CHECKPOINT',
                       help='continue from DIR/checkpoint.pt, or from the CHECKPOINT given')
    start.add_argument('--init', metavar='WEIGHTS',
                       help='start from the parameters of exported weights (e.g. the bundled '
                            'model) instead of random ones; their config replaces the model '
                            'options')
    p.add_argument('--export', metavar='PATH', help='write TorchScript weights here at the end')
    p.add_argument('--export-only', action='store_true',
                   help='no training: export DIR/best.pt (else checkpoint.pt) to --export')
    p.add_argument('--evaluate', metavar='WEIGHTS',
                   help='no training: validation figures of exported WEIGHTS on every structure '
                        'of --split now in --data (writes DIR/evaluation.json)')
    p.add_argument('--split', choices=SPLITS, default='val', help='for --evaluate')
    g = p.add_argument_group('model')
    g.add_argument('--widths', type=int, nargs='+', default=nn_model.DEFAULT_CONFIG['widths'])
    g.add_argument('--blocks-per-level', type=int,
                   default=nn_model.DEFAULT_CONFIG['blocks_per_level'])
    g.add_argument('--groups', type=int, default=nn_model.DEFAULT_CONFIG['groups'])
    g.add_argument('--out-scale', type=float, default=None,
                   help='output scale (default: std of Δρ on the first training crops)')
    g = p.add_argument_group('data')
    g.add_argument('--spacing', type=float, default=DEFAULT_SPACING_BOHR, help='bohr')
    g.add_argument('--margin', type=float, default=DEFAULT_MARGIN_BOHR, help='bohr')
    g.add_argument('--smoothing', type=float, default=0.0,
                   help='target: the residual smoothed by a Gaussian of this standard '
                        'deviation (bohr; the oracle uses 0.2), 0 for point values (HDF5 only)')
    g.add_argument('--crop', type=positive_int, default=DEFAULT_CROP, help='crop edge (voxels)')
    g.add_argument('--samples-per-structure', type=positive_int, default=4, help='crops per epoch')
    g.add_argument('--crop-reuse', type=positive_int, default=1, metavar='K',
                   help='train K steps on each batch of crops, each step but the first on a '
                        'random symmetry of the cube (rotation or mirror image, exact): for '
                        'where drawing the crops bounds the rate')
    g.add_argument('--sample-group', default='auto', metavar='G', type=sample_group_arg,
                   help='compact set: structures whose crops are evaluated together (1: one at '
                        'a time; auto: the fastest of 1, 4, 8, 16 and the batch, timed first)')
    g.add_argument('--split-seed', type=int, default=0, help='HDF5 data (a compact file keeps '
                                                             'its own)')
    g.add_argument('--val-structures', type=positive_int, default=16,
                   help='validation molecules used')
    g.add_argument('--workers', type=nonnegative_int, default=0, help='DataLoader worker processes')
    g.add_argument('--rescan', action='store_true',
                   help='re-list the data folder each epoch (train while data is generated)')
    g = p.add_argument_group('optimisation')
    g.add_argument('--epochs', type=nonnegative_int, default=100)
    g.add_argument('--max-steps', type=positive_int, default=None,
                   help='stop at this step (a resumed run counts on from its checkpoint)')
    g.add_argument('--max-minutes', '--minutes', type=positive_float, default=None,
                   help='wall time of the whole run from its start, loading the data '
                        'included: training stops early enough (twice the slowest validation '
                        'plus 10 s) for the last validation and the export to fit')
    g.add_argument('--batch-size', type=positive_int, default=2)
    g.add_argument('--lr', type=positive_float, default=2e-3)
    g.add_argument('--lr-final', type=float, default=None,
                   help='cosine decay of the learning rate from --lr to this over --epochs '
                        '(or --max-steps; default: constant --lr)')
    g.add_argument('--lr-over-minutes', action=argparse.BooleanOptionalAction, default=False,
                   help='the cosine of --lr-final runs over the wall time --max-minutes leaves '
                        'for training (after loading the data, less the time kept for the last '
                        'validation and export) instead of over the steps (runs compared at '
                        'equal compute; not resumable)')
    g.add_argument('--warmup-steps', type=nonnegative_int, default=0, metavar='W',
                   help='ramp the rate linearly over the first W steps of a fresh optimizer '
                        '(fine-tunes: --init; a --resume keeps its optimizer and does not '
                        'warm up again)')
    g.add_argument('--weight-decay', type=float, default=1e-4)
    g.add_argument('--coulomb-loss', type=float, default=0.0, metavar='LAMBDA',
                   help='add LAMBDA x the Hartree energy of the error per voxel to the loss')
    g.add_argument('--loss-weight', choices=('none', 'valence'), default='none',
                   help="'valence': weight 1/(1+ρ0) de-emphasises the cores")
    g.add_argument('--seed', type=int, default=0)
    g = p.add_argument_group('validation and checkpoints')
    g.add_argument('--val-every', type=nonnegative_int, default=200,
                   help='steps between validations (0: by --checkpoint-minutes alone)')
    g.add_argument('--checkpoint-minutes', type=positive_float, default=None,
                   help='also validate and checkpoint this often')
    g.add_argument('--validate-first', action=argparse.BooleanOptionalAction, default=False,
                   help='validate the starting weights before the first step')
    g.add_argument('--snapshots', action=argparse.BooleanOptionalAction, default=False,
                   help='export the weights at each validation (weights_stepNNNNNN.pt), to '
                        'choose among them by the guess later')
    g.add_argument('--keep-snapshots', type=nonnegative_int, default=0, metavar='K',
                   help='keep only the latest K snapshots (0: all)')
    g.add_argument('--val-guess', type=nonnegative_int, default=0, metavar='N',
                   help='at each validation also build the guess (one Fock build at the data\'s '
                        'level) of the first N validation structures and keep best.pt by its '
                        'density-matrix NMAE against theirs, not by the crops\' density NMAE '
                        '(guess_validation.py, needs PySCF; one Fock build per structure at '
                        'each validation)')
    g = p.add_argument_group('machine')
    g.add_argument('--threads', type=positive_int, default=None, help='torch CPU threads')
    g.add_argument('--device', default=None, help="default 'cuda' when present, else 'cpu'")
    g.add_argument('--bf16', action=argparse.BooleanOptionalAction, default=None,
                   help='bfloat16 autocast for the network in training, for speed (validation '
                        'and exported weights stay float32; docs/experiments.md, "Levers at '
                        'equal CPU compute"); default: off (the GPU kit: on where CUDA supports '
                        'it)')
    g.add_argument('--compile', action='store_true',
                   help='torch.compile the training steps, for speed (compiled once: one '
                        'shape of crops and batches; benchmarks/train_throughput.py)')
    g.add_argument('--time-every', type=positive_int, default=50, metavar='N',
                   help='time every Nth batch drawn in two parts, with the device synchronized: '
                        'drawing the crops and the network\'s step (report.json)')
    g.add_argument('--no-progress', action='store_true')
    return p


def build_parser():
    p = argparse.ArgumentParser(prog='deepscf train', description='Train the density network.',
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    return add_arguments(p)


# Options that say how to run, not what the run is: a resumed run takes them from the command
# line; every other option it takes from the run it continues, unless given a new value.
RUN_CONTROL = {'data', 'out', 'resume', 'init', 'export', 'export_only', 'evaluate', 'split',
               'max_minutes', 'max_steps', 'threads', 'device', 'workers', 'no_progress',
               'rescan', 'func', 'command', 'compile', 'sample_group', 'time_every',
               'checkpoint_minutes', 'validate_first', 'snapshots', 'keep_snapshots',
               'timing_sizes', 'no_timing', 'given', 'training_metadata', 'device_name'}


def continue_run(args, saved, saved_given=None):
    """Give ``args`` the options of the run it resumes (``saved``: that run's options) that this
    command line did not give (``args.given``), so that ``--resume`` alone continues the run as
    it was started (learning-rate schedule, batch, crops); a value given now wins.  Only the
    options that run was given (or took back itself: ``saved_given``) return, not its defaults:
    a checkpoint of the GPU kit, whose defaults differ, resumed by ``deepscf train`` runs with
    deepscf train's.  A checkpoint without that list (older) gives back all its options."""
    given = set(getattr(args, 'given', ()))
    for key, value in saved.items():
        if key in RUN_CONTROL or key in given or not hasattr(args, key) or (
                saved_given is not None and key not in saved_given):
            continue
        setattr(args, key, value)
        given.add(key)
    args.given = sorted(given)
