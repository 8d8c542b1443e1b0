"""NonSCF on molecules larger than the dev set's: PBE/def2-SVP energies against PySCF's PBE SCF.

    python benchmarks/model_nonscf.py [FILES ...] [--n 10 --atoms 30 60] [--density-fit] [--oracle]

The files given, else ``--n`` drug-like molecules of ``--atoms`` atoms of the test split (never
trained on). Per molecule: e_tot, e_ks and the Harris energy minus the SCF's (mHa) and NonSCF's
wall time over the SCF's; ``--density-fit`` fits both sides; ``--oracle`` adds the engine's floor,
NonSCF fed the SCF's own density. Prints a table and writes OUT/NAME.txt, .jsonl and .png.
"""
import argparse
import os
import platform
import sys
import time

import numpy as np
from pyscf import dft, gto

from pyscf import deepscf
from pyscf.deepscf import bench, molio
from pyscf.deepscf.engine.model import NetworkPredictor
from pyscf.deepscf.reference_predictors import OraclePredictor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import write, write_jsonl                                          # noqa: E402


def nonscf_errors(mol, predictor, density_fit=False, oracle=False):
    """NonSCF PBE energies of ``mol`` against PySCF's PBE SCF from its default guess, same basis
    and (with ``density_fit``) both density-fitted (mHa: e_tot, e_ks, the Harris energies, the
    extrapolation), and both wall times (s).  ``oracle``: also NonSCF fed the SCF's own density
    (smoothed as the network's targets were), the engine's floor under the network's errors
    (``oracle_nonscf_mHa``, ``oracle_ks_mHa``)."""
    def pbe():      # RKS or UKS by spin, as NonSCF(mol, xc) picks
        mf = dft.KS(mol, xc='pbe')
        return mf.density_fit() if density_fit else mf
    scf_pbe = pbe()
    t = time.perf_counter(); scf_pbe.kernel(); scf_s = time.perf_counter() - t
    ns = deepscf.NonSCF(pbe(), predictor=predictor)
    t = time.perf_counter(); ns.kernel(); nonscf_s = time.perf_counter() - t
    floor = {}
    if oracle:
        exact = OraclePredictor(scf_pbe.make_rdm1(),
                                smoothing_bohr=getattr(predictor, 'smoothing_bohr', 0.0))
        ns_exact = deepscf.NonSCF(pbe(), predictor=exact).run()
        floor = dict(oracle_nonscf_mHa=1e3 * (ns_exact.e_tot - scf_pbe.e_tot),
                     oracle_ks_mHa=1e3 * (ns_exact.e_ks - scf_pbe.e_tot))
    return dict(scf_pbe_s=scf_s, nonscf_s=nonscf_s, **floor,
                nonscf_mHa=1e3 * (ns.e_tot - scf_pbe.e_tot),
                ks_mHa=1e3 * (ns.e_ks - scf_pbe.e_tot),
                harris_mHa=1e3 * (ns.e_harris - scf_pbe.e_tot),
                harris_output_mHa=1e3 * (ns.e_harris_output - scf_pbe.e_tot),
                extrapolated_mHa=(None if ns.e_extrapolated is None
                                  else 1e3 * (ns.e_extrapolated - scf_pbe.e_tot)),
                nonscf_energy=ns.energy, scf_pbe_cycles=scf_pbe.cycles,
                scf_pbe_converged=bool(scf_pbe.converged), density_fit=density_fit)


def held_out_drugs(n, natm_min, natm_max, split_seed=0):
    """[(name, symbols, coords_ang)] of ``n`` drug-like molecules (geometries.DRUGS, our own list) of
    the *test* split (never trained on: splits go by molecule) with natm_min..natm_max atoms,
    hydrogens included, evenly spread over the sizes found; RDKit conformers as the training
    data's (geometries.smiles_geometry)."""
    from rdkit import Chem
    from pyscf.deepscf.training import dataset, geometries
    found = []
    for k, smiles in enumerate(geometries.read_smiles_file(geometries.DRUGS)):
        name = f'drug_{k}'
        if dataset.split_of(name + '_d0', seed=split_seed) != 'test':
            continue
        natm = Chem.AddHs(Chem.MolFromSmiles(smiles)).GetNumAtoms()
        if natm_min <= natm <= natm_max:
            found.append((natm, name, smiles))
    if len(found) < n:
        sys.exit(f'only {len(found)} test-split drugs of {natm_min}-{natm_max} atoms')
    found.sort()
    chosen = [found[round(i)] for i in np.linspace(0, len(found) - 1, n)]
    return [(name, *geometries.smiles_geometry(smiles)) for _, name, smiles in chosen]


def run_nonscf(paths, out, weights=None, n=10, natm_range=(30, 60), name='model_nonscf_size',
               density_fit=False, oracle=False, only=()):
    """NonSCF PBE/def2-SVP against the SCF on molecules larger than the dev set's (the
    calibrated energy must not degrade with size): the files given, else ``n`` held-out drugs of
    ``natm_range`` atoms (``only``: those of them so named); ``density_fit``: both sides fitted
    (the SCF of a 30-atom drug takes about half the time); ``oracle``: also the engine's floor
    (nonscf_errors), in two more columns."""
    predictor = NetworkPredictor(weights)
    seed = predictor.metadata.get('dataset', {}).get('split_seed', 0)
    if paths:
        molecules = [(os.path.splitext(os.path.basename(p))[0], molio.load_molecule(p, 'def2-svp'))
                     for p in bench.molecule_files(paths)]
    else:
        molecules = [(name, gto.M(atom=list(zip(symbols, coords)), basis='def2-svp', verbose=0))
                     for name, symbols, coords in held_out_drugs(n, *natm_range, seed)
                     if not only or name in only]
        missing = set(only) - {label for label, _ in molecules}
        if missing:
            sys.exit(f'--only: {", ".join(sorted(missing))} not among the {n} held-out drugs')
    fitted = ' (both density-fitted)' if density_fit else ''
    lines = [f'# NonSCF PBE/def2-SVP - PBE SCF{fitted}, weights '
             f'{os.path.basename(predictor.weights)}, {platform.node()} ({os.cpu_count()} cores), '
             f'pyscf {__import__("pyscf").__version__}',
             f'{"molecule":14s} {"atoms":>5s} {"e_tot mHa":>9s} {"e_ks mHa":>9s} '
             f'{"Harris mHa":>10s} {"time/SCF":>8s}'
             + (f' {"oracle e_tot":>12s} {"oracle e_ks":>11s}' if oracle else '')]
    print('\n'.join(lines), flush=True)
    rows = []
    for label, mol in molecules:
        row = {'molecule': label, 'natm': mol.natm,
               'elements': sorted(set(mol.elements)),
               **nonscf_errors(mol, predictor, density_fit, oracle)}
        rows.append(row)
        lines.append(f'{label:14s} {mol.natm:5d} {row["nonscf_mHa"]:9.2f} {row["ks_mHa"]:9.2f} '
                     f'{row["harris_mHa"]:10.2f} {row["nonscf_s"] / row["scf_pbe_s"]:8.2f}'
                     + (f' {row["oracle_nonscf_mHa"]:12.2f} {row["oracle_ks_mHa"]:11.2f}'
                        if oracle else ''))
        print(lines[-1], flush=True)
        write_jsonl(rows, out, name)              # after each molecule: an interrupted run keeps them
    lines.append(nonscf_summary(rows))
    print(lines[-1])
    write(rows, out, name, ('nonscf_mHa', 'ks_mHa'), 'mHa')
    with open(os.path.join(out, name + '.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return rows


def nonscf_summary(rows):
    """The summary line of NonSCF rows (run_nonscf; also rows of runs merged afterwards)."""
    return (f'{len(rows)} molecules of {min(r["natm"] for r in rows)}-'
            f'{max(r["natm"] for r in rows)} atoms: e_tot |error| median '
            f'{np.median([abs(r["nonscf_mHa"]) for r in rows]):.2f}, max '
            f'{max(abs(r["nonscf_mHa"]) for r in rows):.2f} mHa; e_ks median '
            f'{np.median([r["ks_mHa"] for r in rows]):.2f}, max '
            f'{max(r["ks_mHa"] for r in rows):.2f} mHa; NonSCF/SCF time summed '
            f'{sum(r["nonscf_s"] for r in rows) / sum(r["scf_pbe_s"] for r in rows):.2f}')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('paths', nargs='*', help='xyz files (default: held-out drugs)')
    p.add_argument('--n', type=int, default=10, help='held-out drugs')
    p.add_argument('--atoms', type=int, nargs=2, default=(30, 60), metavar=('MIN', 'MAX'),
                   help='atom range of the held-out drugs')
    p.add_argument('--density-fit', action='store_true',
                   help='the SCF and NonSCF both with density fitting')
    p.add_argument('--oracle', action='store_true',
                   help="also NonSCF fed the SCF's own density (the engine's floor)")
    p.add_argument('--only', nargs='+', default=(), metavar='NAME',
                   help='only these of the held-out drugs (e.g. drug_352)')
    p.add_argument('--weights', help='weights file (default: bundled)')
    p.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results'))
    p.add_argument('--name', default='model_nonscf_size', help='file stem')
    args = p.parse_args(argv)
    run_nonscf(args.paths, args.out, args.weights, args.n, tuple(args.atoms), args.name,
               args.density_fit, args.oracle, args.only)


if __name__ == '__main__':
    main()
