"""NonSCF off its calibrated domain: radicals with UHF, UKS, ROHF and ROKS, closed-shell ions
with RKS and RHF, and hybrid functionals on neutral closed shells (def2-SVP, bundled network).

    python benchmarks/nonscf_off_domain.py [--out benchmarks/results]

Outside the domain e_tot is e_ks, the variational energy of NonSCF's output density matrix (an
upper bound to the SCF energy).  For each case: e_tot, e_ks and e_harris_output minus PySCF's
SCF energy from its default guess (mHa), and the check that e_harris_output reproduces the SCF
energy at the SCF's own converged density (nonscf.harris_energies).  Writes
nonscf_off_domain.txt and .jsonl.
"""
import argparse
import os
import sys

from pyscf import dft, gto, scf

from pyscf import deepscf
from pyscf.deepscf import nonscf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # the benchmarks' own modules
from report import write_table                                                 # noqa: E402

RADICALS = {'OH': ('O 0 0 0; H 0 0 .97', 1),
            'CH3': ('C 0 0 0; H 1.08 0 0; H -.54 .94 0; H -.54 -.94 0', 1),
            'NO': ('N 0 0 0; O 0 0 1.15', 1),
            'O2 triplet': ('O 0 0 0; O 0 0 1.21', 2),
            'CH2 triplet': ('C 0 0 0; H 0 .99 .6; H 0 -.99 .6', 2),
            'NH2': ('N 0 0 0; H 0 .8 .6; H 0 -.8 .6', 1)}
IONS = {'OH-': ('O 0 0 0; H 0 0 .97', -1),
        'NH4+': ('N 0 0 0; H .59 .59 .59; H -.59 -.59 .59; H -.59 .59 -.59; H .59 -.59 -.59', 1),
        'HCOO-': ('C 0 0 .3; O 0 1.12 -.2; O 0 -1.12 -.2; H 0 0 1.42', -1),
        'CH3NH3+': ('C 0 0 0; N 0 0 1.50; H 1.03 0 -.36; H -.52 .89 -.36; H -.52 -.89 -.36; '
                    'H .96 0 1.86; H -.48 .83 1.86; H -.48 -.83 1.86', 1)}
CLOSED = {'water': 'O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692',
          'methanol': 'C -.047 .66 0; O -.047 -.76 0; H -1.09 .98 0; H .44 1.06 .89; '
                      'H .44 1.06 -.89; H .87 -1.06 0'}
METHODS = {'UHF': scf.UHF, 'UKS': lambda m: dft.UKS(m, xc='pbe'), 'ROHF': scf.ROHF,
           'ROKS': lambda m: dft.ROKS(m, xc='pbe'), 'RHF': scf.RHF,
           'RKS': lambda m: dft.RKS(m, xc='pbe'), 'RKS B3LYP': lambda m: dft.RKS(m, xc='b3lyp')}


def cases():
    for name, (atom, spin) in RADICALS.items():
        for method in ('UHF', 'UKS', 'ROHF', 'ROKS'):
            yield 'radical', name, atom, 0, spin, method
    for name, (atom, charge) in IONS.items():
        for method in ('RHF', 'RKS'):
            yield 'closed-shell ion', name, atom, charge, 0, method
    for name, atom in CLOSED.items():
        yield 'hybrid, neutral closed shell', name, atom, 0, 0, 'RKS B3LYP'


def run_case(kind, name, atom, charge, spin, method, basis='def2-svp'):
    mol = gto.M(atom=atom, basis=basis, charge=charge, spin=spin, verbose=0)
    ref = METHODS[method](mol).run(conv_tol=1e-10)
    dm = ref.make_rdm1()
    at_scf = nonscf.harris_energies(ref, dm, ref.get_veff(mol, dm))[1]
    ns = deepscf.NonSCF(METHODS[method](mol))
    ns.verbose = 0
    ns.kernel()
    mha = lambda e: None if e is None else 1e3 * (e - ref.e_tot)      # noqa: E731
    return {'kind': kind, 'name': name, 'method': method, 'scf_converged': bool(ref.converged),
            'e_tot_mHa': mha(ns.e_tot), 'e_ks_mHa': mha(ns.e_ks),
            'e_harris_output_mHa': mha(ns.e_harris_output),
            'e_harris_mHa': mha(ns.e_harris), 'output_harris_at_scf_mHa': mha(at_scf)}


def table(rows):
    head = (f'{"kind":30s} {"molecule":12s} {"method":10s} {"e_tot - E":>10s} {"e_ks - E":>9s} '
            f'{"Harris(out) - E":>15s} {"Harris(out) at SCF":>18s}')
    lines = [head, '-' * len(head)]
    for r in rows:
        lines.append(f'{r["kind"]:30s} {r["name"]:12s} {r["method"]:10s} {r["e_tot_mHa"]:10.2f} '
                     f'{r["e_ks_mHa"]:9.2f} {r["e_harris_output_mHa"]:15.2f} '
                     f'{r["output_harris_at_scf_mHa"]:18.1e}')
    lines.append('-' * len(head))
    groups = {}
    for r in rows:
        key = (r['kind'], 'HF' if 'HF' in r['method'] else 'KS')
        groups.setdefault(key, []).append(r['e_tot_mHa'])
    for (kind, family), errs in groups.items():
        lines.append(f'{kind:30s} {family:3s} e_tot - E: {min(errs):.2f} to {max(errs):.2f} mHa '
                     f'({len(errs)} cases)')
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results'))
    args = p.parse_args(argv)
    rows = []
    for c in cases():
        rows.append(run_case(*c))
        print(rows[-1], flush=True)
    text = table(rows)
    print(text)
    write_table(rows, args.out, 'nonscf_off_domain',
                'python benchmarks/nonscf_off_domain.py (def2-SVP, bundled network; mHa)', text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
