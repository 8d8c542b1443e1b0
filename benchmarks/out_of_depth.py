"""Where the guess is out of its depth: stretched and broken bonds, lone atoms, unusual spin
states.  Each case runs the SCF from PySCF's own guesses (minao, atom, huckel, sap) and from
the deepscf guess twice: as shipped (domain.guess_gaps decides, falling back to minao where it
names a gap) and with the network forced (only model_gaps, the elements and ECPs, stop it).

    python benchmarks/out_of_depth.py [--out benchmarks/results] [--xc b3lyp] [--basis def2-svp]

Writes out_of_depth.txt (a row per case: cycles and final energy and <S^2> per guess, the
lowest state PySCF's guesses reach, what the rule decided) and out_of_depth.jsonl.  A final
state counts as higher when it lies more than 1e-6 Ha above the lowest.
"""
import argparse
import io
import os
import sys
import time

import numpy as np
from pyscf import dft, gto

from pyscf import deepscf
from pyscf.deepscf import domain, guess

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # the benchmarks' own modules
from report import write_table                                                 # noqa: E402

PYSCF_GUESSES = ('minao', 'atom', 'huckel', 'sap')


def _stretched(atoms, pair, length):
    """``atoms`` (list of (symbol, xyz Angstrom)) with atom pair[1] moved along the bond from
    atom pair[0] so that the two are ``length`` apart."""
    xyz = np.array([c for _, c in atoms], dtype=float)
    i, j = pair
    axis = xyz[j] - xyz[i]
    xyz[j] = xyz[i] + axis * length / np.linalg.norm(axis)
    return [(s, tuple(c)) for (s, _), c in zip(atoms, xyz)]


WATER = [('O', (0, 0, 0.1173)), ('H', (0, 0.7572, -0.4692)), ('H', (0, -0.7572, -0.4692))]
METHANE = [('C', (0, 0, 0)), ('H', (.63, .63, .63)), ('H', (-.63, -.63, .63)),
           ('H', (-.63, .63, -.63)), ('H', (.63, -.63, -.63))]
ETHANE = [('C', (0, 0, 0.765)), ('C', (0, 0, -0.765)),
          ('H', (1.02, 0, 1.16)), ('H', (-.51, .88, 1.16)), ('H', (-.51, -.88, 1.16)),
          ('H', (-1.02, 0, -1.16)), ('H', (.51, .88, -1.16)), ('H', (.51, -.88, -1.16))]
H2O2 = [('O', (0, .70, -.05)), ('O', (0, -.70, -.05)), ('H', (.86, .90, .40)),
        ('H', (-.86, -.90, .40))]


def ethylene(twist_deg):
    """Ethylene with one CH2 group turned by ``twist_deg`` about the C=C axis (z)."""
    t = np.radians(twist_deg)
    return [('C', (0, 0, .67)), ('C', (0, 0, -.67)), ('H', (0, .92, 1.23)), ('H', (0, -.92, 1.23)),
            ('H', (-.92 * np.sin(t), .92 * np.cos(t), -1.23)),
            ('H', (.92 * np.sin(t), -.92 * np.cos(t), -1.23))]


def ethane_split(d):
    """Ethane with its C-C bond at ``d`` Angstrom (the methyl groups move rigidly)."""
    s = (d - 1.53) / 2
    return [(sym, (x, y, z + s if z > 0 else z - s)) for sym, (x, y, z) in ETHANE]


def h2o2_split(d):
    """Hydrogen peroxide with its O-O bond at ``d`` Angstrom (the OH groups move rigidly)."""
    s = (d - 1.40) / 2
    return [(sym, (x, y + s if y > 0 else y - s, z)) for sym, (x, y, z) in H2O2]


def cases():
    """(name, atoms, charge, spin) of the set."""
    return [
        ('H2 2.5 A singlet', 'H 0 0 0; H 0 0 2.5', 0, 0),
        ('H2 1.2 A singlet', 'H 0 0 0; H 0 0 1.2', 0, 0),
        ('N2 2.2 A singlet', 'N 0 0 0; N 0 0 2.2', 0, 0),
        ('N2 2.2 A triplet', 'N 0 0 0; N 0 0 2.2', 0, 2),
        ('N2 1.6 A singlet', 'N 0 0 0; N 0 0 1.6', 0, 0),
        ('C2 2.0 A triplet', 'C 0 0 0; C 0 0 2.0', 0, 2),
        ('F2 2.2 A singlet', 'F 0 0 0; F 0 0 2.2', 0, 0),
        ('O2 2.4 A triplet', 'O 0 0 0; O 0 0 2.4', 0, 2),
        ('HF 2.0 A singlet', 'H 0 0 0; F 0 0 2.0', 0, 0),
        ('water, one O-H at 2.0 A', _stretched(WATER, (0, 1), 2.0), 0, 0),
        ('methane, one C-H at 2.2 A', _stretched(METHANE, (0, 1), 2.2), 0, 0),
        ('ethane, C-C at 2.4 A', ethane_split(2.4), 0, 0),
        ('ethane, C-C at 3.5 A', ethane_split(3.5), 0, 0),
        ('H2O2, O-O at 2.2 A', h2o2_split(2.2), 0, 0),
        ('ethylene twisted 90 singlet', ethylene(90), 0, 0),
        ('ethylene twisted 90 triplet', ethylene(90), 0, 2),
        ('O2 singlet 1.21 A', 'O 0 0 0; O 0 0 1.21', 0, 0),
        ('O2 triplet 1.21 A', 'O 0 0 0; O 0 0 1.21', 0, 2),
        ('CH2 singlet', 'C 0 0 0; H 0 .86 .55; H 0 -.86 .55', 0, 0),
        ('CH2 triplet', 'C 0 0 0; H 0 .99 .6; H 0 -.99 .6', 0, 2),
        ('CO triplet', 'C 0 0 0; O 0 0 1.13', 0, 2),
        ('water triplet', WATER, 0, 2),
        ('formaldehyde triplet', 'C 0 0 0; O 0 0 1.21; H 0 .94 -.59; H 0 -.94 -.59', 0, 2),
        ('CH3 radical', 'C 0 0 0; H 1.08 0 0; H -.54 .94 0; H -.54 -.94 0', 0, 1),
        ('OH radical', 'O 0 0 0; H 0 0 .97', 0, 1),
        ('NO radical', 'N 0 0 0; O 0 0 1.15', 0, 1),
        ('methane cation', METHANE, 1, 1),
        ('N2 quintet 1.1 A', 'N 0 0 0; N 0 0 1.1', 0, 4),
        ('C atom triplet', 'C 0 0 0', 0, 2),
        ('O atom triplet', 'O 0 0 0', 0, 2),
    ]


def state(mf):
    """(converged, e_tot Hartree, <S^2>, cycles) of a finished UKS run."""
    return {'converged': bool(mf.converged), 'e_tot': float(mf.e_tot),
            's2': float(mf.spin_square()[0]), 'cycles': int(mf.cycles)}


def run(mol, xc, init_guess, forced=False):
    """The UKS SCF from ``init_guess``; ``forced``: the deepscf guess with only the model's
    own limits (elements, ECPs) making it fall back."""
    mf = dft.UKS(mol, xc=xc)
    mf.verbose, mf.stdout = 2, io.StringIO()
    mf.init_guess = init_guess
    saved = {k: getattr(domain, k) for k in ('guess_gaps', 'method_gaps', 'output_gaps')}
    if forced:
        domain.guess_gaps = domain.model_gaps
        domain.method_gaps = domain.output_gaps = lambda *args: []
    try:
        mf.kernel()
    finally:
        for k, v in saved.items():
            setattr(domain, k, v)
    out = state(mf)
    out['fell_back'] = guess.FALLBACK_NOTE in mf.stdout.getvalue()
    return out


def run_case(name, atom, charge, spin, xc, basis):
    mol = gto.M(atom=atom, basis=basis, charge=charge, spin=spin, verbose=0)
    row = {'name': name, 'charge': charge, 'spin': spin, 'gaps': domain.guess_gaps(mol)}
    for key in PYSCF_GUESSES:
        try:
            row[key] = run(mol, xc, key)
        except Exception as err:            # a guess PySCF cannot make for this input
            row[key] = {'error': f'{type(err).__name__}: {err}'}
    converged = [row[k]['e_tot'] for k in PYSCF_GUESSES if row[k].get('converged')]
    row['lowest'] = min(converged) if converged else None
    t0 = time.perf_counter()
    row['deepscf'] = run(mol, xc, 'deepscf')
    row['deepscf']['seconds'] = time.perf_counter() - t0
    row['forced'] = run(mol, xc, 'deepscf', forced=True)
    for key in ('deepscf', 'forced'):
        r = row[key]
        r['higher'] = bool(row['lowest'] is not None and r['e_tot'] > row['lowest'] + 1e-6
                           and r['e_tot'] > row['minao']['e_tot'] + 1e-6)
    return row


def table(rows):
    head = (f'{"case":32s} {"fell back":>9s} | {"minao":>5s} {"deepscf":>7s} {"forced":>6s} '
            f'| {"E minao - lowest":>16s} {"deepscf - lowest":>16s} {"forced - lowest":>16s} '
            f'| {"S2 minao":>8s} {"deepscf":>7s} {"forced":>7s}')
    lines = [head, '-' * len(head)]
    for r in rows:
        low = r['lowest']
        d = lambda k: f'{1e3 * (r[k]["e_tot"] - low):13.3f} mHa'      # noqa: E731
        lines.append(f'{r["name"]:32s} {"yes" if r["deepscf"]["fell_back"] else "no":>9s} | '
                     f'{r["minao"]["cycles"]:5d} {r["deepscf"]["cycles"]:7d} '
                     f'{r["forced"]["cycles"]:6d} | {d("minao")} {d("deepscf")} {d("forced")} '
                     f'| {r["minao"]["s2"]:8.3f} {r["deepscf"]["s2"]:7.3f} '
                     f'{r["forced"]["s2"]:7.3f}')
    total = {k: sum(r[k]['cycles'] for r in rows) for k in ('minao', 'deepscf', 'forced')}
    higher = {k: [r['name'] for r in rows if r[k]['higher']] for k in ('deepscf', 'forced')}
    lines.append('-' * len(head))
    fell_back = sum(r['deepscf']['fell_back'] for r in rows)
    lines.append(f'{"all " + str(len(rows)) + " cases":32s} {fell_back:9d} | '
                 f'{total["minao"]:5d} {total["deepscf"]:7d} {total["forced"]:6d} | '
                 f'cycles / minao: deepscf {total["deepscf"] / total["minao"]:.2f}, forced '
                 f'{total["forced"] / total["minao"]:.2f}')
    lines.append(f'higher final state than minao and the lowest: deepscf {higher["deepscf"] or "none"}; '
                 f'forced {higher["forced"] or "none"}')
    return '\n'.join(lines), total, higher


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results'))
    p.add_argument('--xc', default='b3lyp')
    p.add_argument('--basis', default='def2-svp')
    p.add_argument('--only', help='run the cases whose name contains this text')
    args = p.parse_args(argv)
    deepscf.default_predictor()              # load the network before any clock
    rows = []
    for name, atom, charge, spin in cases():
        if args.only and args.only not in name:
            continue
        rows.append(run_case(name, atom, charge, spin, args.xc, args.basis))
        r = rows[-1]
        print(f'{name}: minao {r["minao"]["cycles"]}, deepscf {r["deepscf"]["cycles"]} '
              f'({"fell back" if r["deepscf"]["fell_back"] else "network"}), forced '
              f'{r["forced"]["cycles"]}', flush=True)
    text, total, higher = table(rows)
    print(text)
    if not args.only:
        write_table(rows, args.out, 'out_of_depth',
                    f'python benchmarks/out_of_depth.py --xc {args.xc} --basis {args.basis} '
                    f'(UKS, PySCF defaults otherwise)', text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
