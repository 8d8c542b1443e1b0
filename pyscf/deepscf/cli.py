"""Command line: ``deepscf COMMAND ...`` (or ``python -m pyscf.deepscf COMMAND ...``).

    deepscf run MOL.xyz --xc b3lyp --basis def2-svp [--nonscf] [--compare]
    deepscf cube MOL.xyz -o OUT.cube [--residual] [--png OUT.png]
    deepscf bench FILES_OR_FOLDER --xc b3lyp --basis def2-svp --out DIR
    deepscf data generate --qm9 1200 --deformed 300 --amplitude 0.05 --smiles builtin --out DIR
    deepscf data info --out DIR
    deepscf data compact --data DIR [DIR2 | OLD.npz ...] --out SET.npz
    deepscf train --data DIR --out RUN [--export WEIGHTS.pt]

Each command group is added by one function of ``COMMANDS`` (the data and training commands
come from training/commands.py); a command's handler is ``func(args, parser)`` set with
``set_defaults`` and returns an exit code (None = 0).  Bad options exit with code 2 and a
message (argparse).
"""
import argparse
import os
import sys

from pyscf.deepscf.argtypes import nonnegative_int, positive_float, positive_int


# ---------------------------------------------------------------------------- molecules

def molecule_command(subparsers, name, help, description):
    """A subcommand that reads one molecule file (its first argument)."""
    p = subparsers.add_parser(name, help=help, description=description)
    p.add_argument('molecule', metavar='MOL.xyz', help='xyz file (Angstrom)')
    return p


def add_molecule_arguments(p, basis=True):
    """Options that say how to read a molecule file and which model predicts its density."""
    g = p.add_argument_group('molecule and model')
    if basis:
        g.add_argument('--basis', default='def2-svp', help='basis set (default def2-svp)')
    g.add_argument('--charge', type=int, default=0, help='total charge (default 0)')
    g.add_argument('--spin', type=nonnegative_int, default=None,
                   help='2S, unpaired electrons (default 0 or 1 by electron count)')
    g.add_argument('--weights', metavar='FILE',
                   help='TorchScript weights of the density network (default: bundled)')
    g.add_argument('--device', help="torch device of the network, e.g. 'cpu' or 'cuda' "
                                    "(default: CUDA when present)")
    g.add_argument('--mirrors', type=int, choices=(1, 2, 8), default=1,
                   help='average the network over this many mirror images of the box '
                        '(2: and its inversion, twice the inference time; default 1)')


def load_molecule(args, parser, path, basis='def2-svp', require_model=True):
    """The molecule of ``path`` with the command's charge/spin; bad files (and, with
    ``require_model``, elements the model lacks) exit with code 2."""
    from pyscf.deepscf import domain, molio
    try:
        mol = molio.load_molecule(path, basis=basis, charge=args.charge, spin=args.spin)
    except molio.MoleculeFileError as err:
        parser.error(str(err))
    gaps = domain.model_gaps(mol) if require_model else []
    if gaps:
        parser.error(f'{path}: deepscf: {"; ".join(gaps)}')
    return mol


def make_predictor(args, parser):
    """The network predictor the options ask for; a bad weights file exits with code 2."""
    from pyscf.deepscf.engine.model import NetworkPredictor
    try:
        return NetworkPredictor(args.weights, device=args.device, mirrors=args.mirrors)
    except (OSError, ValueError, RuntimeError) as err:
        parser.error(str(err))


# ---------------------------------------------------------------------------- deepscf run

def add_run_command(subparsers):
    p = molecule_command(
        subparsers, 'run', 'SCF from the deepscf guess (or NonSCF) on a molecule file',
        'SCF of a molecule (xyz file, Angstrom) started from the deepscf guess, or with '
        '--nonscf one Fock build on the predicted density and no SCF loop. --compare also '
        'runs PySCF\'s default guess (minao), or the full SCF for --nonscf, and prints both.')
    p.add_argument('--xc', default='b3lyp', help="functional, or 'hf' (default b3lyp)")
    p.add_argument('--density-fit', action='store_true', help='density fitting (RI-J/K)')
    p.add_argument('--nonscf', action='store_true',
                   help='no SCF loop: energy and orbitals of the predicted density')
    p.add_argument('--compare', action='store_true',
                   help="also run PySCF's default (minao guess, or the SCF for --nonscf)")
    p.add_argument('--conv-tol', type=positive_float, default=None,
                   help="SCF energy tolerance in Ha (default PySCF's, 1e-9)")
    p.add_argument('--verbose', '-v', type=nonnegative_int, default=0,
                   help='PySCF verbose level of the calculations (default 0)')
    add_molecule_arguments(p)
    p.set_defaults(func=run_molecule)


def _method(args, mol):
    from pyscf.deepscf.bench import make_mf
    mf = make_mf(mol, args.xc, args.density_fit)
    mf.verbose = args.verbose
    if args.conv_tol:
        mf.conv_tol = args.conv_tol
    return mf


def run_molecule(args, parser):
    import time
    from pyscf.deepscf import nonscf, predict
    mol = load_molecule(args, parser, args.molecule, args.basis)
    try:
        mf = _method(args, mol)
    except (KeyError, ValueError) as err:           # e.g. an unknown functional
        parser.error(f'--xc {args.xc!r}: {err}')
    predictor = make_predictor(args, parser)
    name = os.path.basename(args.molecule)
    print(f'{name}: {mol.natm} atoms, {mol.nelectron} electrons, charge {mol.charge}, '
          f'spin {mol.spin}, {type(mf).__name__} {args.xc}/{args.basis}'
          f'{" (density fitting)" if args.density_fit else ""}')
    rows = []
    if args.nonscf:
        t = time.perf_counter()
        ns = nonscf.NonSCF(mf, predictor=predictor)
        ns.kernel()
        rows.append(('deepscf NonSCF', ns.e_tot, None, time.perf_counter() - t))
        print(f'  e_tot = {ns.energy} energy; E(KS of the output) = {ns.e_ks:.8f} Ha, '
              f'E(Harris) = {ns.e_harris:.8f} Ha')
    else:
        with predict.using_predictor(predictor):
            t = time.perf_counter()
            mf.init_guess = 'deepscf'
            mf.kernel()
            rows.append(('SCF, deepscf guess', mf.e_tot, mf.cycles, time.perf_counter() - t))
            if not mf.converged:
                print('  warning: the SCF did not converge', file=sys.stderr)
    if args.compare:                   # PySCF as it is: the SCF from its default guess
        ref = _method(args, mol)
        t = time.perf_counter()
        ref.kernel()
        rows.append(('SCF, minao guess', ref.e_tot, ref.cycles, time.perf_counter() - t))
    for label, energy, cycles, seconds in rows:
        cyc = f'{cycles:4d} cycles' if cycles is not None else ' no SCF    '
        print(f'  {label:20s} E = {energy:16.8f} Ha  {cyc}  {seconds:7.1f} s')
    if len(rows) == 2:
        (_, e1, c1, s1), (_, e2, c2, s2) = rows
        line = f'  difference           {1e3 * (e1 - e2):+.4f} mHa'
        if c1 is not None and c2:
            line += f', cycles {c1}/{c2} = {c1 / c2:.2f}'
        line += f', time {s1 / s2:.2f}x'
        print(line)


# ---------------------------------------------------------------------------- deepscf cube

def add_cube_command(subparsers):
    p = molecule_command(
        subparsers, 'cube', 'Gaussian cube (and PNG) of the predicted density',
        'Write the predicted density (or with --residual the residual density, predicted minus '
        'free atoms) of a molecule as a Gaussian cube file (bohr, e/bohr^3; PySCF, VMD, '
        'Avogadro, ASE read it), and optionally a PNG of the residual density in the '
        'molecular plane.')
    p.add_argument('-o', '--output', required=True, metavar='OUT.cube', help='cube file to write')
    p.add_argument('--residual', action='store_true', help='the residual density instead')
    p.add_argument('--png', metavar='OUT.png', help='also a picture of the residual density')
    p.add_argument('--points', type=positive_int, default=80,
                   help='points per axis (default 80)')
    p.add_argument('--margin', type=positive_float, default=3.0,
                   help='box margin around the atoms in bohr (default 3)')
    add_molecule_arguments(p, basis=False)
    p.set_defaults(func=write_cube)


def write_cube(args, parser):
    from pyscf.deepscf import cube, predict
    mol = load_molecule(args, parser, args.molecule)
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        parser.error(f'-o {args.output}: no folder {folder}')
    density = predict.predict_density(mol, make_predictor(args, parser))
    c, values = cube.density_cube(mol, density, args.output, residual=args.residual,
                                  margin_bohr=args.margin, nx=args.points, ny=args.points,
                                  nz=args.points)
    what = 'residual density' if args.residual else 'density'
    print(f'wrote {args.output}: predicted {what}, {c.nx}x{c.ny}x{c.nz} points, '
          f'{density.nelectron:.4f} electrons')
    if args.png:
        cube.residual_picture(mol, density, args.png)
        print(f'wrote {args.png}: residual density in the molecular plane')


# ---------------------------------------------------------------------------- deepscf bench

def add_bench_command(subparsers):
    from pyscf.deepscf import bench
    p = subparsers.add_parser(
        'bench', help='every initial guess on every molecule: cycles, time, energies',
        description='Run the SCF from each initial guess on each molecule, in one run on this '
                    'machine: SCF cycles, wall time including the guess, the energy error of '
                    'the guess, and the final energy against the minao run (same state). '
                    'Prints a table; with --out also JSON lines and a PNG chart.')
    p.add_argument('molecules', nargs='+', metavar='FILES_OR_FOLDER',
                   help='xyz files, or folders of them')
    p.add_argument('--xc', default='b3lyp', help="functional, or 'hf' (default b3lyp)")
    p.add_argument('--basis', default='def2-svp', help='basis set (default def2-svp)')
    p.add_argument('--guesses', default=','.join(bench.GUESSES),
                   help=f"comma-separated guess keys (default {','.join(bench.GUESSES)}); "
                        "'deepscf/SCHEME' runs deepscf with exact exchange from SCHEME "
                        f"({', '.join(bench.EXCHANGE_SCHEMES)})")
    p.add_argument('--density-fit', action='store_true', help='density fitting (RI-J/K)')
    p.add_argument('--charge', type=int, default=0, help='total charge of every molecule')
    p.add_argument('--spin', type=nonnegative_int, default=None, help='2S of every molecule')
    p.add_argument('--out', metavar='DIR', help='write bench_<xc>_<basis>.jsonl and .png here')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    p.set_defaults(func=run_bench)


def run_bench(args, parser):
    from pyscf.deepscf import bench, molio
    guesses = [g.strip().lower() for g in args.guesses.split(',') if g.strip()]
    known = bench.GUESSES + tuple(f'deepscf/{s}' for s in bench.EXCHANGE_SCHEMES)
    unknown = [g for g in guesses if g not in known]
    if not guesses or unknown:
        parser.error(f'--guesses: unknown {", ".join(unknown) or "(none given)"}; '
                     f'choose from {", ".join(known)}')
    files = bench.molecule_files(args.molecules)
    if not files:
        parser.error(f'no .xyz files in {" ".join(args.molecules)}')
    for path in files:               # read them all first: a bad file fails before any SCF
        load_molecule(args, parser, path, args.basis, require_model=False)
    try:
        bench.run(files, xc=args.xc, basis=args.basis, guesses=guesses, out=args.out,
                  density_fit=args.density_fit, charge=args.charge, spin=args.spin,
                  progress=not args.no_progress)
    except molio.MoleculeFileError as err:
        parser.error(str(err))
    if args.out:
        print(f'wrote {os.path.join(args.out, f"bench_{args.xc}_{args.basis}")}.jsonl and .png')


# ---------------------------------------------------------------------------- entry

def add_training_commands(subparsers):
    """``deepscf data ...`` and ``deepscf train``, from the training package."""
    from pyscf.deepscf.training import commands
    commands.add_commands(subparsers)


COMMANDS = [add_run_command, add_cube_command, add_bench_command, add_training_commands]


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
