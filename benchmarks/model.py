"""Benchmark of the trained network: density error, NonSCF on the dev set, inference time, scaling.

    python benchmarks/model.py dev [FILES_OR_FOLDER ...]   # dev set: NMAE and NonSCF
    python benchmarks/model.py qm9 --data DIR [--n 40] [--splits test val] [--elements-first S P Cl]
    python benchmarks/model.py scaling [--sizes 50 100 200 400]
    python benchmarks/model.py compare A.jsonl B.jsonl ... [--name NAME]   # weights side by side

dev: for each molecule, the density NMAE (100 * int |rho - rho_SCF| dr / N on PySCF's default
DFT grid, against the B3LYP/def2-SVP SCF density, density-fitted as the training data) of the
free atoms, of minao's density matrix, of the prediction and of the deepscf guess's density
matrix (one Fock build on the prediction at that level); the NonSCF PBE/def2-SVP energy (e_tot
and e_harris) against PySCF's PBE SCF from its default guess, and its wall time against the
SCF's; the network's own time (fingerprints + CNN) and the fit's. qm9: the same NMAE on
structures of the QM9 test split (or --splits) of a data folder (their stored SCF density is the
reference); --elements-first S P Cl puts the structures holding those elements first and compares
them with the rest. scaling: network inference time and peak memory (max RSS of a fresh process)
for linear alkane chains of about N atoms. compare: the dev or qm9 rows of several weights (one
jsonl each, same structures) side by side, each paired with the first. NonSCF on larger molecules:
benchmarks/model_nonscf.py. Cycles of the guess come from ``deepscf bench``. Each prints a table
and writes JSON lines and a PNG to --out (compare: a table, OUT/NAME.txt).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np
from pyscf import dft, gto

from pyscf import deepscf
from pyscf.deepscf.engine import atoms
from pyscf.deepscf import bench, molio
from pyscf.deepscf.training import compact_pyscf, dataset, records
from pyscf.deepscf.training.guess_validation import guess_density_matrix, nmae_percent
from pyscf.deepscf.engine.model import NetworkPredictor
from pyscf.deepscf.reference_predictors import OraclePredictor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # the benchmarks' own modules
from model_nonscf import nonscf_errors                                         # noqa: E402
from report import write, write_jsonl                                          # noqa: E402

NMAE_KEYS = ('nmae_atoms', 'nmae_minao', 'nmae_model', 'nmae_guess', 'nmae_oracle')
DEV = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'molecules', 'dev')


def density_errors(mol, dm_ref, predictor):
    """NMAE (%) of free atoms, minao, the prediction, the deepscf guess and the oracle against
    the density of ``dm_ref``.

    The guess is the density matrix init_guess='deepscf' hands the SCF at the reference level
    of the predictor's training data (one Fock build on the prediction, diagonalized): the
    counterpart of minao's density matrix.  The oracle is the exact residual of ``dm_ref``
    sampled on the network's grid and fitted by the same code as the prediction: the floor
    that the grid and the auxiliary basis leave to a perfect network.
    """
    grids = dft.gen_grid.Grids(mol).build()
    ao = dft.numint.NumInt().eval_ao(mol, grids.coords)
    rho_ref = dft.numint.eval_rho(mol, ao, dm_ref)
    rho_atoms = atoms.molecule_density_on_points(mol, grids.coords)
    dm_minao = dft.RKS(mol).init_guess_by_minao(mol)
    t = time.perf_counter()
    density = deepscf.predict_density(mol, predictor)
    t_predict = time.perf_counter() - t
    oracle = deepscf.predict_density(mol, OraclePredictor(dm_ref, predictor.spacing_bohr,
                                                           predictor.margin_bohr,
                                                           predictor.smoothing_bohr))
    rho_pred, rho_oracle = (np.concatenate([d.eval_rho(grids.coords[i:i + 20000])
                                            for i in range(0, len(grids.weights), 20000)])
                            for d in (density, oracle))
    dm_guess = guess_density_matrix(mol, predictor)
    return {'nmae_atoms': nmae_percent(mol, grids, rho_ref, rho_atoms),
            'nmae_minao': nmae_percent(mol, grids, rho_ref,
                                       dft.numint.eval_rho(mol, ao, dm_minao)),
            'nmae_model': nmae_percent(mol, grids, rho_ref, rho_pred),
            'nmae_guess': nmae_percent(mol, grids, rho_ref,
                                       dft.numint.eval_rho(mol, ao, dm_guess)),
            'nmae_oracle': nmae_percent(mol, grids, rho_ref, rho_oracle),
            # the exact residual holds no charge; the fit's constraint removes what the
            # network's holds (a diagnostic: it does not rank weights by their guess alone)
            'residual_charge_e': float(density.residual_density.sum() * density.grid.voxel_volume),
            'predict_s': t_predict}


def network_seconds(mol, predictor):
    """Seconds of the network alone (grid, fingerprints, CNN) on ``mol``."""
    t = time.perf_counter()
    predictor.predict(mol)
    return time.perf_counter() - t


def run_dev(paths, out, weights=None, mirrors=1):
    files = bench.molecule_files(paths or [DEV])
    predictor = NetworkPredictor(weights, mirrors=mirrors)
    rows = []
    print(f'# dev set, weights {os.path.basename(predictor.weights)}, {platform.node()} '
          f'({os.cpu_count()} cores), pyscf {__import__("pyscf").__version__}')
    print(f'{"molecule":20s} {"atoms":>5s} {"NMAE% atoms":>11s} {"minao":>6s} {"model":>6s} '
          f'{"guess":>6s} {"oracle":>6s} {"net s":>6s} {"KS mHa":>8s} {"Harris mHa":>10s} '
          f'{"extrap mHa":>10s} '
          f'{"time/SCF":>8s}')
    for path in files:
        name = os.path.splitext(os.path.basename(path))[0]
        mol = molio.load_molecule(path, basis='def2-svp')
        ref = dft.RKS(mol, xc='b3lyp').density_fit().run()      # the training data's level
        row = {'molecule': name, 'natm': mol.natm,
               **density_errors(mol, ref.make_rdm1(), predictor),
               'network_s': network_seconds(mol, predictor)}
        row.update(nonscf_errors(mol, predictor))
        rows.append(row)
        extrapolated = row['extrapolated_mHa']
        print(f'{name:20s} {mol.natm:5d} {row["nmae_atoms"]:11.2f} {row["nmae_minao"]:6.2f} '
              f'{row["nmae_model"]:6.2f} {row["nmae_guess"]:6.2f} {row["nmae_oracle"]:6.2f} '
              f'{row["network_s"]:6.2f} '
              f'{row["ks_mHa"]:8.2f} {row["harris_mHa"]:10.2f} '
              f'{float("nan") if extrapolated is None else extrapolated:10.2f} '
              f'{row["nonscf_s"] / row["scf_pbe_s"]:8.2f}',
              flush=True)
        write_jsonl(rows, out, 'model_dev')       # after each molecule: an interrupted run keeps them
    mean = {k: np.mean([r[k] for r in rows]) for k in NMAE_KEYS}
    print(f'mean NMAE %: atoms {mean["nmae_atoms"]:.2f}, minao {mean["nmae_minao"]:.2f}, '
          f'model {mean["nmae_model"]:.2f}, guess {mean["nmae_guess"]:.2f}, '
          f'oracle {mean["nmae_oracle"]:.2f}; NonSCF e_tot '
          f'|error| max {max(abs(r["nonscf_mHa"]) for r in rows):.2f} mHa, median '
          f'{np.median([abs(r["nonscf_mHa"]) for r in rows]):.2f} mHa (KS median '
          f'{np.median([abs(r["ks_mHa"]) for r in rows]):.2f}, Harris median '
          f'{np.median([abs(r["harris_mHa"]) for r in rows]):.2f}); NonSCF/SCF time max '
          f'{max(r["nonscf_s"] / r["scf_pbe_s"] for r in rows):.2f}, summed '
          f'{sum(r["nonscf_s"] for r in rows) / sum(r["scf_pbe_s"] for r in rows):.2f}')
    write(rows, out, 'model_dev', NMAE_KEYS, 'NMAE %')
    return rows


def run_qm9(folder, n, out, weights=None, mirrors=1, splits=('test',), elements_first=(),
            name='model_qm9test'):
    """Rows of ``n`` stored structures of ``splits`` of an HDF5 data folder, or of compact
    files (``.npz`` or a folder of them such as kit/: the density matrices rebuilt from the
    stored factors, 0.05 % NMAE from the SCF's, docs/gpu_kit.md); with ``elements_first``
    (symbols) those containing any of them come first, and the summary compares them with the
    rest."""
    predictor = NetworkPredictor(weights, mirrors=mirrors)
    seed = predictor.metadata.get('dataset', {}).get('split_seed', 0)
    load = stored_structures(folder, seed, splits)
    if elements_first:
        first = [r for r in load if set(r[0]) & set(elements_first)]
        load = first + [r for r in load if r not in first]
    load = load[:n]
    rows = []
    header = (f"# {'+'.join(splits)} split of {' '.join(np.atleast_1d(folder))}: {len(load)} "
              f"structures, weights "
              f"{os.path.basename(predictor.weights)}")
    print(header)
    for _, read in load:
        rec = read()
        mol = records.record_mole(rec)
        rows.append({'molecule': rec['id'], 'natm': mol.natm,
                     'elements': sorted(set(rec['symbols'])),
                     **density_errors(mol, rec['dm'], predictor)})
        write_jsonl(rows, out, name)
    text = header + '\n' + nmae_summary(rows, elements_first)
    print(text, end='')
    write(rows, out, name, NMAE_KEYS, 'NMAE %')
    with open(os.path.join(out, name + '.txt'), 'w') as f:
        f.write(text)
    return rows


def stored_structures(source, seed, splits):
    """[(element symbols, read)] of the structures of ``splits`` in ``source`` (an HDF5 data
    folder, or compact files: .npz files or folders of them), in split order; read() returns
    the record (records.load_record's keys: id, symbols, coords_bohr, dm ...)."""
    from pyscf.deepscf.training import compact
    if isinstance(source, str):
        source = [source]
    if len(source) == 1 and os.path.exists(os.path.join(source[0], 'settings.json')):
        split_records = dataset.split_records(source[0], seed=seed)
        return [(stored_elements(path, sid), lambda r=(path, sid): records.load_record(*r))
                for split in splits for path, sid in split_records[split]]
    store = compact.CompactSet(source)
    if store.settings.get('split_seed', 0) != seed:
        raise SystemExit(f'{source}: split seed {store.settings.get("split_seed")}, the '
                         f'weights were split with {seed}')
    return [(store.symbols(i), lambda i=i: compact_pyscf.compact_records(store, [i])[0])
            for split in splits for i in store.indices(split)]


def nmae_summary(rows, elements_first=()):
    """Lines: mean NMAE % of each column over ``rows``, then by_elements when asked."""
    mean = {k: np.mean([r[k] for r in rows]) for k in NMAE_KEYS}
    text = (f'mean NMAE % over {len(rows)}: atoms {mean["nmae_atoms"]:.2f}, '
            f'minao {mean["nmae_minao"]:.2f}, model {mean["nmae_model"]:.2f}, '
            f'guess {mean["nmae_guess"]:.2f}, oracle {mean["nmae_oracle"]:.2f}\n')
    return text + (by_elements(rows, elements_first) if elements_first else '')


def stored_elements(path, structure_id):
    """Element symbols of a stored structure (without loading its density matrix)."""
    import h5py
    from pyscf import gto
    with h5py.File(path, 'r') as f:
        return [gto.mole._symbol(int(z)) for z in f[structure_id]['atomic_numbers'][()]]


def by_elements(rows, elements):
    """Lines: mean model and guess NMAE of the rows whose structure holds any of ``elements``
    against the others."""
    lines = []
    for label, group in ((f'with {"/".join(elements)}', True), ('without', False)):
        sel = [r for r in rows if bool(set(r['elements']) & set(elements)) == group]
        if sel:
            lines.append(f'{label:14s} {len(sel):4d} structures ({np.mean([r["natm"] for r in sel]):.0f} '
                         f'atoms on average): model {np.mean([r["nmae_model"] for r in sel]):.2f} %, '
                         f'guess {np.mean([r["nmae_guess"] for r in sel]):.2f} %, '
                         f'minao {np.mean([r["nmae_minao"] for r in sel]):.2f} %')
    return '\n'.join(lines) + '\n'


def compare(paths, out, name):
    """Model and guess NMAE of several weights on the same structures (rows of ``dev``/``qm9``
    runs, one jsonl file each): mean, median, max, and against the first file the paired mean
    difference (with its standard error) and on how many structures each is better.  The
    guess is what the SCF gets, so it decides between weights; the density NMAE alone can rank
    them the other way (docs/measurements.md)."""
    runs = []
    for path in paths:
        with open(path) as f:
            runs.append({r['molecule']: r for r in map(json.loads, f)})
    common = sorted(set.intersection(*(set(r) for r in runs)))
    if not common:
        sys.exit('compare: the files share no structure')
    lines = [f'# python benchmarks/model.py compare; {len(common)} structures in every file; '
             f'NMAE %, paired differences against the first file']
    lines.append(f'{"weights (file)":44s} {"what":6s} {"mean":>6s} {"median":>6s} {"max":>6s} '
                 f'{"vs first":>15s} {"better":>7s}')
    for i, (path, run) in enumerate(zip(paths, runs)):
        label = os.path.relpath(path)[-44:]
        for key, what in (('nmae_model', 'model'), ('nmae_guess', 'guess')):
            v = np.array([run[m][key] for m in common])
            d = v - np.array([runs[0][m][key] for m in common])
            paired = (f'{d.mean():+6.2f} +- {d.std(ddof=1) / len(d) ** 0.5:4.2f}'
                      if i and len(d) > 1 else '')
            better = f'{(d < 0).sum()}/{len(d)}' if i else ''
            lines.append(f'{label:44s} {what:6s} {v.mean():6.2f} {np.median(v):6.2f} '
                         f'{v.max():6.2f} {paired:>15s} {better:>7s}')
    if all('residual_charge_e' in run[m] for run in runs for m in common):
        lines.append('charge of the predicted residual, e (the exact one holds none): mean, '
                     'mean |.| per file: ' + '; '.join(
                         f'{np.mean(q):+.3f}, {np.mean(np.abs(q)):.3f}' for q in
                         ([run[m]['residual_charge_e'] for m in common] for run in runs)))
    text = '\n'.join(lines) + '\n'
    print(text, end='')
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, name + '.txt'), 'w') as f:
        f.write(text)
    return text


def alkane(n_carbon):
    """Linear all-trans alkane C_nH_(2n+2) as a gto.Mole (sto-3g; only atoms matter here)."""
    symbols, coords = molio.alkane(n_carbon)
    return gto.M(atom=list(zip(symbols, coords)), basis='sto-3g', verbose=0)


def _scaling_child(natm_target, weights):
    """Run in a fresh process: time and peak memory of one prediction."""
    import resource
    mol = alkane(max(1, round((natm_target - 2) / 3)))
    predictor = NetworkPredictor(weights)
    t = time.perf_counter()
    grid, _ = predictor.predict(mol)
    sec = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({'natm': mol.natm, 'grid_points': grid.size, 'grid_shape': grid.shape,
                      'network_s': sec, 'peak_rss_MB': peak}))


def run_scaling(sizes, out, weights=None):
    rows = []
    print(f'{"atoms":>6s} {"grid points":>12s} {"network s":>10s} {"peak MB":>8s}')
    for n in sizes:
        cmd = [sys.executable, __file__, '_child', str(n)] + (['--weights', weights] if weights
                                                              else [])
        row = json.loads(subprocess.run(cmd, capture_output=True, text=True,
                                        check=True).stdout.splitlines()[-1])
        rows.append(row)
        print(f'{row["natm"]:6d} {row["grid_points"]:12d} {row["network_s"]:10.2f} '
              f'{row["peak_rss_MB"]:8.0f}', flush=True)
    write(rows, out, 'model_scaling', ('network_s',), 'seconds', x='natm')
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('what', choices=('dev', 'qm9', 'scaling', 'compare', '_child'))
    p.add_argument('paths', nargs='*')
    p.add_argument('--data', nargs='+', help='qm9: an HDF5 data folder, or compact files '
                        '(.npz files or folders of them, e.g. kit)')
    p.add_argument('--n', type=int, default=40, help='test structures (qm9)')
    p.add_argument('--splits', nargs='+', choices=dataset.SPLITS, default=['test'],
                   help='splits of the data folder taken in order (qm9)')
    p.add_argument('--elements-first', nargs='+', default=(), metavar='EL',
                   help='structures containing any of these elements first, and the summary '
                        'by them (qm9; e.g. S P Cl)')
    p.add_argument('--sizes', type=int, nargs='+', default=[30, 50, 100, 200, 400])
    p.add_argument('--weights', help='weights file (default: bundled)')
    p.add_argument('--mirrors', type=int, choices=(1, 2, 8), default=1,
                   help='mirror images the network averages (dev, qm9)')
    p.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results'))
    p.add_argument('--name', default=None,
                   help="file stem (compare: default model_compare; qm9: model_qm9test)")
    args = p.parse_args(argv)
    if args.what == 'dev':
        run_dev(args.paths, args.out, args.weights, args.mirrors)
    elif args.what == 'qm9':
        if not args.data:
            p.error('qm9 needs --data DIR')
        run_qm9(args.data, args.n, args.out, args.weights, args.mirrors, args.splits,
                args.elements_first, args.name or 'model_qm9test')
    elif args.what == 'compare':
        if len(args.paths) < 2:
            p.error('compare needs two or more jsonl files')
        compare(args.paths, args.out, args.name or 'model_compare')
    elif args.what == 'scaling':
        run_scaling(args.sizes, args.out, args.weights)
    else:
        _scaling_child(int(args.paths[0]), args.weights)


if __name__ == '__main__':
    main()
