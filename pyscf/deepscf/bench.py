"""Benchmark of initial guesses: every guess on every molecule, same run, same machine.

For each molecule and guess key: SCF cycles (Fock builds to PySCF's default convergence), wall
time including the guess, the energy error of the guess density matrix, and the final energy
against the minao run (same state check).  Prints a table, writes JSON lines and a PNG chart.
"""
import json
import os
import platform
import time

import numpy as np
from pyscf import dft, scf

import pyscf.deepscf  # noqa: F401  registers the 'deepscf' key
from pyscf.deepscf import molio, predict
from pyscf.deepscf.engine import fock, solver, timing

GUESSES = ('minao', 'atom', 'huckel', 'sap', 'vsap', 'deepscf')
EXCHANGE_SCHEMES = solver.EXCHANGE_SCHEMES


def make_mf(mol, xc, density_fit=False):
    mf = scf.HF(mol) if xc.strip().upper() == 'HF' else dft.KS(mol, xc=xc)
    return mf.density_fit() if density_fit else mf


def run_guess(mol, xc, key, density_fit=False):
    """One SCF from guess ``key`` (a PySCF key, 'deepscf', or 'deepscf/<exchange scheme>');
    returns a dict of cycles, seconds, energies."""
    mf = make_mf(mol, xc, density_fit)
    if key == 'vsap' and not hasattr(mf, 'init_guess_by_vsap'):
        return None                                   # vsap exists for DFT only
    t0 = time.perf_counter()
    with timing.recording() as steps:
        if key.startswith('deepscf/'):    # 'deepscf/<exchange scheme>' (solver.EXCHANGE_SCHEMES)
            dm0 = pyscf.deepscf.init_guess_by_deepscf(mf, mol, exchange=key.split('/', 1)[1])
        else:
            dm0 = mf.get_init_guess(mol, key)
    t_guess = time.perf_counter() - t0
    e_guess = mf.energy_tot(dm0)
    mf.kernel(dm0=dm0)
    return {'guess': key, 'cycles': mf.cycles, 'converged': bool(mf.converged),
            'seconds': time.perf_counter() - t0, 'guess_seconds': t_guess,
            # the fitting tensor a density-fitted SCF builds anyway, built in the guess
            'shared_seconds': sum(steps.get(k, 0.0) for k in fock.SHARED_STEPS),
            'e_guess': float(e_guess), 'e_tot': float(mf.e_tot)}


def molecule_files(paths):
    """xyz files from a list of files and folders (folders: their *.xyz, sorted)."""
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith('.xyz'))
        else:
            files.append(p)
    return files


def run(paths, xc='b3lyp', basis='def2-svp', guesses=GUESSES, out=None, density_fit=False,
        charge=0, spin=None, stdout=None, progress=True):
    """Run the benchmark; returns the list of result rows."""
    import sys
    stdout = stdout or sys.stdout
    files = molecule_files(paths)
    rows = []
    header = (f'{"molecule":20s} {"atoms":>5s} ' +
              ' '.join(f'{g:>8s}' for g in guesses) + '   (cycles)')
    stdout.write(f'# {xc}/{basis}{" DF" if density_fit else ""}, {platform.node()}, '
                 f'{os.cpu_count()} cores, pyscf {__import__("pyscf").__version__}\n')
    if any(g.startswith('deepscf') for g in guesses):
        # torch's import and the model's load: once per process, kept out of every guess's time
        stdout.write(f'# torch import, model load and first call (once per process, not in the '
                     f'times below): {predict.warm_up():.1f} s\n')
    stdout.write(header + '\n')
    bar = None
    if progress:
        try:
            from tqdm import tqdm
            bar = tqdm(total=len(files) * len(guesses), desc='bench', unit='scf', leave=False)
        except ImportError:
            pass
    for path in files:
        mol = molio.load_molecule(path, basis=basis, charge=charge, spin=spin)
        name = os.path.splitext(os.path.basename(path))[0]
        results = {}
        for key in guesses:
            results[key] = run_guess(mol, xc, key, density_fit)
            if bar is not None:
                bar.update()
        e_ref = results.get('minao', next(r for r in results.values() if r))['e_tot']
        for key, r in results.items():
            if r is None:
                continue
            r.update(molecule=name, natm=mol.natm, xc=xc, basis=basis,
                     guess_error_mHa=1e3 * (r['e_guess'] - r['e_tot']),
                     final_vs_minao=r['e_tot'] - e_ref, machine=platform.node())
            rows.append(r)
        cells = [f'{results[g]["cycles"]:8d}' if results[g] else f'{"-":>8s}' for g in guesses]
        stdout.write(f'{name:20s} {mol.natm:5d} ' + ' '.join(cells) + '\n')
        stdout.flush()
        if out:                  # after every molecule: an interrupted run keeps what it did
            write_jsonl(rows, out, xc, basis)
    if bar is not None:
        bar.close()
    summary(rows, guesses, stdout)
    if out:
        write_outputs(rows, guesses, out, xc, basis)
    return rows


def summary(rows, guesses, stdout):
    stdout.write(f'{"guess":18s} {"cycles":>7s} {"ratio":>6s} {"time s":>8s} {"ratio":>6s} '
                 f'{"guess/cycle":>11s} {"guess err mHa":>14s} {"max |dE| vs minao":>18s}\n')
    ref = [r for r in rows if r['guess'] == 'minao']
    c_ref = sum(r['cycles'] for r in ref) or 1
    t_ref = sum(r['seconds'] for r in ref) or 1
    for g in guesses:
        sel = [r for r in rows if r['guess'] == g]
        if not sel:
            continue
        cyc, sec = sum(r['cycles'] for r in sel), sum(r['seconds'] for r in sel)
        err = np.median([r['guess_error_mHa'] for r in sel])
        de = max(abs(r['final_vs_minao']) for r in sel)
        stdout.write(f'{g:18s} {cyc:7d} {cyc / c_ref:6.2f} {sec:8.1f} {sec / t_ref:6.2f} '
                     f'{np.median([guess_per_cycle(r) for r in sel]):11.2f} '
                     f'{err:14.1f} {de:18.1e}\n')


def guess_per_cycle(row):
    """The guess's own wall time in units of its SCF's mean cycle; a fitting tensor the guess
    built for the SCF counts as the SCF's (minao's SCF builds it in its first cycle)."""
    shared = row.get('shared_seconds', 0.0)
    scf_seconds = row['seconds'] - row['guess_seconds'] + shared
    return (row['guess_seconds'] - shared) / (scf_seconds / max(row['cycles'], 1))


def write_jsonl(rows, out, xc, basis):
    """Write the rows to OUT/bench_<xc>_<basis>.jsonl; returns the path without extension."""
    os.makedirs(out, exist_ok=True)
    stem = os.path.join(out, f'bench_{xc}_{basis}')
    with open(stem + '.jsonl', 'w') as f:
        for r in rows:
            f.write(json.dumps(r) + '\n')
    return stem


def write_outputs(rows, guesses, out, xc, basis):
    stem = write_jsonl(rows, out, xc, basis)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names = sorted({r['molecule'] for r in rows}, key=[r['molecule'] for r in rows].index)
    x = np.arange(len(names))
    width = 0.8 / len(guesses)
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(names) + 2), 4.2))
    for i, g in enumerate(guesses):
        cyc = [next((r['cycles'] for r in rows if r['molecule'] == n and r['guess'] == g), 0)
               for n in names]
        ax.bar(x + (i - (len(guesses) - 1) / 2) * width, cyc, width, label=g)
    ax.set_xticks(x, names, rotation=40, ha='right')
    ax.set_ylabel('SCF cycles')
    ax.set_title(f'Initial guesses, {xc}/{basis}')
    ax.legend(ncol=3, fontsize=8)
    fig.tight_layout()
    fig.savefig(stem + '.png', dpi=110)
    plt.close(fig)
    return stem
