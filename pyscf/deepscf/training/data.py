"""Training data: converged reference density matrices of QM9 (and SMILES) structures.

The structures (geometries.py), optionally with random Gaussian displacements of the atoms, are
run through a PySCF Kohn-Sham SCF (default B3LYP/def2-SVP with density fitting) and stored in
HDF5 shards of a data folder (records.py).

A structure's id says what it is: ``qm9_{index}_d{k}`` (QM9 molecule ``index``; k = 0 the QM9
geometry, k >= 1 the k-th deformed copy) or ``smi_{k}_d{j}`` (k-th SMILES of the list).  The
deformation is a function of (seed, id), so a rerun rebuilds the same geometries and skips the
ids already stored or failed (resume).  Shards are written by the driver process, each
atomically (tmp file, then rename): killing a run loses at most the structures of the shard
being filled.
"""
import hashlib
import json
import os
import signal
import sys
import time

import numpy as np
from pyscf import dft, gto, lib, scf

from pyscf.deepscf.training.geometries import read_qm9, sample_qm9_indices, smiles_geometry
from pyscf.deepscf.training.records import (LEVEL_KEYS, SETTINGS_FILE, SHARD_PATTERN,
                                            append_failed, list_records, read_failed,
                                            shard_files, write_shard)

# The cheapest settings whose residual density stays within 0.1 % NMAE of a tight reference
# (benchmarks/data_settings.py).  The coarse grid is what limits them, and it moves the stored
# *energy* far more than the density: that energy is a label of the record, not a reference.
DEFAULT_SETTINGS = {'xc': 'b3lyp', 'basis': 'def2-svp', 'density_fit': True,
                    'conv_tol': 1e-5, 'grids_level': 0, 'max_cycle': 100}


def code_version():
    """'pyscf-deepscf X (git HASH), pyscf Y' for the records."""
    import pyscf
    from pyscf.deepscf import __version__
    head = ''
    try:
        import subprocess
        head = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True,
                              text=True, timeout=10, cwd=os.path.dirname(__file__)).stdout.strip()
    except Exception:
        pass
    return f'pyscf-deepscf {__version__}' + (f' (git {head})' if head else '') + \
        f', pyscf {pyscf.__version__}'


def level_name(xc, basis):
    """Folder-friendly name of a level of theory, e.g. 'b3lyp_def2-svp'."""
    return ''.join(c if c.isalnum() or c in '-.' else '_' for c in f'{xc}_{basis}'.lower())


def default_out(xc=DEFAULT_SETTINGS['xc'], basis=DEFAULT_SETTINGS['basis']):
    return os.path.join(os.path.expanduser('~'), '.cache', 'pyscf-deepscf', 'data',
                        level_name(xc, basis))


# ---------------------------------------------------------------------------- the job list

def deform(coords_ang, amplitude_ang, rng):
    """Coordinates with each atom displaced by an isotropic Gaussian of std ``amplitude_ang``."""
    coords = np.asarray(coords_ang, dtype=float)
    return coords + amplitude_ang * rng.standard_normal(coords.shape)


def _rng_for(seed, structure_id):
    return np.random.default_rng([seed, int(hashlib.sha256(structure_id.encode()).hexdigest()[:8], 16)])


def make_job(structure_id, symbols, coords_ang, amplitude_ang=0., seed=0, qm9_index=-1,
             smiles='', charge=0, spin=0):
    """One structure to compute: the (deformed, if amplitude_ang > 0) geometry and its labels."""
    coords = np.asarray(coords_ang, dtype=float)
    if amplitude_ang > 0:
        coords = deform(coords, amplitude_ang, _rng_for(seed, structure_id))
    return {'id': structure_id, 'symbols': list(symbols), 'coords_ang': coords.tolist(),
            'charge': charge, 'spin': spin, 'qm9_index': int(qm9_index), 'smiles': smiles,
            'amplitude_ang': float(amplitude_ang), 'seed': int(seed)}


def structure_jobs(qm9=0, qm9_index=None, deformed=0, copies=1, amplitude_ang=0.05,
                   smiles=None, smiles_copies=0, seed=0, smiles_prefix='smi'):
    """The list of structures of a generation run.

    qm9: number of QM9 molecules drawn with ``seed`` (or the explicit list ``qm9_index``), each
    at its QM9 geometry (``_d0``); the first ``deformed`` of them also get ``copies`` deformed
    copies (``_d1`` ...) at ``amplitude_ang`` (Å).  smiles: list of SMILES strings; each gives
    ``smi_{k}_d0`` plus ``smiles_copies`` deformed copies (``smiles_prefix`` instead of 'smi':
    another list's ids, e.g. 'drug' for DRUGS, so that lists share a folder).
    """
    jobs = []
    for k, smi in enumerate(smiles or []):          # first: few, and the only P/S/Cl
        symbols, coords = smiles_geometry(smi)
        jobs.append(make_job(f'{smiles_prefix}_{k}_d0', symbols, coords, 0., seed, smiles=smi))
        jobs += [make_job(f'{smiles_prefix}_{k}_d{j}', symbols, coords, amplitude_ang, seed,
                          smiles=smi)
                 for j in range(1, smiles_copies + 1)]
    indices = list(qm9_index) if qm9_index else (sample_qm9_indices(qm9, seed) if qm9 else [])
    geometries = read_qm9(indices) if indices else {}
    for rank, index in enumerate(indices):
        symbols, coords = geometries[index]
        jobs.append(make_job(f'qm9_{index}_d0', symbols, coords, 0., seed, qm9_index=index))
        if rank < deformed:
            jobs += [make_job(f'qm9_{index}_d{k}', symbols, coords, amplitude_ang, seed,
                              qm9_index=index) for k in range(1, copies + 1)]
    return jobs


# ---------------------------------------------------------------------------- one SCF

def job_mole(job, basis):
    return gto.M(atom=list(zip(job['symbols'], job['coords_ang'])), unit='Angstrom',
                 basis=basis, charge=job['charge'], spin=job['spin'], verbose=0)


def make_mf(mol, xc='b3lyp', density_fit=True, conv_tol=1e-9, grids_level=3, max_cycle=100):
    """Kohn-Sham (or HF for xc='hf') mean-field object with the given settings."""
    mf = scf.HF(mol) if xc.lower() == 'hf' else dft.KS(mol, xc=xc)
    if density_fit:
        mf = mf.density_fit()
    if hasattr(mf, 'grids'):
        mf.grids.level = grids_level
    mf.conv_tol, mf.max_cycle = conv_tol, max_cycle
    return mf


def run_scf(job, settings=DEFAULT_SETTINGS, num_threads=None):
    """SCF of one job; returns a record dict (with 'dm'), or a dict with 'failed': reason.

    Never raises: an exception, a non-converged SCF or a non-finite energy is a failure.
    """
    settings = {**DEFAULT_SETTINGS, **settings}
    if num_threads:
        lib.num_threads(num_threads)
    t0 = time.perf_counter()
    labels = {k: job[k] for k in ('id', 'qm9_index', 'smiles', 'amplitude_ang', 'seed')}
    try:
        mol = job_mole(job, settings['basis'])
        mf = make_mf(mol, **{k: settings[k] for k in
                             ('xc', 'density_fit', 'conv_tol', 'grids_level', 'max_cycle')})
        mf.kernel()
        if not mf.converged:
            reason = f'not converged in {settings["max_cycle"]} cycles'
        elif not np.isfinite(mf.e_tot):
            reason = f'energy {mf.e_tot}'
        else:
            dm = np.asarray(mf.make_rdm1())
            return {**labels, 'atomic_numbers': np.asarray(mol.atom_charges(), dtype=np.int16),
                    'coords_bohr': mol.atom_coords(), 'charge': mol.charge, 'spin': mol.spin,
                    'dm': dm, 'energy_hartree': float(mf.e_tot), 'cycles': int(mf.cycles),
                    'converged': True, 'nao': mol.nao,
                    'wall_s': time.perf_counter() - t0,
                    **{k: settings[k] for k in LEVEL_KEYS}}
    except Exception as err:                                    # recorded, not raised
        reason = f'{type(err).__name__}: {err}'
    return {**labels, 'failed': reason, 'wall_s': time.perf_counter() - t0}


# ---------------------------------------------------------------------------- the folder

def check_settings(folder, settings):
    """Write settings.json for a new folder; refuse a folder that holds another level."""
    path = os.path.join(folder, SETTINGS_FILE)
    mine = {k: settings[k] for k in LEVEL_KEYS}
    if os.path.exists(path):
        with open(path) as f:
            theirs = {k: v for k, v in json.load(f).items() if k in LEVEL_KEYS}
        if theirs != mine:
            raise ValueError(f'{folder} holds data computed with {theirs}, not {mine}; '
                             'use another --out folder')
    else:
        with open(path, 'w') as f:
            json.dump({**settings, 'code_version': code_version()}, f, indent=1)


class _FolderLock:
    """One generating driver per folder (a stale lock of a dead process is taken over)."""

    def __init__(self, folder):
        self.path = os.path.join(folder, '.lock')

    def __enter__(self):
        if os.path.exists(self.path):
            try:
                pid = int(open(self.path).read())
                os.kill(pid, 0)
                raise RuntimeError(f'another generation (pid {pid}) writes to this folder; '
                                   f'remove {self.path} if that is wrong')
            except (ValueError, ProcessLookupError):
                pass
        with open(self.path, 'w') as f:
            f.write(str(os.getpid()))
        return self

    def __exit__(self, *exc):
        if os.path.exists(self.path):
            os.remove(self.path)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f'signal {signum}')


# ---------------------------------------------------------------------------- driver

def generate(jobs, out, settings=None, workers=1, scheduler=None, shard_size=100,
             retry_failed=False, skip_ids=(), progress=True, log=print):
    """Compute the jobs not yet done in ``out`` and store them; returns a summary dict.

    skip_ids: structure ids stored elsewhere (e.g. in a compact file, ``compact_pyscf.compact_ids``),
    so that a new folder continues a list whose first structures were computed before.

    workers: Dask LocalCluster worker processes (1 thread each, OMP_NUM_THREADS=1); 0 runs
    in this process.  scheduler: address of an existing Dask scheduler (workers then ignored).
    Records are written by this process, ``shard_size`` per shard; SIGTERM or Ctrl-C writes
    the finished structures of the current shard before stopping.
    """
    settings = {**DEFAULT_SETTINGS, **(settings or {})}
    os.makedirs(out, exist_ok=True)
    check_settings(out, settings)
    version = code_version()
    done = {sid for _, sid in list_records(out)}
    failed = set(read_failed(out)) - done
    skip = (done if retry_failed else done | failed) | set(skip_ids)
    if len({job['id'] for job in jobs}) != len(jobs):
        raise ValueError('duplicate structure ids in the job list')
    todo = [job for job in jobs if job['id'] not in skip]
    elsewhere = len({job['id'] for job in jobs} & (set(skip_ids) - done))
    summary = {'requested': len(jobs), 'skipped': len(jobs) - len(todo), 'done': 0, 'failed': 0,
               'shards': []}
    log(f'{len(jobs)} structures requested, {summary["skipped"] - elsewhere} already in {out}'
        + (f', {elsewhere} stored elsewhere' if elsewhere else '') + f', {len(todo)} to compute')
    if not todo:
        return summary
    pending = []
    next_shard = 1 + max([int(os.path.basename(p)[6:11]) for p in shard_files(out)] or [0])

    def flush():
        nonlocal next_shard
        if pending:
            path = os.path.join(out, SHARD_PATTERN.format(next_shard))
            write_shard(path, pending, version)
            summary['shards'].append(path)
            log(f'{time.strftime("%Y-%m-%d %H:%M:%S")} wrote {os.path.basename(path)} '
                f'({len(pending)} structures); this run: done {summary["done"]}, '
                f'failed {summary["failed"]} of {len(todo)}')
            next_shard += 1
            pending.clear()

    def handle(rec):
        if 'failed' in rec:
            append_failed(out, {**rec, 'code_version': version})
            summary['failed'] += 1
        else:
            pending.append(rec)
            summary['done'] += 1
            if len(pending) >= shard_size:
                flush()

    old_term = signal.signal(signal.SIGTERM, _raise_interrupt) \
        if _in_main_thread() else None
    bar = _progress_bar(len(todo), progress)
    try:
        with _FolderLock(out):
            for rec in _run_jobs(todo, settings, workers, scheduler):
                handle(rec)
                bar.update(1)
                bar.set_postfix(failed=summary['failed'], refresh=False)
    except KeyboardInterrupt:
        log(f'interrupted: writing the {len(pending)} finished structures of the open shard')
        raise
    finally:
        flush()
        bar.close()
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    return summary


def _in_main_thread():
    import threading
    return threading.current_thread() is threading.main_thread()


def _progress_bar(total, enabled):
    from tqdm import tqdm
    tty = sys.stderr.isatty()
    return tqdm(total=total, disable=not enabled, unit='struct', smoothing=0.05,
                mininterval=1 if tty else 60, dynamic_ncols=tty)


def _run_jobs(jobs, settings, workers, scheduler):
    """Yield result records as they complete (in this process or through Dask)."""
    if not scheduler and workers == 0:
        for job in jobs:
            yield run_scf(job, settings)
        return
    from dask.distributed import Client, LocalCluster, as_completed
    import logging
    if scheduler:
        cluster, client, threads = None, Client(scheduler), None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=':0', silence_logs=logging.ERROR,
                               env={'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1',
                                    'OPENBLAS_NUM_THREADS': '1'})
        client, threads = Client(cluster), 1
    try:
        window = 2 * max(sum(client.nthreads().values()), 1) + 2
        queue, running, futures = iter(jobs), {}, as_completed()

        def submit(job):
            fut = client.submit(run_scf, job, settings, threads, pure=False)
            running[fut.key] = job
            futures.add(fut)
        for job in [j for _, j in zip(range(window), queue)]:
            submit(job)
        for fut in futures:
            job = running.pop(fut.key)
            try:
                rec = fut.result()
            except Exception as err:                            # worker died, etc.
                rec = {k: job[k] for k in ('id', 'qm9_index', 'smiles', 'amplitude_ang',
                                           'seed')}
                rec['failed'] = f'worker: {type(err).__name__}: {err}'
            fut.release()
            yield rec
            job = next(queue, None)
            if job is not None:
                submit(job)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
