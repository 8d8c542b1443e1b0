"""Command line: ``deepscf COMMAND ...`` (or ``python -m pyscf.deepscf COMMAND ...``).

    deepscf data generate --qm9 1200 --deformed 300 --amplitude 0.05 --smiles builtin --out DIR
    deepscf data info --out DIR

Each command group is added by one ``add_*_commands(subparsers)`` function listed in
``COMMANDS``; a command's handler is ``func(args, parser)`` set with ``set_defaults`` and returns
an exit code (None = 0).  Bad options exit with code 2 and a message (argparse).
"""
import argparse
import json
import os
import sys


def _typed(cast, test, what):
    def parse(text):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not {what}')
        if not test(value):
            raise argparse.ArgumentTypeError(f'{text!r} is not {what}')
        return value
    return parse


positive_int = _typed(int, lambda v: v > 0, 'a positive integer')
nonnegative_int = _typed(int, lambda v: v >= 0, 'an integer >= 0')
nonnegative_float = _typed(float, lambda v: v >= 0, 'a number >= 0')
positive_float = _typed(float, lambda v: v > 0, 'a number > 0')


# ---------------------------------------------------------------------------- deepscf data

def add_data_commands(subparsers):
    from pyscf.deepscf.data import DEFAULT_SETTINGS as S
    data = subparsers.add_parser('data', help='training data: generate reference SCF densities',
                                 description='Training data (reference SCF density matrices).')
    sub = data.add_subparsers(dest='data_command', metavar='SUBCOMMAND', required=True)

    g = sub.add_parser(
        'generate', help='run reference SCFs on QM9/SMILES structures into HDF5 shards',
        description='Run reference SCFs and store them in HDF5 shards in --out. A rerun with '
                    'the same options resumes: finished and failed structures are skipped.')
    src = g.add_argument_group('structures')
    src.add_argument('--qm9', type=nonnegative_int, default=0, metavar='N',
                     help='number of QM9 molecules drawn with --seed (a larger N extends a '
                          'smaller one)')
    src.add_argument('--qm9-index', type=positive_int, nargs='+', metavar='I',
                     help='explicit QM9 indices instead of a random draw')
    src.add_argument('--deformed', type=nonnegative_int, default=0, metavar='M',
                     help='the first M molecules also get deformed copies (default 0)')
    src.add_argument('--copies', type=positive_int, default=1, metavar='K',
                     help='deformed copies per deformed molecule (default 1)')
    src.add_argument('--amplitude', type=nonnegative_float, default=0.05, metavar='ANG',
                     help='std of the Gaussian atom displacements in Angstrom (default 0.05)')
    src.add_argument('--smiles', metavar='FILE',
                     help="file of SMILES (one per line) or 'builtin' (small P/S/Cl molecules)")
    src.add_argument('--smiles-copies', type=nonnegative_int, default=0, metavar='K',
                     help='deformed copies per SMILES molecule (default 0)')
    src.add_argument('--seed', type=nonnegative_int, default=0,
                     help='seed of the QM9 draw and of the deformations (default 0)')
    lvl = g.add_argument_group('level of theory and SCF settings (fixed per --out folder)')
    lvl.add_argument('--xc', default=S['xc'], help=f"functional, or 'hf' (default {S['xc']})")
    lvl.add_argument('--basis', default=S['basis'], help=f"basis set (default {S['basis']})")
    lvl.add_argument('--no-density-fit', action='store_true', help='exact Coulomb/exchange')
    lvl.add_argument('--conv-tol', type=positive_float, default=S['conv_tol'],
                     help=f"SCF energy tolerance in Ha (default {S['conv_tol']:g})")
    lvl.add_argument('--grids-level', type=_typed(int, lambda v: 0 <= v <= 9, '0..9'),
                     default=S['grids_level'],
                     help=f"PySCF DFT grid level 0-9 (default {S['grids_level']})")
    lvl.add_argument('--max-cycle', type=positive_int, default=S['max_cycle'],
                     help=f"SCF cycles before a structure counts as failed "
                          f"(default {S['max_cycle']})")
    run = g.add_argument_group('execution')
    run.add_argument('--out', metavar='DIR',
                     help='data folder (default ~/.cache/pyscf-deepscf/data/<xc>_<basis>)')
    run.add_argument('--workers', type=nonnegative_int, default=1,
                     help='Dask LocalCluster worker processes, 1 thread each; 0 runs in this '
                          'process (default 1)')
    run.add_argument('--scheduler', metavar='ADDRESS',
                     help='address of a running Dask scheduler (e.g. tcp://host:8786) instead '
                          'of a LocalCluster')
    run.add_argument('--shard-size', type=positive_int, default=100,
                     help='structures per HDF5 shard (default 100)')
    run.add_argument('--retry-failed', action='store_true', help='rerun failed structures')
    run.add_argument('--no-progress', action='store_true', help='no progress bar')
    g.set_defaults(func=data_generate)

    i = sub.add_parser('info', help='counts of a data folder',
                       description='Counts of a data folder: done, failed, by element.')
    i.add_argument('--out', metavar='DIR', help='data folder (default as for generate)')
    i.add_argument('--json', action='store_true', help='print JSON')
    i.set_defaults(func=data_info)


def data_generate(args, parser):
    from pyscf.deepscf import data
    if not (args.qm9 or args.qm9_index or args.smiles):
        parser.error('nothing to do: give --qm9 N, --qm9-index or --smiles')
    if args.smiles and args.smiles != data.BUILTIN and not os.path.isfile(args.smiles):
        parser.error(f'--smiles: no file {args.smiles!r}')
    settings = {'xc': args.xc, 'basis': args.basis, 'density_fit': not args.no_density_fit,
                'conv_tol': args.conv_tol, 'grids_level': args.grids_level,
                'max_cycle': args.max_cycle}
    out = args.out or data.default_out(args.xc, args.basis)
    try:
        jobs = data.structure_jobs(
            qm9=args.qm9, qm9_index=args.qm9_index, deformed=args.deformed, copies=args.copies,
            amplitude_ang=args.amplitude, seed=args.seed,
            smiles=data.read_smiles_file(args.smiles) if args.smiles else None,
            smiles_copies=args.smiles_copies)
        summary = data.generate(jobs, out, settings, workers=args.workers,
                                scheduler=args.scheduler, shard_size=args.shard_size,
                                retry_failed=args.retry_failed, progress=not args.no_progress)
    except (ValueError, KeyError, RuntimeError) as err:
        parser.error(str(err))
    except KeyboardInterrupt:
        print('stopped; rerun the same command to resume', file=sys.stderr)
        return 130
    print(f"done {summary['done']}, failed {summary['failed']}, skipped {summary['skipped']} "
          f"(already there), {len(summary['shards'])} shard(s) written to {out}")


def data_info(args, parser):
    from pyscf.deepscf import data
    out = args.out or data.default_out()
    if not os.path.isdir(out):
        parser.error(f'no data folder {out}')
    summary = data.info(out)
    if args.json:
        print(json.dumps(summary, indent=1))
        return
    s = summary['settings']
    print(f"{out}: {s.get('xc')}/{s.get('basis')}, density_fit={s.get('density_fit')}, "
          f"conv_tol={s.get('conv_tol')}, grids_level={s.get('grids_level')}")
    print(f"done {summary['done']} structures of {summary['molecules']} molecules in "
          f"{summary['shards']} shards; failed {summary['failed']}")
    for reason in summary['failed_reasons']:
        print(f'  failure: {reason}')
    print('structures (atoms) by element: ' + ', '.join(
        f"{el} {n} ({summary['atoms_by_element'][el]})"
        for el, n in summary['structures_by_element'].items()))
    print('structures by deformation amplitude (Angstrom): ' + ', '.join(
        f'{a:g}: {n}' for a, n in summary['structures_by_amplitude_ang'].items()))


# ---------------------------------------------------------------------------- entry

COMMANDS = [add_data_commands]          # add_run_commands, add_train_commands ... go here


def build_parser():
    parser = argparse.ArgumentParser(
        prog='deepscf', description='DeepSCF for PySCF: predicted SCF densities.')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv=None):
    """Run ``deepscf`` with ``argv`` (default sys.argv[1:]); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args, _leaf_parser(parser, args)) or 0


def _leaf_parser(parser, args):
    """The (sub)parser that parsed the command, so its errors show its usage line."""
    while parser._subparsers is not None:
        action = parser._subparsers._group_actions[0]
        name = getattr(args, action.dest, None)
        if name is None:
            break
        parser = action.choices[name]
    return parser
