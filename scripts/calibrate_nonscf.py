"""Calibrate NonSCF's extrapolated energy for a weights file: the weights a, b, c of
e_extrapolated = a e_ks + b e_harris + c e_harris_output, a + b + c = 1 (pyscf/deepscf/nonscf.py).

On structures of the *validation* split of a data folder (held out from training, and not the
benchmark molecules): the SCF energy (PySCF's default guess) and NonSCF's three energies, at
--xc/--basis; (b, c) minimize the summed squared error of the mixture (linear least squares in
the differences from e_ks).  Prints a table with leave-one-out errors (each structure predicted
with the weights fitted to the others), also for the two-term mixture of e_ks and e_harris
alone, writes JSON lines to --out, and with --write stores the weights in the weights' metadata
({'nonscf': {'energy_weights': {'ks': a, 'harris': b, 'harris_output': c}, ...}}) and in the
JSON copy of the metadata beside the file, if there is one.

    python scripts/calibrate_nonscf.py --data DIR|kit/compact.npz [--n 30] [--weights FILE] [--write]
"""
import argparse
import json
import os
import platform

import numpy as np
from pyscf import dft

from pyscf import deepscf
from pyscf.deepscf.training import compact, compact_pyscf, dataset, records
from pyscf.deepscf.engine import model
from pyscf.deepscf.training import export as weights_file


def fit_weights(errors, terms=('ks', 'harris', 'harris_output')):
    """{'ks': a, ...} (summing to 1) minimizing sum (a ks + b harris + c harris_output)^2 over
    the rows of ``errors`` (dict of arrays, mHa); terms not named get weight 0."""
    ks = errors['ks']
    others = [t for t in terms if t != 'ks']
    diffs = np.stack([errors[t] - ks for t in others], axis=1)
    x = np.linalg.lstsq(diffs, -ks, rcond=None)[0]
    weights = {'ks': 1.0, 'harris': 0.0, 'harris_output': 0.0}
    for t, v in zip(others, x):
        weights[t] = float(v)
        weights['ks'] -= float(v)
    return weights


def mixed(errors, weights):
    return sum(weights[t] * errors[t] for t in weights)


def leave_one_out(errors, terms):
    """|error| of each row with the weights fitted to the others."""
    n = len(errors['ks'])
    out = []
    for i in range(n):
        keep = np.arange(n) != i
        w = fit_weights({k: v[keep] for k, v in errors.items()}, terms)
        out.append(abs(mixed({k: v[i] for k, v in errors.items()}, w)))
    return np.array(out)


def validation_molecules(source, n, basis):
    """[(id, Mole)] of the first ``n`` validation structures, by id, of a data folder or,
    where the folder is gone, of compact files (a file or a folder such as kit/)."""
    if os.path.isdir(source) and records.list_records(source):
        val = sorted((r for r in records.list_records(source)
                      if dataset.split_of(r[1]) == 'val'), key=lambda r: r[1])[:n]
        return [(sid, records.record_mole(records.load_record(path, sid), basis=basis))
                for path, sid in val]
    store = compact.CompactSet(source)
    val = sorted(store.indices('val'), key=lambda i: store.ids[i])[:n]
    return [(rec['id'], records.record_mole(rec, basis=basis))
            for rec in compact_pyscf.compact_records(store, val)]


def run(source, n, weights, xc, basis):
    predictor = model.NetworkPredictor(weights)
    rows = []
    for sid, mol in validation_molecules(source, n, basis):
        mol.verbose = 0
        ref = dft.RKS(mol, xc=xc).run()
        nonscf = deepscf.NonSCF(dft.RKS(mol, xc=xc), predictor=predictor, energy='ks')
        nonscf.verbose = 0
        nonscf.kernel()
        rows.append({'id': sid, 'natm': mol.natm, 'ks_mHa': 1e3 * (nonscf.e_ks - ref.e_tot),
                     'harris_mHa': 1e3 * (nonscf.e_harris - ref.e_tot),
                     'harris_output_mHa': 1e3 * (nonscf.e_harris_output - ref.e_tot)})
        print(f'{sid:18s} {mol.natm:3d} atoms  KS {rows[-1]["ks_mHa"]:8.2f}  '
              f'Harris {rows[-1]["harris_mHa"]:8.2f}  output Harris '
              f'{rows[-1]["harris_output_mHa"]:8.2f} mHa', flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--data', required=True,
                   help='data folder, or compact file(s)/kit folder where it is gone (its '
                        'validation split is used)')
    p.add_argument('--n', type=int, default=30, help='validation structures')
    p.add_argument('--weights', default=model.DEFAULT_WEIGHTS)
    p.add_argument('--xc', default='pbe')
    p.add_argument('--basis', default='def2-svp')
    p.add_argument('--out', default='benchmarks/results')
    p.add_argument('--write', action='store_true', help='store w in the weights file')
    args = p.parse_args(argv)
    rows = run(args.data, args.n, args.weights, args.xc, args.basis)
    errors = {t: np.array([r[t + '_mHa'] for r in rows]) for t in ('ks', 'harris',
                                                                     'harris_output')}
    weights = fit_weights(errors)
    loo = leave_one_out(errors, ('ks', 'harris', 'harris_output'))
    loo_two = leave_one_out(errors, ('ks', 'harris'))
    print(f'# {args.xc}/{args.basis}, {len(rows)} validation structures of {args.data}, '
          f'{platform.node()}')
    print('weights: ' + ', '.join(f'{k} {v:.4f}' for k, v in weights.items())
          + f'  (two-term: Harris weight {fit_weights(errors, ("ks", "harris"))["harris"]:.4f})')
    for name, err in (('KS', np.abs(errors['ks'])), ('Harris', np.abs(errors['harris'])),
                      ('output Harris', np.abs(errors['harris_output'])),
                      ('KS + Harris, leave-one-out', loo_two),
                      ('three-term, leave-one-out', loo)):
        print(f'{name:28s} median |error| {np.median(err):6.2f} mHa, max {err.max():6.2f} mHa')
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'nonscf_calibration.jsonl'), 'w') as f:
        for r, e, e2 in zip(rows, loo, loo_two):
            f.write(json.dumps(dict(r, loo_extrapolated_mHa=float(e),
                                    loo_two_term_mHa=float(e2), energy_weights=weights,
                                    xc=args.xc, basis=args.basis)) + '\n')
    if args.write:
        from pyscf.deepscf.domain import calibration_domain
        calibration = {'energy_weights': weights, 'xc': args.xc, 'basis': args.basis,
                       'domain': calibration_domain(args.xc, args.basis),
                       'structures': len(rows), 'split': 'val', 'data': args.data,
                       'median_abs_error_mHa_leave_one_out': float(np.median(loo))}
        weights_file.update_metadata(args.weights, {'nonscf': calibration})   # and its .json
        print(f'wrote energy_weights {weights} into {args.weights}')


if __name__ == '__main__':
    main()
