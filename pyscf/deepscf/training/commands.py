"""The training commands of the ``deepscf`` command line (pyscf/deepscf/cli.py registers them):

    deepscf data generate --qm9 1200 --deformed 300 --amplitude 0.05 --smiles builtin --out DIR
    deepscf data info --out DIR
    deepscf data compact --data DIR [DIR2 | OLD.npz ...] --out SET.npz
    deepscf train --data DIR --out RUN [--export WEIGHTS.pt]

Handlers take ``(args, parser)`` and return an exit code (None = 0), as in cli.py.  Building
the parser imports data.py (its defaults) and train.py (its options); the rest of the work is
imported when a command runs.
"""
import json
import os
import sys

from pyscf.deepscf.argtypes import (nonnegative_float, nonnegative_int, positive_float,
                                    positive_int, typed)


def add_commands(subparsers):
    """Add ``data`` and ``train`` to the ``deepscf`` subparsers."""
    add_data_commands(subparsers)
    from pyscf.deepscf.training import train  # torch is imported only when the parser is built
    train.add_train_command(subparsers)


def add_data_commands(subparsers):
    from pyscf.deepscf.training.data import DEFAULT_SETTINGS as S
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
                     help="file of SMILES (one per line), 'builtin' (small P/S/Cl molecules) or "
                          "'drugs' (600 drug-like molecules of 20-50 atoms)")
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
    lvl.add_argument('--grids-level', type=typed(int, lambda v: 0 <= v <= 9, '0..9'),
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
    run.add_argument('--skip-in', nargs='+', default=[], metavar='FILE.npz|DIR',
                     help='skip the structures of these compact files, or of the .npz files '
                          'of a folder such as kit/ (same level of theory): a new folder '
                          'continues where a lost one, compacted, stopped')
    run.add_argument('--no-progress', action='store_true', help='no progress bar')
    g.set_defaults(func=data_generate)

    i = sub.add_parser('info', help='counts of a data folder',
                       description='Counts of a data folder: done, failed, by element.')
    i.add_argument('--out', metavar='DIR', help='data folder (default as for generate)')
    i.add_argument('--json', action='store_true', help='print JSON')
    i.set_defaults(func=data_info)

    c = sub.add_parser('compact', help='the compact training set of data folders (GPU kit)',
                       description='Write every structure of the data folders (and of earlier '
                                   'compact files, merged in) as one compact .npz '
                                   '(density-matrix factors and the basis) that the GPU training '
                                   'kit samples without PySCF.')
    c.add_argument('--data', required=True, nargs='+', metavar='DIR',
                   help='data folders (HDF5 shards) and/or compact files (.npz) of the same '
                        'level of theory and split seed')
    c.add_argument('--out', required=True, metavar='FILE.npz', help='the compact file')
    c.add_argument('--dtype', choices=('float16', 'float32'), default='float16',
                   help='storage of the factors (default float16: half the size, its rounding '
                        'far below the network\'s error; float32: for exact targets)')
    c.add_argument('--split-seed', type=nonnegative_int, default=0,
                   help="seed of the molecule-level split, as train's --split-seed (default 0)")
    c.add_argument('--threshold', type=nonnegative_float, default=None,
                   help='store the factors sparse: local (Cholesky) columns, entries below this '
                        'set to zero (default 1e-3: a much smaller file at a density change '
                        'below the network\'s error; 0: exact)')
    c.add_argument('--no-progress', action='store_true', help='no progress bar')
    c.set_defaults(func=data_compact)


def data_compact(args, parser):
    from pyscf.deepscf.training import compact_pyscf
    for source in args.data:
        if not os.path.exists(source):
            parser.error(f'--data: no data folder or compact file {source}')
    try:
        threshold = compact_pyscf.SPARSE_THRESHOLD if args.threshold is None else args.threshold
        summary = compact_pyscf.write_compact(args.data, args.out, args.dtype, args.split_seed,
                                        progress=not args.no_progress, threshold=threshold)
    except ValueError as err:
        parser.error(str(err))
    print(f"{summary['structures']} structures {summary['splits']} -> {summary['path']} "
          f"({summary['bytes'] / 2**20:.1f} MiB, {summary['dtype']}, threshold "
          f"{summary['threshold']:g})")


def data_generate(args, parser):
    from pyscf.deepscf.training import data, geometries
    if not (args.qm9 or args.qm9_index or args.smiles):
        parser.error('nothing to do: give --qm9 N, --qm9-index or --smiles')
    if args.smiles and args.smiles not in (geometries.BUILTIN, geometries.DRUGS) and \
            not os.path.isfile(args.smiles):
        parser.error(f'--smiles: no file {args.smiles!r}')
    settings = {'xc': args.xc, 'basis': args.basis, 'density_fit': not args.no_density_fit,
                'conv_tol': args.conv_tol, 'grids_level': args.grids_level,
                'max_cycle': args.max_cycle}
    out = args.out or data.default_out(args.xc, args.basis)
    for path in args.skip_in:
        if not os.path.exists(path):
            parser.error(f'--skip-in: no compact file or folder {path}')
    try:
        from pyscf.deepscf.training import compact_pyscf
        skip_ids = compact_pyscf.compact_ids(args.skip_in, settings) if args.skip_in else set()
        jobs = data.structure_jobs(
            qm9=args.qm9, qm9_index=args.qm9_index, deformed=args.deformed, copies=args.copies,
            amplitude_ang=args.amplitude, seed=args.seed,
            smiles=geometries.read_smiles_file(args.smiles) if args.smiles else None,
            smiles_copies=args.smiles_copies,
            smiles_prefix='drug' if args.smiles == geometries.DRUGS else 'smi')
        summary = data.generate(jobs, out, settings, workers=args.workers,
                                scheduler=args.scheduler, shard_size=args.shard_size,
                                retry_failed=args.retry_failed, skip_ids=skip_ids,
                                progress=not args.no_progress)
    except (ValueError, KeyError, RuntimeError) as err:
        parser.error(str(err))
    except KeyboardInterrupt:
        print('stopped; rerun the same command to resume', file=sys.stderr)
        return 130
    print(f"done {summary['done']}, failed {summary['failed']}, skipped {summary['skipped']} "
          f"(already there), {len(summary['shards'])} shard(s) written to {out}")


def data_info(args, parser):
    from pyscf.deepscf.training import data, records
    out = args.out or data.default_out()
    if not os.path.isdir(out):
        parser.error(f'no data folder {out}')
    summary = records.info(out)
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
