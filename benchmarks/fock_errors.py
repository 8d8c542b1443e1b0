"""Which part of the predicted Fock matrix costs SCF cycles: J or V_xc?

For each molecule, the guess's Fock matrix h + J + V_xc is built four ways, J and V_xc each from
the predicted density (fit) or from the SCF density matrix (exact), and the SCF (PySCF's
defaults) is run from the orbitals of each.  Also printed: the size of the J and V_xc errors in
the occupied-virtual block of the SCF orbitals, the part that rotates orbitals.

    python benchmarks/fock_errors.py [--predictor oracle|network] [--xc pbe] MOL.xyz ...
"""
import argparse
import os
import platform

import numpy as np
from pyscf import dft, gto

from pyscf.deepscf.engine import fock as fock_mod
from pyscf.deepscf.predict import default_predictor, predict_density
from pyscf.deepscf.reference_predictors import OraclePredictor

DEV = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'molecules', 'dev')


def run_one(path, xc, basis, predictor_name):
    mol = gto.M(atom=path, basis=basis, verbose=0)
    ref = dft.RKS(mol, xc=xc).run()
    dm_ref = ref.make_rdm1()
    predictor = (OraclePredictor(dm_ref, 0.3) if predictor_name == 'oracle'
                 else default_predictor())
    density = predict_density(mol, predictor=predictor, verbose=0)
    mf = dft.RKS(mol, xc=xc)
    h1e, s1e = mf.get_hcore(), mf.get_ovlp()
    j_fit, j_exact = density.coulomb_matrix(mol), mf.get_j(mol, dm_ref)
    v_fit = fock_mod.xc_from_density(mf, density, grids=fock_mod.fock_grids(mol, 1))[3]
    mf.grids.build()
    v_exact = mf._numint.nr_rks(mol, mf.grids, xc, dm_ref)[2]

    def cycles(fock):
        mo_energy, mo_coeff = mf.eig(fock, s1e)
        dm = mf.make_rdm1(mo_coeff, mf.get_occ(mo_energy, mo_coeff))
        scf = dft.RKS(mol, xc=xc)
        scf.kernel(dm0=dm)
        return scf.cycles

    occ, vir = ref.mo_coeff[:, ref.mo_occ > 0], ref.mo_coeff[:, ref.mo_occ == 0]

    def ov_norm(dfock):
        return np.linalg.norm(occ.T @ dfock @ vir)

    return {'molecule': os.path.basename(path)[:-4], 'minao': ref.cycles,
            'fitJ_fitV': cycles(h1e + j_fit + v_fit), 'exactJ_fitV': cycles(h1e + j_exact + v_fit),
            'fitJ_exactV': cycles(h1e + j_fit + v_exact),
            'exactJ_exactV': cycles(h1e + j_exact + v_exact),
            'J_error_ov': ov_norm(j_fit - j_exact), 'V_error_ov': ov_norm(v_fit - v_exact)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('molecules', nargs='*')
    p.add_argument('--predictor', choices=('oracle', 'network'), default='oracle')
    p.add_argument('--xc', default='pbe')
    p.add_argument('--basis', default='def2-svp')
    args = p.parse_args(argv)
    paths = args.molecules or [os.path.join(DEV, m + '.xyz')
                               for m in ('methanol', 'urea', 'glycine', 'pyridine')]
    print(f'# {args.predictor}, {args.xc}/{args.basis}, {platform.node()}: SCF cycles from the '
          'Fock matrix with J and V_xc from the fit or exact; ||ov block of the error||')
    print(f'{"molecule":12s} {"minao":>5s} {"fit,fit":>7s} {"exJ,fitV":>8s} {"fitJ,exV":>8s} '
          f'{"exact":>5s} {"J err":>8s} {"V_xc err":>8s}')
    for path in paths:
        r = run_one(path, args.xc, args.basis, args.predictor)
        print(f'{r["molecule"]:12s} {r["minao"]:5d} {r["fitJ_fitV"]:7d} {r["exactJ_fitV"]:8d} '
              f'{r["fitJ_exactV"]:8d} {r["exactJ_exactV"]:5d} {r["J_error_ov"]:8.1e} '
              f'{r["V_error_ov"]:8.1e}', flush=True)


if __name__ == '__main__':
    main()
