"""Cheapest reference-SCF settings for the training data, and data-generation throughput.

settings: for a few QM9 molecules, the density of each (conv_tol, grids.level, density fitting)
variant against a tight reference (no density fitting, conv_tol 1e-10, grids.level 4):
NMAE = int |rho_variant - rho_ref| dr / N_electrons in % on the reference's DFT grid (the same as
the residual-density NMAE: the free-atom part cancels), energy difference, cycles, seconds.
Also the error of storing the density matrix in float32.

throughput: structures per hour of ``deepscf data generate`` (default settings) with 1 and 2
Dask workers on the same QM9 structures.

    python benchmarks/data_settings.py settings [--molecules 5] [--seed 1] [--smiles S ...]
    python benchmarks/data_settings.py throughput [--structures 12] [--workers 1 2]
"""
import argparse
import itertools
import json
import os
import platform
import shutil
import tempfile
import time

import numpy as np
from pyscf import lib
from pyscf.dft import numint

from pyscf.deepscf.training import data

REFERENCE = {'density_fit': False, 'conv_tol': 1e-10, 'grids_level': 4}
RESULTS = os.path.join(os.path.dirname(__file__), 'results')


def density_nmae(mol, grids, dm, dm_ref):
    """int |rho(dm) - rho(dm_ref)| / N_electrons on ``grids``, in %."""
    ni, total = numint.NumInt(), 0.
    for ao, mask, weight, coords in ni.block_loop(mol, grids, mol.nao, 0):
        total += weight @ np.abs(numint.eval_rho(mol, ao, dm - dm_ref))
    return 100 * total / mol.nelectron


def run_variant(job, xc, basis, density_fit, conv_tol, grids_level):
    mol = data.job_mole(job, basis)
    mf = data.make_mf(mol, xc, density_fit, conv_tol, grids_level)
    t = time.perf_counter()
    mf.kernel()
    return mol, mf, time.perf_counter() - t


def settings_table(n_molecules=5, seed=1, xc='b3lyp', basis='def2-svp',
                   conv_tols=(1e-5, 1e-6, 1e-7, 1e-8), levels=(0, 1, 2, 3), smiles=()):
    jobs = data.structure_jobs(qm9=n_molecules, seed=seed, smiles=list(smiles))
    variants = [dict(density_fit=True, conv_tol=c, grids_level=g)
                for c, g in itertools.product(conv_tols, levels)]
    variants += [dict(density_fit=False, conv_tol=1e-8, grids_level=1),
                 dict(density_fit=False, conv_tol=1e-8, grids_level=3)]
    rows = []
    print(f'# {xc}/{basis}; reference {REFERENCE}; {[j["smiles"] or j["id"] for j in jobs]}; '
          f'{platform.node()} ({os.cpu_count()} cores), 1 thread, pyscf '
          f'{__import__("pyscf").__version__}', flush=True)
    for job in jobs:
        mol, ref, t_ref = run_variant(job, xc, basis, **REFERENCE)
        dm_ref = ref.make_rdm1()
        row = {'id': job['id'], 'natm': mol.natm, 'nao': mol.nao, 'variant': 'reference',
               **REFERENCE, 'nmae_pct': 0., 'dE_mHa': 0., 'cycles': ref.cycles, 'seconds': t_ref}
        rows.append(row)
        f32 = density_nmae(mol, ref.grids, dm_ref.astype(np.float32).astype(float), dm_ref)
        rows.append({**row, 'variant': 'float32 dm', 'nmae_pct': f32})
        print(f'{job["id"]}: {mol.natm} atoms, nao {mol.nao}, reference {t_ref:.1f} s, '
              f'{ref.cycles} cycles; float32 dm NMAE {f32:.1e} %', flush=True)
        for v in variants:
            _, mf, t = run_variant(job, xc, basis, **v)
            rows.append({'id': job['id'], 'natm': mol.natm, 'nao': mol.nao, 'variant': 'test',
                         **v, 'nmae_pct': density_nmae(mol, ref.grids, mf.make_rdm1(), dm_ref),
                         'dE_mHa': 1e3 * (mf.e_tot - ref.e_tot), 'cycles': mf.cycles,
                         'seconds': t, 'converged': bool(mf.converged)})
            print('  ' + json.dumps({k: rows[-1][k] for k in
                                     ('density_fit', 'conv_tol', 'grids_level', 'nmae_pct',
                                      'dE_mHa', 'cycles', 'seconds')}), flush=True)
    print(f'\n{"DF":>3s} {"conv_tol":>8s} {"level":>5s} {"max NMAE %":>10s} {"mean NMAE %":>11s} '
          f'{"max |dE| mHa":>12s} {"cycles":>6s} {"s/mol":>6s}')
    for v in variants:
        sel = [r for r in rows if r['variant'] == 'test' and
               all(r[k] == v[k] for k in v)]
        print(f'{"y" if v["density_fit"] else "n":>3s} {v["conv_tol"]:8.0e} {v["grids_level"]:5d} '
              f'{max(r["nmae_pct"] for r in sel):10.4f} {np.mean([r["nmae_pct"] for r in sel]):11.4f} '
              f'{max(abs(r["dE_mHa"]) for r in sel):12.3f} '
              f'{np.mean([r["cycles"] for r in sel]):6.1f} {np.mean([r["seconds"] for r in sel]):6.1f}')
    ref_rows = [r for r in rows if r['variant'] == 'reference']
    f32_rows = [r for r in rows if r['variant'] == 'float32 dm']
    print(f'reference: {np.mean([r["seconds"] for r in ref_rows]):.1f} s/mol; float32 density '
          f'matrix: max NMAE {max(r["nmae_pct"] for r in f32_rows):.1e} %')
    return rows


def throughput(n_structures=12, workers=(1, 2), seed=2):
    jobs = data.structure_jobs(qm9=n_structures, seed=seed)
    natm = np.mean([len(j['symbols']) for j in jobs])
    rows = []
    print(f'# {n_structures} QM9 structures (mean {natm:.1f} atoms), settings '
          f'{data.DEFAULT_SETTINGS}; {platform.node()} ({os.cpu_count()} cores), load average '
          f'{os.getloadavg()[0]:.1f} before', flush=True)
    for n in workers:
        out = tempfile.mkdtemp(prefix='deepscf-throughput-')
        t = time.perf_counter()
        summary = data.generate(jobs, out, workers=n, progress=False, log=lambda *a: None)
        wall = time.perf_counter() - t
        rows.append({'workers': n, 'structures': summary['done'], 'failed': summary['failed'],
                     'wall_s': wall, 'per_hour': 3600 * summary['done'] / wall,
                     'mean_atoms': natm, 'loadavg_after': os.getloadavg()[0]})
        print(json.dumps(rows[-1]), flush=True)
        shutil.rmtree(out)
    print(f'\n{"workers":>7s} {"structures":>10s} {"wall s":>7s} {"per hour":>8s}')
    for r in rows:
        print(f'{r["workers"]:7d} {r["structures"]:10d} {r["wall_s"]:7.0f} {r["per_hour"]:8.0f}')
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('what', choices=['settings', 'throughput'])
    p.add_argument('--molecules', type=int, default=5)
    p.add_argument('--structures', type=int, default=12)
    p.add_argument('--workers', type=int, nargs='+', default=[1, 2])
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--smiles', nargs='*', default=[], help='extra molecules (P, S, Cl)')
    p.add_argument('--conv-tols', type=float, nargs='+', default=[1e-5, 1e-6, 1e-7, 1e-8])
    p.add_argument('--levels', type=int, nargs='+', default=[0, 1, 2, 3])
    p.add_argument('--tag', default='', help='suffix of the results file')
    args = p.parse_args(argv)
    lib.num_threads(1)
    if args.what == 'settings':
        rows = settings_table(args.molecules, args.seed, conv_tols=args.conv_tols,
                              levels=args.levels, smiles=args.smiles)
    else:
        rows = throughput(args.structures, args.workers)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f'data_{args.what}{args.tag}.jsonl'), 'w') as f:
        for r in rows:
            f.write(json.dumps({**r, 'machine': platform.node()}) + '\n')


if __name__ == '__main__':
    main()
