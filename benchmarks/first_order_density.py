"""How much of the residual density would a cheap first-order density already give the network?

    python benchmarks/first_order_density.py [FILES_OR_FOLDER ...] [--out benchmarks/results]

Asks whether an input channel with a first-order bonding density (one diagonalization
in a small basis) would leave the network only a correction to learn.  Before building it into
the data, the network and the guess, this measures the candidates' own density NMAE against the
B3LYP/def2-SVP SCF density (benchmarks/model.py's definition, the dev set by default) next to
the free atoms and minao: one diagonalization of the Fock matrix of minao's density matrix in
STO-3G and in 6-31G (LDA), PySCF's Huckel guess, and, for scale, one B3LYP/def2-SVP
diagonalization from minao (the SCF's own first cycle, as costly as a cycle).  Seconds are
the first-order density's own (minao, the Fock build and the diagonalization in that basis).
Prints a table, writes first_order_density.{txt,jsonl}; a run cut short resumes.
"""
import argparse
import json
import os
import time

import numpy as np
from pyscf import dft

from model import DEV, nmae_percent
from pyscf.deepscf import bench, molio
from pyscf.deepscf.engine import atoms

CANDIDATES = ('atoms', 'minao', 'huckel', 'sto-3g_lda', '6-31g_lda', 'def2-svp_b3lyp')


def one_diagonalization(mol, xc):
    """Density matrix of one diagonalization of the Fock matrix of minao's density (RKS)."""
    mf = dft.RKS(mol, xc=xc)
    mf.verbose = 0
    fock = mf.get_fock(dm=mf.init_guess_by_minao())
    e, c = mf.eig(fock, mf.get_ovlp())
    return mf.make_rdm1(c, mf.get_occ(e, c))


def first_order_errors(mol):
    """NMAE (%) of each candidate against the B3LYP/def2-SVP SCF density, and seconds."""
    mf = dft.RKS(mol, xc='b3lyp').density_fit()
    mf.verbose = 0
    mf.kernel()
    grids = dft.gen_grid.Grids(mol).build()
    ao = dft.numint.NumInt().eval_ao(mol, grids.coords)
    rho_ref = dft.numint.eval_rho(mol, ao, mf.make_rdm1())
    rho = {'atoms': atoms.molecule_density_on_points(mol, grids.coords),
           'minao': dft.numint.eval_rho(mol, ao, mf.init_guess_by_minao()),
           'huckel': dft.numint.eval_rho(mol, ao, mf.init_guess_by_huckel()),
           'def2-svp_b3lyp': dft.numint.eval_rho(mol, ao, one_diagonalization(mol, 'b3lyp'))}
    seconds = {}
    for basis in ('sto-3g', '6-31g'):
        small = mol.copy()
        small.basis = basis
        small.build(0, 0)
        t = time.perf_counter()
        dm = one_diagonalization(small, 'lda')
        seconds[basis] = time.perf_counter() - t
        rho[f'{basis}_lda'] = dft.numint.eval_rho(
            small, dft.numint.NumInt().eval_ao(small, grids.coords), dm)
    row = {f'nmae_{k}': nmae_percent(mol, grids, rho_ref, rho[k]) for k in CANDIDATES}
    return {**row, 'seconds_sto-3g': seconds['sto-3g'], 'seconds_6-31g': seconds['6-31g']}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('inputs', nargs='*', default=[DEV], help='xyz files or folders (dev set)')
    p.add_argument('--out', default=None,
                   help='write first_order_density.{txt,jsonl} here (a molecule already in the '
                        '.jsonl is not recomputed)')
    args = p.parse_args(argv)
    head = f'{"molecule":20s} {"atoms":>5s} ' + ' '.join(f'{k:>14s}' for k in CANDIDATES) \
        + f' {"s sto-3g":>9s} {"s 6-31g":>8s}'
    lines, rows = [head], []
    print(head, flush=True)
    stem = os.path.join(args.out, 'first_order_density') if args.out else None
    done = {}
    if stem and os.path.exists(stem + '.jsonl'):      # a run cut short resumes
        done = {r['molecule']: r for r in map(json.loads, open(stem + '.jsonl'))}
    elif stem:
        os.makedirs(args.out, exist_ok=True)
    for path in bench.molecule_files(args.inputs):
        name = os.path.splitext(os.path.basename(path))[0]
        row = done.get(name)
        if row is None:
            mol = molio.load_molecule(path, basis='def2-svp')
            row = {'molecule': name, 'atoms': mol.natm, **first_order_errors(mol)}
            if stem:
                with open(stem + '.jsonl', 'a') as f:
                    f.write(json.dumps(row) + '\n')
        rows.append(row)
        lines.append(f"{name:20s} {row['atoms']:5d} "
                     + ' '.join(f'{row["nmae_" + k]:14.2f}' for k in CANDIDATES)
                     + f' {row["seconds_sto-3g"]:9.2f} {row["seconds_6-31g"]:8.2f}')
        print(lines[-1], flush=True)
    lines.append(f'{"mean NMAE %":20s} {"":5s} ' + ' '.join(
        f'{np.mean([r["nmae_" + k] for r in rows]):14.2f}' for k in CANDIDATES))
    print(lines[-1])
    if stem:
        with open(stem + '.txt', 'w') as f:
            f.write('\n'.join(lines) + '\n')
        print(f'wrote {stem}.txt and .jsonl')


if __name__ == '__main__':
    main()
