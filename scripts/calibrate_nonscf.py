"""Calibrate NonSCF's extrapolated energy for a weights file: the weight w of the Harris energy
in e_extrapolated = (1 - w) e_ks + w e_harris (see pyscf/deepscf/nonscf.py).

On structures of the *validation* split of a data folder (held out from training, and not the
benchmark molecules): the SCF energy (PySCF's default guess) and NonSCF's e_ks and e_harris,
at --xc/--basis; w minimizes the summed squared error of the mixture, w = sum ks (ks - h) /
sum (ks - h)^2 with ks, h the two errors.  Prints a table with leave-one-out errors (each
structure predicted with the w of the others), writes JSON lines to --out, and with --write
stores w in the weights' metadata ({'nonscf': {'harris_weight': w, ...}}) and in the JSON
copy of the metadata beside the file, if there is one.

    python scripts/calibrate_nonscf.py --data DIR [--n 30] [--weights FILE] [--write]
"""
import argparse
import json
import os
import platform

import numpy as np
from pyscf import dft

from pyscf import deepscf
from pyscf.deepscf import data, dataset, model


def harris_weight(ks, harris):
    """The w minimizing sum ((1 - w) ks + w harris)^2 over the errors ks, harris."""
    diff = ks - harris
    return float(ks @ diff / (diff @ diff))


def run(folder, n, weights, xc, basis):
    predictor = model.NetworkPredictor(weights)
    records = sorted((r for r in data.list_records(folder) if dataset.split_of(r[1]) == 'val'),
                     key=lambda r: r[1])[:n]
    rows = []
    for path, sid in records:
        mol = data.record_mole(data.load_record(path, sid), basis=basis)
        mol.verbose = 0
        ref = dft.RKS(mol, xc=xc).run()
        nonscf = deepscf.NonSCF(dft.RKS(mol, xc=xc), predictor=predictor, energy='ks')
        nonscf.verbose = 0
        nonscf.kernel()
        rows.append({'id': sid, 'natm': mol.natm, 'ks_mHa': 1e3 * (nonscf.e_ks - ref.e_tot),
                     'harris_mHa': 1e3 * (nonscf.e_harris - ref.e_tot)})
        print(f'{sid:18s} {mol.natm:3d} atoms  KS {rows[-1]["ks_mHa"]:8.2f}  '
              f'Harris {rows[-1]["harris_mHa"]:8.2f} mHa', flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--data', required=True, help='data folder (its validation split is used)')
    p.add_argument('--n', type=int, default=30, help='validation structures')
    p.add_argument('--weights', default=model.DEFAULT_WEIGHTS)
    p.add_argument('--xc', default='pbe')
    p.add_argument('--basis', default='def2-svp')
    p.add_argument('--out', default='benchmarks/results')
    p.add_argument('--write', action='store_true', help='store w in the weights file')
    args = p.parse_args(argv)
    rows = run(args.data, args.n, args.weights, args.xc, args.basis)
    ks = np.array([r['ks_mHa'] for r in rows])
    harris = np.array([r['harris_mHa'] for r in rows])
    w = harris_weight(ks, harris)
    keep = np.ones(len(rows), bool)
    loo = []
    for i in range(len(rows)):              # each structure with the w of the others
        keep[i] = False
        wi = harris_weight(ks[keep], harris[keep])
        keep[i] = True
        loo.append((1 - wi) * ks[i] + wi * harris[i])
    loo = np.abs(loo)
    print(f'# {args.xc}/{args.basis}, {len(rows)} validation structures of {args.data}, '
          f'{platform.node()}')
    print(f'Harris weight w = {w:.4f} (r = w / (1 - w) = {w / (1 - w):.2f})')
    for name, err in (('KS', np.abs(ks)), ('Harris', np.abs(harris)),
                      ('extrapolated, leave-one-out', loo)):
        print(f'{name:28s} median |error| {np.median(err):6.2f} mHa, max {err.max():6.2f} mHa')
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'nonscf_calibration.jsonl'), 'w') as f:
        for r, e in zip(rows, loo):
            f.write(json.dumps(dict(r, loo_extrapolated_mHa=float(e), harris_weight=w,
                                    xc=args.xc, basis=args.basis)) + '\n')
    if args.write:
        calibration = {'harris_weight': w, 'xc': args.xc, 'basis': args.basis,
                       'structures': len(rows), 'split': 'val', 'data': args.data,
                       'median_abs_error_mHa_leave_one_out': float(np.median(loo))}
        meta = model.update_metadata(args.weights, {'nonscf': calibration})
        sidecar = os.path.splitext(args.weights)[0] + '.json'
        if os.path.exists(sidecar):
            with open(sidecar, 'w') as f:
                json.dump(meta, f, indent=1)
        print(f'wrote harris_weight {w:.4f} into {args.weights}')


if __name__ == '__main__':
    main()
