"""Fuzz campaign: hundreds of odd inputs through the deepscf guess and NonSCF; nothing silent.

    python benchmarks/fuzz.py [--per-class N] [--seed S] [--out benchmarks/results]

Every case is a molecule and a method built by a generator of one class (random organic
molecules from random SMILES, ions, radicals and triplets, ghost atoms, ECPs and elements the
model lacks, ECPs on H-Cl atoms, unknown elements and X symbols, broken-symmetry singlets,
stretched and twisted bonds, symmetric molecules, Cartesian functions, Bohr units, symmetry,
Gaussian nuclei and QM/MM point charges, fragments 30 Å apart, squeezed, stretched and
near-coincident atoms, single atoms and linear molecules, a hand-changed electron count, broken
weight files, predictors that return NaN).

Reference states: the SCF of the case's method from each of PySCF's own guesses (REFERENCE_GUESSES,
PySCF's defaults: UHF/UKS break the spin symmetry by their init_guess_breaksym as PySCF does; a
guess PySCF refuses for the input is skipped). A state is the energy (Ha) and, for UHF/UKS,
<S^2>; two states are the same within 1e-6 Ha and 1e-3 in <S^2>. The lowest state is the
lowest converged one (PySCF's second-order solver from minao where none converges).

Outcomes of the deepscf guess (the same method object, init_guess='deepscf'):

  guess   same      ends in minao's state or in the lowest state
          fallback  logged its fallback to minao and ends in minao's state
          lower     converges to a state more than 1e-6 Ha below every PySCF guess's state
                    (reported, not a failure)
          error     a clear error: a message naming the problem (deepscf's, or PySCF's own where
                    PySCF refuses the input for minao too)
          WRONG     anything else: a higher state (above minao's and the lowest, or between
                    them), the same energy with another <S^2>, not converged where minao
                    converged, a non-finite energy, a point group the converged density breaks
                    (below), an exception from deep inside numpy/scipy/torch, a hang (> 300 s)

  Point group: for a molecule with symmetry (pyscf.symm.geom.detect_symm, QM/MM cases left
  out: the point charges break it), the dipole moment (a.u., about the symmetry origin) has
  components the group forbids: none for C1, the one along the mirror plane's normal for Cs,
  the part perpendicular to the main axis for Cn, Cnv and Coov, all of it for every other group.
  The converged deepscf SCF is WRONG where its forbidden part exceeds 1e-8 au, or ten times the
  largest of the reference SCFs ending in its state where the method itself breaks the group: PySCF's DFT grids
  have the cube's symmetry in the lab frame, so a C3 axis, or a mirror plane off the axes,
  is not exact (ammonia with its C3 axis along z, PBE on a level-1 grid: 4.9e-5 au
  perpendicular to the axis from minao, atom, huckel and sap alike; RHF: 5e-15 au). A lower
  state that breaks the group is reported with it (symmetry_note), not counted WRONG: an
  unrestricted SCF can go lower by breaking it.

Outcomes of NonSCF (where the class allows), against the lowest state E:

  nonscf  ok        finite energies, e_ks >= E - 1e-6 (the variational bound), and
                    |e_tot - E| within the class's tolerance (NONSCF_TOLERANCE_MHA)
          error     a clear error naming the problem (elements the model lacks, ECP atoms)
          WRONG     anything else

Every row records both runs' SCF cycles. Writes fuzz.txt (one row per class) and fuzz.jsonl
(one line per case) to --out; until the end, each case's row goes to a partial file there, from
which an interrupted run resumes.
"""
import argparse
import io
import json
import os
import sys
import tempfile
import time
import traceback

import numpy as np
from pyscf import dft, scf

from pyscf import deepscf
from pyscf.deepscf.engine import model as nn_model

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # the campaign's sibling modules
from fuzz_cases import BadPredictor, generate                                  # noqa: E402
from fuzz_judge import (NONSCF_TOLERANCE_MHA, SAME_ENERGY_HA, SYMMETRY_TOL_AU,  # noqa: E402,F401
                        Hang, clear, deadline, forbidden_dipole, judge_state, judge_symmetry,
                        lowest, point_group, state_of)

REFERENCE_GUESSES = ('minao', 'atom', 'huckel', 'sap')


# ------------------------------------------------------------------------------- running

def make_mf(mol, c):
    """The case's mean-field object; KS on a level-1 grid (the same for every guess: the
    campaign tests what the guess does, and the default grid made it 3x slower)."""
    mf = _method(mol, c)
    if hasattr(mf, 'grids'):
        mf.grids.level = 1
    if c.get('breaksym') is not None:
        mf.init_guess_breaksym = c['breaksym']
    return mf


def _method(mol, c):
    method = c['method']
    if isinstance(method, tuple):                    # ('qmmm', n): RKS with n point charges
        from pyscf import qmmm
        rng = np.random.default_rng(method[1])
        coords = rng.uniform(-6, 6, (method[1], 3)) + [8, 0, 0]
        return qmmm.mm_charge(dft.RKS(mol, xc=c['xc']), coords, rng.uniform(-.8, .8, method[1]))
    return {'rks': lambda: dft.RKS(mol, xc=c['xc']), 'uks': lambda: dft.UKS(mol, xc=c['xc']),
            'roks': lambda: dft.ROKS(mol, xc=c['xc']), 'rhf': lambda: scf.RHF(mol),
            'uhf': lambda: scf.UHF(mol)}[method]()


def make_predictor(c):
    if c['predictor'] is None:
        return None
    kind, arg = c['predictor']
    if kind == 'bad':
        return BadPredictor(arg)
    return nn_model.NetworkPredictor(arg, device='cpu')       # raises for a broken file


# ------------------------------------------------------------------------------- one case

def run_case(c):
    """One case's row: the reference states, the deepscf guess's outcome and NonSCF's."""
    row = {'class': c['class'], 'name': c['name'], 'method': str(c['method'])}
    t0 = time.perf_counter()
    row.update(run_guess(c))
    if c['nonscf']:
        row.update(run_nonscf(c, row.get('e_lowest')))
    row['seconds'] = round(time.perf_counter() - t0, 2)
    return row


def run_reference(c, key):
    """The SCF of the case's method from PySCF's guess ``key``: (mf, None), or (None, the
    exception) where PySCF refuses the input or the guess, or the run hangs."""
    try:
        mf = make_mf(c['build'](), c)
        mf.init_guess = key
        with deadline():
            mf.kernel()
        return mf, None
    except (Exception, Hang) as err:
        return None, err


def references(c, group):
    """The SCF from each of REFERENCE_GUESSES: {guess: state_of(...) plus the forbidden dipole,
    or {'refused': message}}, and minao's exception where minao is refused. Where none
    converges, PySCF's second-order solver from minao is added as 'newton'."""
    states, minao_err = {}, None
    for key in REFERENCE_GUESSES:
        mf, err = run_reference(c, key)
        if mf is None:
            states[key] = {'refused': f'{type(err).__name__}: {err}'}
            minao_err = err if key == 'minao' else minao_err
            continue
        states[key] = state_of(mf)
        if group is not None and mf.converged:
            states[key]['forbidden_dipole_au'] = forbidden_dipole(mf, group)
    if minao_err is None and not any(s.get('converged') for s in states.values()):
        try:
            mf = make_mf(c['build'](), c).newton()
            with deadline():
                mf.kernel()
            states['newton'] = state_of(mf)
            if group is not None and mf.converged:
                states['newton']['forbidden_dipole_au'] = forbidden_dipole(mf, group)
        except (Exception, Hang) as err:
            states['newton'] = {'refused': f'{type(err).__name__}: {err}'}
    return states, minao_err


def run_guess(c):
    """The references, the deepscf SCF, and the guess's outcome (module docstring)."""
    try:
        predictor = make_predictor(c)
    except Exception as err:
        return {'guess': 'error' if clear(err) else 'WRONG', 'why': f'{type(err).__name__}: {err}'}
    group = None
    try:
        mol = c['build']()
        if not isinstance(c['method'], tuple):       # QM/MM: the point charges break the group
            group = point_group(mol)
    except Exception:
        pass                                   # PySCF refuses the molecule: references say so
    states, minao_err = references(c, group)
    key, low = lowest(states)
    out = {'point_group': group[0] if group else None, 'references': states,
           'cycles_minao': states['minao'].get('cycles')}
    if low is not None:
        out['e_lowest'], out['lowest_from'] = low['e_tot'], key
    log = io.StringIO()
    try:
        mf = make_mf(c['build'](), c)
        mf.verbose, mf.stdout = 2, log                  # WARN: the fallback's message
        mf.init_guess = 'deepscf'
        with deadline(), deepscf.using_predictor(predictor or deepscf.default_predictor()):
            mf.kernel()
    except Hang as err:
        return out | {'guess': 'WRONG', 'why': f'hang: {err}'}
    except Exception as err:
        why = f'{type(err).__name__}: {err}'
        if minao_err is not None and type(err) is type(minao_err):
            return out | {'guess': 'error', 'why': f'PySCF refuses: {why}'}
        return out | {'guess': 'error' if clear(err) else 'WRONG', 'why': why,
                      'trace': traceback.format_exc(limit=-3)}
    fallback = [line for line in log.getvalue().splitlines()
                if 'falling back to the minao guess' in line]
    mine = state_of(mf)
    out |= {'deepscf': mine, 'cycles_deepscf': mine['cycles']}
    if fallback:
        out['fallback_message'] = fallback[0].strip()
    out.update(judge_state(mine, states, minao_err, bool(fallback)))
    if out['guess'] in ('same', 'fallback', 'lower') and group is not None and mf.converged:
        out.update(judge_symmetry(mf, group, mine, states, low, lower=out['guess'] == 'lower'))
    return out


def newton_reference(c, dm0=None):
    """The SCF energy (Ha) by PySCF's second-order solver from ``dm0``, for NonSCF's check where
    e_ks falls below every reference state (a lower state may exist that no PySCF guess
    reaches); None if it does not converge."""
    try:
        mf = make_mf(c['build'](), c).newton()
        with deadline():
            mf.kernel(dm0=dm0)
    except (Exception, Hang):
        return None
    return float(mf.e_tot) if mf.converged else None


def run_nonscf(c, e_lowest):
    """NonSCF's outcome against the lowest state ``e_lowest`` (Ha); where the guess part found
    none, PySCF's second-order solver from minao gives it."""
    tolerance = NONSCF_TOLERANCE_MHA[c['class']]
    out = {'nonscf_tolerance_mHa': tolerance}
    try:
        predictor = make_predictor(c)
        mf = deepscf.NonSCF(make_mf(c['build'](), c), predictor=predictor)
        log = io.StringIO()
        mf.verbose, mf.stdout = 2, log
        with deadline():
            mf.kernel()
    except Hang as err:
        return out | {'nonscf': 'WRONG', 'nonscf_why': f'hang: {err}'}
    except Exception as err:
        return out | {'nonscf': 'error' if clear(err) else 'WRONG',
                      'nonscf_why': f'{type(err).__name__}: {err}'}
    # e_harris is None where NonSCF has no Harris energy (open shells)
    energies = {'e_tot': mf.e_tot, 'e_ks': mf.e_ks, 'e_harris': mf.e_harris}
    bad = [k for k, v in energies.items() if (v is None and k != 'e_harris')
           or (v is not None and not np.isfinite(v))]
    if bad:
        return out | {'nonscf': 'WRONG', 'nonscf_why': f'non-finite or missing {bad}: {energies}'}
    out['nonscf_warned'] = 'trained on neutral closed-shell' in log.getvalue()  # ions, spins
    if e_lowest is None:
        e_lowest = newton_reference(c)
    if e_lowest is not None and mf.e_ks < e_lowest - SAME_ENERGY_HA:
        # the bound holds against the lowest state: an SCF from NonSCF's own density may find
        # one below every PySCF guess's (an O atom forced into a singlet)
        lower = newton_reference(c, dm0=mf.make_rdm1())
        if lower is not None and lower < e_lowest - SAME_ENERGY_HA:
            out['nonscf_lower_state'] = f'the SCF from NonSCF\'s density ends ' \
                                        f'{1e3 * (e_lowest - lower):.1f} mHa below every ' \
                                        f'PySCF guess\'s state; compared with it'
            e_lowest = lower
    if e_lowest is None:
        return out | {'nonscf': 'WRONG', 'nonscf_why': 'no converged SCF to compare with'}
    out |= {'nonscf_e_tot_mHa': 1e3 * (mf.e_tot - e_lowest),
            'nonscf_e_ks_mHa': 1e3 * (mf.e_ks - e_lowest)}
    if mf.e_ks < e_lowest - SAME_ENERGY_HA:
        return out | {'nonscf': 'WRONG', 'nonscf_why': f'e_ks {out["nonscf_e_ks_mHa"]:.3f} mHa '
                                                       f'below the lowest SCF state'}
    if abs(out['nonscf_e_tot_mHa']) > tolerance:
        return out | {'nonscf': 'WRONG', 'nonscf_why': f'e_tot {out["nonscf_e_tot_mHa"]:.1f} mHa '
                                                       f'from the lowest SCF state, beyond the '
                                                       f'class\'s {tolerance:.0f} mHa'}
    return out | {'nonscf': 'ok'}


# ------------------------------------------------------------------------------- campaign

GUESS_OUTCOMES = ('same', 'fallback', 'lower', 'error', 'WRONG')
NONSCF_OUTCOMES = ('ok', 'error', 'WRONG')


def table(rows):
    """One line per class and one for all: counts of each outcome, SCF cycles summed over the
    cases where both guesses ran (deepscf, minao, their ratio), NonSCF's |e_tot - E| (mHa,
    median and max over the cases that gave a number) and the class's tolerance."""
    classes = list(dict.fromkeys(r['class'] for r in rows))
    head = (f'{"class":44s} {"cases":>5s} {"same":>5s} {"fallb":>5s} {"lower":>5s} '
            f'{"error":>5s} {"WRONG":>5s} | {"cyc ds":>6s} {"minao":>6s} {"ratio":>5s} | '
            f'{"NonSCF":>6s} {"ok":>4s} {"error":>5s} {"WRONG":>5s} '
            f'{"|e_tot-E| mHa med, max":>22s} {"tol":>5s}')
    lines = [head, '-' * len(head)]
    total = {}
    for cls in classes + ['all']:
        rs = rows if cls == 'all' else [r for r in rows if r['class'] == cls]
        count = {k: sum(r.get('guess') == k for r in rs) for k in GUESS_OUTCOMES}
        both = [r for r in rs if r.get('cycles_deepscf') is not None
                and r.get('cycles_minao') is not None]
        cyc_ds = sum(r['cycles_deepscf'] for r in both)
        cyc_minao = sum(r['cycles_minao'] for r in both)
        ratio = f'{cyc_ds / cyc_minao:.2f}' if cyc_minao else '-'
        ns = [r for r in rs if 'nonscf' in r]
        ncount = {k: sum(r['nonscf'] == k for r in ns) for k in NONSCF_OUTCOMES}
        err = [abs(r['nonscf_e_tot_mHa']) for r in ns if r.get('nonscf_e_tot_mHa') is not None]
        spread = f'{np.median(err):.2f}, {max(err):.2f}' if err else '-'
        tol = f'{NONSCF_TOLERANCE_MHA[cls]:.0f}' if cls in NONSCF_TOLERANCE_MHA else '-'
        lines.append(f'{cls:44s} {len(rs):5d} ' + ' '.join(f'{count[k]:5d}' for k in
                                                           GUESS_OUTCOMES)
                     + f' | {cyc_ds:6d} {cyc_minao:6d} {ratio:>5s} | {len(ns):6d} '
                     f'{ncount["ok"]:4d} {ncount["error"]:5d} {ncount["WRONG"]:5d} '
                     f'{spread:>22s} {tol:>5s}')
        total = count | {'nonscf_' + k: v for k, v in ncount.items()} | {
            'cycles_deepscf': cyc_ds, 'cycles_minao': cyc_minao}
    return '\n'.join(lines), total


def run(per_class=None, seed=0, out=None, progress=True):
    """Generate and run the cases (the first ``per_class`` of each class, or all); returns
    (rows, table text, totals)."""
    # rows are appended to a partial file as they come: an interrupted campaign resumes
    partial = (os.path.join(out, f'fuzz_partial_seed{seed}_{per_class or "all"}.jsonl')
               if out else None)
    done = {}
    if partial and os.path.exists(partial):
        with open(partial) as f:
            done = {r['case']: r for r in map(json.loads, f)}
    with tempfile.TemporaryDirectory() as folder:
        cases = [c for cs in generate(np.random.default_rng(seed), folder).values()
                 for c in cs[:per_class]]
        rows = []
        for k, c in enumerate(cases):
            key = f'{k}:{c["class"]}:{c["name"]}'
            if key in done:
                rows.append(done[key])
                continue
            rows.append({'case': key, **run_case(c)})
            if partial:
                os.makedirs(out, exist_ok=True)
                with open(partial, 'a') as f:
                    f.write(json.dumps(rows[-1], default=str) + '\n')
            if progress:
                r = rows[-1]
                why = '  '.join(r.get(w, '') for w, o in (('why', 'guess'),
                                                          ('nonscf_why', 'nonscf'))
                                if r.get(o) == 'WRONG')
                print(f'[{k + 1}/{len(cases)}] {r["class"]}: {r["name"]}: {r["guess"]}'
                      f'{" / NonSCF " + r["nonscf"] if "nonscf" in r else ""} '
                      f'({r["seconds"]} s){"  " + why if why else ""}', flush=True)
    text, totals = table(rows)
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, 'fuzz.jsonl'), 'w') as f:
            for r in rows:
                f.write(json.dumps(r, default=str) + '\n')
        with open(os.path.join(out, 'fuzz.txt'), 'w') as f:
            f.write(f'# python benchmarks/fuzz.py --seed {seed}'
                    f'{f" --per-class {per_class}" if per_class else ""}; '
                    f'{len(rows)} cases\n' + text + '\n')
        if partial and os.path.exists(partial):
            os.remove(partial)
    return rows, text, totals


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--per-class', type=int, default=None, help='first N cases of each class')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results'))
    args = p.parse_args(argv)
    rows, text, totals = run(args.per_class, args.seed, args.out)
    print(text)
    return 1 if totals['WRONG'] or totals['nonscf_WRONG'] else 0


if __name__ == '__main__':
    sys.exit(main())
