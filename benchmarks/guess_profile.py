"""Cost of each step of the deepscf guess against one SCF cycle of the same method.

    python benchmarks/guess_profile.py [FILES_OR_FOLDERS] [--max-atoms 80] [--methods b3lyp/def2-svp
        b3lyp/def2-svp/df pbe/def2-svp/df b3lyp/def2-tzvp/df] [--out benchmarks/results]

For every molecule (default: the large set, benchmarks/large) and method (xc/basis, '/df' for
density fitting), two fresh processes on the same thread count:

* guess: the model's load and first call (paid once per process) on a small molecule, then
  ``init_guess_by_deepscf`` with every step timed (engine/timing.py: fingerprints, network,
  fit, J, DFT grid, V_xc, K, diagonalizations; 'DF tensor (shared with the SCF)' is the
  fitting tensor a density-fitted SCF builds anyway, so it is not the guess's cost);
* cycle: one SCF iteration after the SCF's one-time set-up (its first get_veff: DFT grid,
  fitting tensor or in-core integrals): J, K (without fitting: J and K in one pass, as the
  SCF's get_jk; a full density matrix, as the SCF's first cycle, where later ones contract
  density changes),
  V_xc on the SCF's grid, diagonalization, for a density matrix tagged with its orbitals as
  the SCF's are from its second cycle on (those of the core Hamiltonian).
* scf-vxc (``--scf-vxc-above ATOMS``, for molecules whose SCF takes hours): of the SCF only its
  grid, V_xc and diagonalization, the same calls as in its cycle; their memory is a lower bound
  of the SCF's, what the largest guess step (V_xc) is compared with on the largest molecule.

Memory: each process's peak resident set; the resident set before any work (PySCF, the molecule:
shared by both); torch and the model (the guess's first call); and the peak of each step above
the resident set it began at (engine/timing.py), for the guess and for the SCF's set-up and
cycle.  Writes NAME.txt, NAME.jsonl and NAME.png
(--name, default guess_profile: log-log time per step against atoms, and the fitted exponent of each
step); a rerun resumes from NAME.jsonl.  Runs at other OMP_NUM_THREADS add to the same file, one
table per method and thread count.
"""
import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

from pyscf.deepscf.engine import fock

HERE = os.path.dirname(os.path.abspath(__file__))
GUESS_STEPS = ('fingerprints', 'network', 'fit', 'h1e', 'DFT grid', 'J', 'V_xc', 'K', 'minao',
               'diagonalization', 'DF tensor (guess only)')
SHARED_STEPS = fock.SHARED_STEPS
CYCLE_STEPS = ('J', 'K', 'J+K', 'V_xc', 'diagonalization')


def make_mf(mol, method):
    """The method 'xc/basis[/df]' as bench.make_mf builds it."""
    from pyscf.deepscf import bench
    return bench.make_mf(mol, method.split('/')[0], density_fit=method.endswith('/df'))


def clock(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def core_hamiltonian_density(mf):
    """(S, h1e, dm): the overlap, the core Hamiltonian and the density matrix of its orbitals,
    tagged with them as the SCF's own is after its first cycle (fitted K then contracts the
    occupied orbitals only)."""
    s1e, h1e = mf.get_ovlp(), mf.get_hcore()
    e, c = mf.eig(h1e, s1e)
    return s1e, h1e, mf.make_rdm1(c, mf.get_occ(e, c))


def thread_setting():
    """The thread count a row is measured at: OMP_NUM_THREADS, or 'all'."""
    return os.environ.get('OMP_NUM_THREADS', 'all')


def child(path, method, what):
    """One measurement in this (fresh) process; prints one JSON row."""
    from pyscf import deepscf, df
    from pyscf.deepscf import molio, predict
    from pyscf.deepscf.engine import timing
    basis = method.split('/')[1]
    mol = molio.load_molecule(path, basis=basis)
    mf = make_mf(mol, method)
    row = {'molecule': os.path.splitext(os.path.basename(path))[0], 'natm': mol.natm,
           'nao': mol.nao, 'method': method, 'what': what,
           'threads': thread_setting()}
    # the resident set of PySCF, the molecule and the (unbuilt) method: what both processes share
    row['base_MB'] = round(timing.resident_mb())
    if what == 'guess':
        _, row['torch_import_s'] = clock(importlib.import_module, 'torch')
        row['first_call_s'] = predict.warm_up()
        # torch, the model, its call
        row['torch_model_MB'] = round(timing.resident_mb() - row['base_MB'])
        with timing.recording(memory=True) as seconds:
            _, row['total_s'] = clock(deepscf.init_guess_by_deepscf, mf, strict=True)
    elif what == 'scf-vxc':
        # the SCF's grid, V_xc and diagonalization without its J and K (hours on hectane):
        # the same calls as in its cycle, so their peaks are a lower bound of the SCF's memory
        s1e, h1e, dm = core_hamiltonian_density(mf)
        with timing.recording(memory=True) as seconds:
            with timing.step('DFT grid'):
                mf.initialize_grids(mol, dm)        # as the SCF's first get_veff builds it
            with timing.step('V_xc'):
                _, _, vxc = mf._numint.nr_rks(mol, mf.grids, mf.xc, dm, max_memory=mf.max_memory)
            with timing.step('diagonalization'):
                mf.eig(h1e + vxc, s1e)
        row['total_s'] = sum(seconds.values())
    else:
        import scipy.linalg  # noqa: F401  (imported before the clock: PySCF's eig uses it)
        s1e, h1e, dm = core_hamiltonian_density(mf)
        with timing.recording(memory=True) as seconds:
            # the first get_veff does the one-time work: the grid (pruned as the SCF prunes
            # it), the fitting tensor, in-core integrals
            with timing.step('first get_veff'):
                mf.get_veff(mol, dm)
            _, alpha, hyb = fock.exchange_coefficients(mf)
            exact_k = bool(hyb or alpha)
            if exact_k and not isinstance(mf, df.df_jk._DFHF):
                # without fitting the SCF gets J and K in one pass over the integrals
                with timing.step('J+K'):
                    mf.get_jk(mol, dm)
            else:
                with timing.step('J'):
                    mf.get_j(mol, dm)
                if exact_k:
                    with timing.step('K'):
                        mf.get_k(mol, dm)
            if hasattr(mf, 'xc'):
                with timing.step('V_xc'):
                    mf._numint.nr_rks(mol, mf.grids, mf.xc, dm, max_memory=mf.max_memory)
            fock_matrix = h1e + mf.get_veff(mol, dm)
            with timing.step('diagonalization'):
                mf.eig(fock_matrix, s1e)
        row['setup'] = {'first get_veff': seconds.pop('first get_veff')}
        row['total_s'] = sum(seconds.values())
    row['steps'] = dict(seconds)
    row['step_peak_MB'] = {k: round(v) for k, v in seconds.peak_mb.items()}
    row['peak_MB'] = round(timing.process_peak_mb())
    print(json.dumps(row), flush=True)


def guess_cost(row):
    """The guess's own seconds: every step but the tensor a fitted SCF builds anyway."""
    return sum(v for k, v in row['steps'].items() if k not in SHARED_STEPS)


def exponents(rows, steps):
    """Slope of log(seconds) against log(atoms) per step (least squares; None if < 2 sizes)."""
    out = {}
    for step in steps:
        pts = [(r['natm'], r['steps'].get(step, 0)) for r in rows]
        pts = [(n, t) for n, t in pts if t > 0]
        if len({n for n, _ in pts}) >= 2:
            x, y = np.log([n for n, _ in pts]), np.log([t for _, t in pts])
            out[step] = float(np.polyfit(x, y, 1)[0])
    return out


def setting(row):
    """A row's method and thread count: one table each."""
    return f'{row["method"]}, OMP_NUM_THREADS={row.get("threads", "?")}'


def report(rows, out_dir, name='guess_profile', stdout=sys.stdout):
    methods = list(dict.fromkeys(setting(r) for r in rows))
    lines = [f'# python benchmarks/guess_profile.py; {platform.node()}, '
             f'{os.cpu_count()} cores; seconds; guess = its own steps (a fitted SCF\'s tensor '
             f'excluded), cycle = J + K + V_xc + diagonalization after the SCF\'s first cycle']
    for method in methods:
        guesses = {r['molecule']: r for r in rows if setting(r) == method and r['what'] == 'guess'}
        cycles = {r['molecule']: r for r in rows if setting(r) == method and r['what'] == 'cycle'}
        names = sorted(set(guesses) & set(cycles), key=lambda m: guesses[m]['natm'])
        if not names:
            continue
        lines.append(f'\n## {method}')
        lines.append(f'{"molecule":18s} {"atoms":>5s} {"nao":>5s}  {"net":>6s} {"fit":>6s} '
                     f'{"J":>6s} {"V_xc":>6s} {"K":>6s} {"DFtens":>6s} {"other":>6s}  '
                     f'{"guess":>7s} {"cycle":>7s} {"ratio":>6s}  {"MB g/c":>11s}')
        for m in names:
            g, c = guesses[m], cycles[m]
            s = g['steps']
            net = s.get('fingerprints', 0) + s.get('network', 0)
            own = guess_cost(g)
            other = own - net - sum(s.get(k, 0) for k in ('fit', 'J', 'V_xc', 'K',
                                                           'DF tensor (guess only)'))
            tensor = s.get('DF tensor (guess only)', 0)
            lines.append(f'{m:18s} {g["natm"]:5d} {g["nao"]:5d}  {net:6.1f} {s.get("fit", 0):6.1f} '
                         f'{s.get("J", 0):6.1f} {s.get("V_xc", 0):6.1f} {s.get("K", 0):6.1f} '
                         f'{tensor:6.1f} {other:6.1f}  {own:7.1f} {c["total_s"]:7.1f} '
                         f'{own / c["total_s"]:6.2f}  {g["peak_MB"]:5d}/{c["peak_MB"]:<5d}')
        ratios = [guess_cost(guesses[m]) / cycles[m]['total_s'] for m in names]
        imports = [guesses[m]['torch_import_s'] for m in names if 'torch_import_s' in guesses[m]]
        lines.append(f'median guess/cycle {np.median(ratios):.2f}; once per process: '
                     + (f'import torch {np.median(imports):.1f} s, ' if imports else '')
                     + f'model load + first call (water) '
                     f'{np.median([guesses[m]["first_call_s"] for m in names]):.1f} s')
        g_exp = exponents([guesses[m] for m in names], GUESS_STEPS)
        c_exp = exponents([cycles[m] for m in names], CYCLE_STEPS)
        lines.append('exponents (t ~ atoms^k), guess: ' +
                     ', '.join(f'{k} {v:.1f}' for k, v in g_exp.items()))
        lines.append('exponents, SCF cycle: ' + ', '.join(f'{k} {v:.1f}' for k, v in c_exp.items()))
        lines.extend(memory_table([(guesses[m], cycles[m]) for m in names]))
        parts = {r['molecule']: r for r in rows if setting(r) == method
                 and r['what'] == 'scf-vxc' and r['molecule'] in guesses}
        if parts:
            lines.append('memory without a full SCF cycle (its grid, V_xc and diagonalization '
                         'only: its SCF column is a lower bound)')
            lines.extend(memory_table([(guesses[m], parts[m]) for m in parts])[2:])
    text = '\n'.join(lines) + '\n'
    stdout.write(text)
    with open(os.path.join(out_dir, name + '.txt'), 'w') as f:
        f.write(text)
    plot(rows, methods, os.path.join(out_dir, name + '.png'))


def memory_table(pairs):
    """Lines of the memory table: each guess step's peak above the resident set it began at,
    against the SCF's own (its set-up and cycle above the shared base), in MB."""
    pairs = [(g, c) for g, c in pairs if 'step_peak_MB' in g and 'step_peak_MB' in c]
    if not pairs:
        return []
    lines = ['memory, MB: guess steps above the RSS each began at; torch+model once per '
             'process; SCF = its peak above the shared base (PySCF + molecule)',
             f'{"molecule":18s} {"atoms":>5s} {"base":>5s}  {"torch":>5s} {"net":>5s} {"fit":>5s} '
             f'{"grid":>5s} {"J":>5s} {"V_xc":>5s} {"K":>5s} {"diag":>5s} {"max":>5s}  '
             f'{"SCF":>5s} {"setup":>5s} {"cycle":>5s}  {"peak g/c":>11s}']
    for g, c in pairs:
        gp, cp = g['step_peak_MB'], c['step_peak_MB']
        net = max(gp.get('fingerprints', 0), gp.get('network', 0))
        own = max(v for k, v in gp.items() if k not in SHARED_STEPS)
        scf = c['peak_MB'] - c['base_MB']
        setup = cp.get('first get_veff', cp.get('DFT grid', 0))
        cycle = max(v for k, v in cp.items() if k not in ('first get_veff', 'DFT grid'))
        lines.append(f'{g["molecule"]:18s} {g["natm"]:5d} {g["base_MB"]:5d}  '
                     f'{g["torch_model_MB"]:5d} {net:5d} {gp.get("fit", 0):5d} '
                     f'{gp.get("DFT grid", 0):5d} {gp.get("J", 0):5d} {gp.get("V_xc", 0):5d} '
                     f'{gp.get("K", 0):5d} {gp.get("diagonalization", 0):5d} {own:5d}  '
                     f'{scf:5d} {setup:5d} {cycle:5d}  '
                     f'{g["peak_MB"]:5d}/{c["peak_MB"]:<5d}')
    return lines


def plot(rows, methods, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(methods), figsize=(5 * len(methods), 4.2), squeeze=False)
    for ax, method in zip(axes[0], methods):
        guesses = sorted((r for r in rows if setting(r) == method and r['what'] == 'guess'),
                         key=lambda r: r['natm'])
        cycles = sorted((r for r in rows if setting(r) == method and r['what'] == 'cycle'),
                        key=lambda r: r['natm'])
        for step in GUESS_STEPS:
            pts = [(r['natm'], r['steps'][step]) for r in guesses if r['steps'].get(step, 0) > 0]
            if pts:
                ax.loglog(*zip(*pts), 'o-', ms=3, lw=1, label=f'guess: {step}')
        ax.loglog([r['natm'] for r in guesses], [guess_cost(r) for r in guesses], 'k-', lw=2,
                  label='guess (total)')
        ax.loglog([r['natm'] for r in cycles], [r['total_s'] for r in cycles], 'k--', lw=2,
                  label='one SCF cycle')
        ax.loglog([r['natm'] for r in cycles], [0.5 * r['total_s'] for r in cycles], 'k:', lw=1,
                  label='half an SCF cycle')
        ax.set(title=method, xlabel='atoms', ylabel='seconds')
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('paths', nargs='*', default=[os.path.join(HERE, 'large')])
    p.add_argument('--max-atoms', type=int, default=80)
    p.add_argument('--methods', nargs='+', default=['b3lyp/def2-svp', 'b3lyp/def2-svp/df'])
    p.add_argument('--out', default=os.path.join(HERE, 'results'))
    p.add_argument('--name', default='guess_profile', help='file stem of the outputs')
    p.add_argument('--report-only', action='store_true',
                   help='tables and plot from NAME.jsonl in --out, nothing run')
    p.add_argument('--scf-vxc-above', type=int, default=None, metavar='ATOMS',
                   help='for molecules of more atoms, measure of the SCF only its grid, V_xc and '
                        'diagonalization (a lower bound of its memory; its J and K take hours)')
    p.add_argument('--child', nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(*args.child)
    if args.report_only:
        with open(os.path.join(args.out, args.name + '.jsonl')) as f:
            return report([json.loads(line) for line in f], args.out, args.name)
    from pyscf.deepscf import bench, molio
    files = [f for f in bench.molecule_files(args.paths)
             if len(molio.read_xyz(f)) <= args.max_atoms]
    files.sort(key=lambda f: len(molio.read_xyz(f)))
    os.makedirs(args.out, exist_ok=True)    # before the first molecule, not after its hour
    jsonl = os.path.join(args.out, args.name + '.jsonl')
    rows = []
    if os.path.exists(jsonl):       # resume: keep what an earlier run measured
        with open(jsonl) as f:
            rows = [json.loads(line) for line in f]
    done = {(r['molecule'], r['method'], r['what']) for r in rows
            if r.get('threads') == thread_setting()}
    for method in args.methods:
        for path in files:
            name = os.path.splitext(os.path.basename(path))[0]
            scf = ('scf-vxc' if args.scf_vxc_above is not None
                   and len(molio.read_xyz(path)) > args.scf_vxc_above else 'cycle')
            for what in ('guess', scf):
                if (name, method, what) in done:
                    continue
                out = subprocess.run([sys.executable, __file__, '--child', path, method, what],
                                     capture_output=True, text=True)
                if out.returncode != 0:
                    print(f'{name} {method} {what}: failed\n{out.stderr[-2000:]}', flush=True)
                    continue
                row = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append(row)
                with open(jsonl, 'a') as f:
                    f.write(json.dumps(row) + '\n')
                print(f'{name:18s} {method:20s} {what:5s} {row["total_s"]:8.1f} s '
                      f'{row["peak_MB"]:6d} MB', flush=True)
    report(rows, args.out, args.name)


if __name__ == '__main__':
    main()
