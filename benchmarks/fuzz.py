"""Fuzz campaign: hundreds of odd inputs through the deepscf guess and NonSCF; nothing silent.

    python benchmarks/fuzz.py [--per-class N] [--seed S] [--out benchmarks/results]

Every case is a molecule and a method built by a generator of one class (random organic
molecules from random SMILES, ions, radicals and triplets, ghost atoms, ECPs and elements the
model lacks, Cartesian functions, Bohr units, symmetry, Gaussian nuclei and QM/MM point charges,
fragments 30 Å apart, squeezed, stretched and near-coincident atoms, single atoms and linear
molecules, a hand-changed electron count, broken weight files, predictors that return NaN).
Outcomes:

  guess   same      minao and deepscf end in the same state (|ΔE| < 1e-6 Ha, same convergence)
          fallback  the deepscf run logged its fallback to minao and ended in the same state
          error     a clear error: a message naming the problem (deepscf's, or PySCF's own where
                    PySCF refuses the input for minao too)
          WRONG     anything else: another final state without a logged fallback, a non-finite
                    energy, an exception from deep inside numpy/torch, a hang (> 300 s)
  nonscf  ok        finite energies and e_ks >= E(SCF) - 1e-6 (the variational bound); for
                    ions and open shells with NonSCF's logged warning that its energies can be
                    tens of mHa off (the network is given no charge or spin)
          error     a clear error naming the problem
          WRONG     anything else

Writes fuzz.txt (one row per class) and fuzz.jsonl (one line per case) to --out; until the
end, each case's row goes to a partial file there, from which an interrupted run resumes.
"""
import argparse
import io
import json
import os
import signal
import sys
import tempfile
import time
import traceback

import numpy as np
from pyscf import dft, gto, scf

from pyscf import deepscf
from pyscf.deepscf.engine import model as nn_model
from pyscf.deepscf.predictors import ZeroPredictor

WATER = [('O', (0, 0, 0.1173)), ('H', (0, 0.7572, -0.4692)), ('H', (0, -0.7572, -0.4692))]
SMALL = {'methane': 'C', 'ammonia': 'N', 'methanol': 'CO', 'formaldehyde': 'C=O',
         'acetonitrile': 'CC#N', 'chloromethane': 'CCl', 'methanethiol': 'CS',
         'fluoroethene': 'C=CF', 'phosphine': 'P', 'formamide': 'NC=O'}
FRAGMENTS = ['C', 'CC', 'O', 'N', 'C(=O)', 'c1ccccc1', 'C#N', 'S', 'Cl', 'F', 'C=C', 'OC',
             'N(C)', 'C(F)(F)', 'P(=O)(O)', 'S(=O)(=O)', 'c1ccncc1', 'C1CC1', 'C(Cl)', 'OO']
TIMEOUT_S = 300


# ------------------------------------------------------------------------------- molecules

def smiles_mol(smiles, basis='sto-3g', **kw):
    from pyscf.deepscf.training.data import smiles_geometry
    symbols, coords = smiles_geometry(smiles)
    return gto.M(atom=list(zip(symbols, coords)), basis=basis, verbose=0, **kw)


def random_smiles(rng):
    """A random valid SMILES of 2-4 fragments (RDKit-sanitized), up to 12 heavy atoms."""
    from rdkit import Chem, RDLogger
    RDLogger.DisableLog('rdApp.*')              # rejected random SMILES are expected
    while True:
        parts = rng.choice(FRAGMENTS, rng.integers(2, 5))
        mol = Chem.MolFromSmiles(''.join(parts))
        if mol is not None and mol.GetNumHeavyAtoms() <= 12:
            return Chem.MolToSmiles(mol)


def case(cls, name, build, method='rks', xc='pbe', nonscf=True, predictor=None):
    return {'class': cls, 'name': name, 'build': build, 'method': method, 'xc': xc,
            'nonscf': nonscf, 'predictor': predictor}


class BadPredictor(ZeroPredictor):
    """Free atoms plus a residual spoiled by NaN, Inf or a wrong shape."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def predict(self, mol):
        grid, residual = super().predict(mol)
        if self.kind == 'shape':
            return grid, residual[:-1]
        residual.flat[len(residual.flat) // 2] = {'nan': np.nan, 'inf': np.inf}[self.kind]
        return grid, residual


def bad_weights(kind, folder):
    """A weights file that must be refused: corrupt bytes, truncated, another format version."""
    path = os.path.join(folder, f'{kind}.pt')
    good = open(nn_model.DEFAULT_WEIGHTS, 'rb').read()
    if kind == 'corrupt':
        data = bytearray(good)
        data[len(data) // 3:len(data) // 3 + 4096] = os.urandom(4096)
        open(path, 'wb').write(bytes(data))
    elif kind == 'truncated':
        open(path, 'wb').write(good[:len(good) // 2])
    elif kind == 'empty':
        open(path, 'wb').close()
    else:                                                    # 'version' or 'elements'
        meta = {'format_version': 99} if kind == 'version' else {'elements': ['H', 'C']}
        nn_model.update_metadata(nn_model.DEFAULT_WEIGHTS, meta, out=path)
    return path


def generate(rng, folder):
    """Every class's cases, in a fixed order (a class's first cases are its smallest)."""
    cases = {}
    add = lambda c: cases.setdefault(c['class'], []).append(c)             # noqa: E731
    # smallest first (heavy atoms, then length), so that the test suite's first cases are quick
    smiles = sorted((random_smiles(rng) for _ in range(60)),
                    key=lambda s: (sum(c.isalpha() and c != 'H' for c in s), len(s)))
    for k, smi in enumerate(smiles):
        add(case('random organic (SMILES)', smi, lambda s=smi: smiles_mol(s),
                 nonscf=k % 3 == 0))
    for name, smi in SMALL.items():
        for charge in (1, -1):
            add(case('cations and anions', f'{name} {charge:+d}',
                     lambda s=smi, q=charge: smiles_mol(s, charge=q, spin=None),
                     method='uks' if name != 'methane' else 'rks', nonscf=charge > 0))
    for name, atom, spin in (('CH3 radical', 'C 0 0 0; H 1.08 0 0; H -.54 .94 0; H -.54 -.94 0', 1),
                             ('O2 triplet', 'O 0 0 0; O 0 0 1.21', 2),
                             ('CH2 triplet', 'C 0 0 0; H 0 .99 .6; H 0 -.99 .6', 2),
                             ('NO radical', 'N 0 0 0; O 0 0 1.15', 1),
                             ('OH radical', 'O 0 0 0; H 0 0 .97', 1)):
        for method in ('uks', 'roks', 'uhf'):
            add(case('radicals and triplets', f'{name} {method}',
                     lambda a=atom, s=spin: gto.M(atom=a, basis='6-31g', spin=s, verbose=0),
                     method=method, xc='b3lyp', nonscf=method != 'uhf'))
    dimer = WATER + [(s, (x + 2.9, y, z)) for s, (x, y, z) in WATER]
    for k, ghost in enumerate(([0, 1, 2], [3, 4, 5], [1], [0], [4, 5])):
        atoms = [(('ghost-' + s) if i in ghost else s, c) for i, (s, c) in enumerate(dimer)]
        for basis in ('sto-3g', 'def2-svp'):
            add(case('ghost atoms (BSSE)', f'water dimer, ghosts {ghost}, {basis}',
                     lambda a=atoms, b=basis: gto.M(atom=a, basis=b, verbose=0),
                     nonscf=basis == 'sto-3g'))
    for name, atom, basis in (('HBr', 'H 0 0 0; Br 0 0 1.41', 'def2-svp'),
                              ('CH3I (ECP)', 'C 0 0 0; I 0 0 2.14; H 1 0 -.36; H -.5 .87 -.36; '
                                             'H -.5 -.87 -.36', 'def2-svp'),
                              ('HI (ECP)', 'H 0 0 0; I 0 0 1.61', 'lanl2dz'),
                              ('NaCl', 'Na 0 0 0; Cl 0 0 2.36', 'def2-svp'),
                              ('SiH4', 'Si 0 0 0; H .85 .85 .85; H -.85 -.85 .85; '
                                       'H -.85 .85 -.85; H .85 -.85 -.85', 'sto-3g'),
                              ('water + Ar', 'O 0 0 0; H 0 .76 -.47; H 0 -.76 -.47; Ar 3 0 0',
                               'sto-3g'),
                              ('BH3', 'B 0 0 0; H 1.19 0 0; H -.6 1.03 0; H -.6 -1.03 0',
                               'sto-3g'),
                              ('He', 'He 0 0 0', 'sto-3g')):
        for method in ('rks', 'rhf'):
            add(case('ECPs and elements the model lacks', f'{name} {method}',
                     lambda a=atom, b=basis: gto.M(atom=a, basis=b, verbose=0),
                     method=method, nonscf=method == 'rks'))
    for name, smi in list(SMALL.items())[:5]:
        for basis in ('sto-3g', 'def2-svp'):
            add(case('Cartesian functions (cart=True)', f'{name} {basis} cart=True',
                     lambda s=smi, b=basis: smiles_mol(s, b, cart=True), nonscf=basis == 'sto-3g'))
            add(case("unit='Bohr'", f'{name} {basis} in bohr',
                     lambda s=smi, b=basis: gto.M(atom=[(a, np.array(c) / 0.52917721092)
                                                        for a, c in _angstrom_atoms(s)],
                                                  unit='Bohr', basis=b, verbose=0),
                     nonscf=basis == 'sto-3g'))
    for name, atom in (('water', WATER), ('methane', 'C 0 0 0; H .63 .63 .63; H -.63 -.63 .63; '
                                          'H -.63 .63 -.63; H .63 -.63 -.63'),
                       ('ammonia', 'N 0 0 0; H 0 -.94 -.38; H .81 .47 -.38; H -.81 .47 -.38'),
                       ('benzene', '; '.join(f'C {1.39*np.cos(k*np.pi/3):.4f} '
                                             f'{1.39*np.sin(k*np.pi/3):.4f} 0' for k in range(6))
                        + '; ' + '; '.join(f'H {2.47*np.cos(k*np.pi/3):.4f} '
                                           f'{2.47*np.sin(k*np.pi/3):.4f} 0' for k in range(6))),
                       ('ethene', 'C 0 0 .67; C 0 0 -.67; H 0 .92 1.23; H 0 -.92 1.23; '
                                  'H 0 .92 -1.23; H 0 -.92 -1.23')):
        for method in ('rks', 'rhf'):
            add(case('symmetry on', f'{name} {method}',
                     lambda a=atom: gto.M(atom=a, basis='sto-3g', symmetry=True, verbose=0),
                     method=method, nonscf=method == 'rks'))
    for k in range(5):
        add(case('Gaussian nuclei, QM/MM point charges', f'water, Gaussian nuclear model {k}',
                 lambda: _gaussian_nuclei(), nonscf=k == 0))
        add(case('Gaussian nuclei, QM/MM point charges', f'water with {2 + 3 * k} MM charges',
                 lambda n=2 + 3 * k: gto.M(atom=WATER, basis='sto-3g', verbose=0),
                 method=('qmmm', 2 + 3 * k), nonscf=False))
    for k, (a, b) in enumerate((('O', 'C'), ('CO', 'N'), ('C=O', 'CCl'), ('S', 'F'))):
        for gap in (30., 60.):
            add(case('fragments far apart', f'{a} + {b} {gap:.0f} Å apart',
                     lambda a=a, b=b, g=gap: _far_pair(a, b, g), nonscf=gap == 30.))
    for name, smi in list(SMALL.items())[:5]:
        for label, scale in (('squeezed x0.8', 0.8), ('stretched x1.5', 1.5),
                             ('stretched x2.5 (UKS)', 2.5)):
            add(case('squeezed, stretched, near-coincident atoms', f'{name} {label}',
                     lambda s=smi, f=scale: _scaled(s, f), method='uks' if scale > 2 else 'rks',
                     nonscf=scale == 0.8))
    for d in (0.05, 0.2, 0.4):
        add(case('squeezed, stretched, near-coincident atoms', f'H...H {d} Å in water',
                 lambda d=d: gto.M(atom=WATER + [('H', (0, 0.7572, -0.4692 + d))],
                                   basis='sto-3g', spin=1, verbose=0),
                 method='uks', nonscf=False))
    for name, atom, spin in (('H atom', 'H 0 0 0', 1), ('C atom', 'C 0 0 0', 2),
                             ('O atom', 'O 0 0 0', 2), ('N atom', 'N 0 0 0', 3),
                             ('Cl atom', 'Cl 0 0 0', 1), ('H2', 'H 0 0 0; H 0 0 .74', 0),
                             ('CO2', 'C 0 0 0; O 0 0 1.16; O 0 0 -1.16', 0),
                             ('HCN', 'H 0 0 -1.07; C 0 0 0; N 0 0 1.16', 0),
                             ('C2H2', 'C 0 0 .6; C 0 0 -.6; H 0 0 1.66; H 0 0 -1.66', 0),
                             ('F2', 'F 0 0 0; F 0 0 1.41', 0)):
        for method in ('rks', 'uks') if spin == 0 else ('uks', 'roks'):
            add(case('single atoms, H2, linear molecules', f'{name} {method}',
                     lambda a=atom, s=spin: gto.M(atom=a, basis='6-31g', spin=s, verbose=0),
                     method=method, nonscf=method in ('rks', 'uks')))
    for delta, spin in ((-2, 0), (2, 0), (-1, 1), (1, 1)):
        for name in ('water', 'methanol'):
            add(case('mol.nelectron changed by hand', f'{name} nelectron {delta:+d}',
                     lambda n=name, d=delta, s=spin: _nelectron(n, d, s),
                     method='uks' if spin else 'rks', nonscf=True))
    for kind in ('corrupt', 'truncated', 'empty', 'version', 'elements'):
        add(case('broken weight files', f'{kind} weights',
                 lambda: gto.M(atom=WATER, basis='sto-3g', verbose=0),
                 predictor=('weights', bad_weights(kind, folder)), nonscf=True))
    for kind in ('nan', 'inf', 'shape'):
        for method in ('rks', 'uks', 'rhf'):
            add(case('predictor returning NaN / Inf / wrong grid', f'{kind} {method}',
                     lambda: gto.M(atom=WATER, basis='sto-3g', verbose=0), method=method,
                     predictor=('bad', kind), nonscf=method == 'rks'))
    return cases


def _angstrom_atoms(smiles):
    from pyscf.deepscf.training.data import smiles_geometry
    symbols, coords = smiles_geometry(smiles)
    return list(zip(symbols, coords))


def _gaussian_nuclei():
    mol = gto.M(atom=WATER, basis='sto-3g', verbose=0)
    mol.nucmod = 'G'
    return mol.build()


def _far_pair(a, b, gap_ang):
    atoms = _angstrom_atoms(a) + [(s, np.array(c) + [gap_ang, 0, 0]) for s, c in
                                  _angstrom_atoms(b)]
    return gto.M(atom=atoms, basis='sto-3g', spin=None, verbose=0)


def _scaled(smiles, factor):
    atoms = _angstrom_atoms(smiles)
    center = np.mean([c for _, c in atoms], axis=0)
    return gto.M(atom=[(s, center + factor * (np.array(c) - center)) for s, c in atoms],
                 basis='sto-3g', spin=None, verbose=0)


def _nelectron(name, delta, spin):
    mol = gto.M(atom=WATER if name == 'water' else _angstrom_atoms('CO'), basis='sto-3g',
                verbose=0)
    mol.nelectron = mol.nelectron + delta
    mol.spin = spin
    return mol


# ------------------------------------------------------------------------------- running

def make_mf(mol, c):
    """The case's mean-field object; KS on a level-1 grid (the same for both guesses: the
    campaign tests what the guess does, and the default grid made it 3x slower)."""
    mf = _method(mol, c)
    if hasattr(mf, 'grids'):
        mf.grids.level = 1
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


def clear(err):
    """An exception that names the problem: deepscf's own, or a standard error raised outside
    numpy, scipy and torch (a crash from deep inside those is not clear)."""
    if 'deepscf' in str(err):
        return True
    last = traceback.extract_tb(err.__traceback__)[-1:]
    deep = any(f'{os.sep}{lib}{os.sep}' in frame.filename for frame in last
               for lib in ('numpy', 'scipy', 'torch'))
    return not deep and len(str(err)) > 10 and isinstance(
        err, (ValueError, TypeError, KeyError, RuntimeError, MemoryError, NotImplementedError))


def _alarm(signum, frame):
    raise TimeoutError(f'no result within {TIMEOUT_S} s')


def run_case(c):
    row = {'class': c['class'], 'name': c['name'], 'method': str(c['method'])}
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    t0 = time.perf_counter()
    try:
        row.update(run_guess(c))
        if c['nonscf']:
            e_ref = row.get('e_ref') if row.get('converged') else newton_reference(c)
            row.update(run_nonscf(c, e_ref))
    except TimeoutError as err:
        row['guess'] = 'WRONG'
        row['why'] = f'hang: {err}'
    finally:
        signal.alarm(0)
    row['seconds'] = round(time.perf_counter() - t0, 2)
    return row


def run_guess(c):
    try:
        mol = c['build']()
        ref = make_mf(mol, c)
        ref.kernel()
    except Exception as err:                  # PySCF refuses the input: deepscf must too
        ref, ref_err = None, err
    try:
        predictor = make_predictor(c)
    except Exception as err:
        return {'guess': 'error' if clear(err) else 'WRONG', 'why': f'{type(err).__name__}: {err}'}
    log = io.StringIO()
    try:
        mol = c['build']()
        mf = make_mf(mol, c)
        mf.verbose, mf.stdout = 2, log                  # WARN: the fallback's message
        mf.init_guess = 'deepscf'
        with deepscf.using_predictor(predictor or deepscf.default_predictor()):
            mf.kernel()
    except Exception as err:
        if ref is None and type(err) is type(ref_err):
            return {'guess': 'error', 'why': f'PySCF refuses: {type(err).__name__}: {err}'}
        return {'guess': 'WRONG', 'why': f'{type(err).__name__}: {err}',
                'trace': traceback.format_exc(limit=-3)}
    if ref is None:
        return {'guess': 'WRONG', 'why': f'minao failed ({ref_err}) but deepscf ran'}
    fallback = 'falling back to the minao guess' in log.getvalue()
    same = (bool(mf.converged) == bool(ref.converged) and np.isfinite(mf.e_tot)
            and abs(mf.e_tot - ref.e_tot) < 1e-6)
    out = {'e_ref': float(ref.e_tot), 'de': float(mf.e_tot - ref.e_tot),
           'cycles_minao': int(ref.cycles), 'cycles_deepscf': int(mf.cycles),
           'converged': bool(ref.converged)}
    if same:
        out['guess'] = 'fallback' if fallback else 'same'
    elif not ref.converged and not mf.converged:
        out['guess'] = 'fallback' if fallback else 'same'           # neither converges
        out['why'] = 'neither run converged'
    else:
        out['guess'] = 'WRONG'
        out['why'] = f'final state differs: ΔE {mf.e_tot - ref.e_tot:.3g}, converged ' \
                     f'{ref.converged} / {mf.converged}'
    if fallback:
        out['fallback_message'] = [l for l in log.getvalue().splitlines() if 'falling back' in l][0]
    return out


def newton_reference(c, dm0=None):
    """The SCF energy by PySCF's second-order solver (from ``dm0``, else minao), for NonSCF's
    check where the plain SCF did not converge (an unconverged SCF energy says nothing about a
    variational one); None if it does not converge either."""
    try:
        mf = make_mf(c['build'](), c).newton()
        mf.kernel(dm0=dm0)
    except Exception:
        return None
    return float(mf.e_tot) if mf.converged else None


def run_nonscf(c, e_ref):
    try:
        predictor = make_predictor(c)
        mf = deepscf.NonSCF(make_mf(c['build'](), c), predictor=predictor)
        log = io.StringIO()
        mf.verbose, mf.stdout = 2, log
        mf.kernel()
    except Exception as err:
        return {'nonscf': 'error' if clear(err) else 'WRONG',
                'nonscf_why': f'{type(err).__name__}: {err}'}
    energies = [mf.e_tot, mf.e_ks, mf.e_harris]
    if not np.all(np.isfinite(energies)):
        return {'nonscf': 'WRONG', 'nonscf_why': f'non-finite energies {energies}'}
    out = {'nonscf_warned': 'neutral closed-shell' in log.getvalue(),
           'nonscf_e_tot_mHa': 1e3 * (mf.e_tot - e_ref) if e_ref is not None else None,
           'nonscf_e_ks_mHa': 1e3 * (mf.e_ks - e_ref) if e_ref is not None else None}
    if e_ref is not None and mf.e_ks < e_ref - 1e-6:
        # the bound holds against the lowest SCF state: an SCF from NonSCF's own density may
        # find a lower one than minao's (several stationary states, e.g. an O atom forced
        # into a singlet)
        lower = newton_reference(c, dm0=mf.make_rdm1())
        if lower is not None and lower < e_ref - 1e-6:
            out['nonscf_why'] = f'minao SCF ended {1e3 * (e_ref - lower):.1f} mHa above ' \
                                f'the SCF from NonSCF\'s density; compared with the lower'
            e_ref = lower
            out['nonscf_e_tot_mHa'] = 1e3 * (mf.e_tot - e_ref)
            out['nonscf_e_ks_mHa'] = 1e3 * (mf.e_ks - e_ref)
    if e_ref is None or mf.e_ks < e_ref - 1e-6:
        out['nonscf'] = 'WRONG'
        out['nonscf_why'] = 'e_ks below the SCF energy' if e_ref is not None else 'no converged SCF to compare with'
    else:
        out['nonscf'] = 'ok'
    return out


def table(rows):
    """One line per class: counts of each outcome, NonSCF error range."""
    classes = list(dict.fromkeys(r['class'] for r in rows))
    head = (f'{"class":44s} {"cases":>5s} {"same":>5s} {"fallback":>8s} {"error":>5s} '
            f'{"WRONG":>5s} | {"NonSCF":>6s} {"ok":>4s} {"warned":>6s} {"error":>5s} '
            f'{"WRONG":>5s} {"e_tot-E mHa (median, max |.|)":>30s}')
    lines = [head, '-' * len(head)]
    total = {}
    for cls in classes + ['all']:
        rs = rows if cls == 'all' else [r for r in rows if r['class'] == cls]
        count = {k: sum(r.get('guess') == k for r in rs) for k in ('same', 'fallback', 'error',
                                                                   'WRONG')}
        ns = [r for r in rs if 'nonscf' in r]
        ncount = {k: sum(r['nonscf'] == k for r in ns) for k in ('ok', 'error', 'WRONG')}
        err = [abs(r['nonscf_e_tot_mHa']) for r in ns if r.get('nonscf_e_tot_mHa') is not None
               and r['nonscf'] == 'ok']
        spread = f'{np.median(err):.2f}, {max(err):.2f}' if err else '-'
        warned = sum(bool(r.get('nonscf_warned')) for r in ns)
        lines.append(f'{cls:44s} {len(rs):5d} {count["same"]:5d} {count["fallback"]:8d} '
                     f'{count["error"]:5d} {count["WRONG"]:5d} | {len(ns):6d} {ncount["ok"]:4d} '
                     f'{warned:6d} {ncount["error"]:5d} {ncount["WRONG"]:5d} {spread:>30s}')
        total = count | {'nonscf_' + k: v for k, v in ncount.items()}
    return '\n'.join(lines), total


def run(per_class=None, seed=0, out=None, progress=True):
    """Generate and run the cases (the first ``per_class`` of each class, or all); returns
    (rows, table text, totals)."""
    # rows are appended to a partial file as they come: an interrupted campaign resumes
    partial = os.path.join(out, f'fuzz_partial_seed{seed}_{per_class or "all"}.jsonl') if out else None
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
                print(f'[{k + 1}/{len(cases)}] {r["class"]}: {r["name"]}: {r["guess"]}'
                      f'{" / NonSCF " + r["nonscf"] if "nonscf" in r else ""} '
                      f'({r["seconds"]} s){"  " + r.get("why", "") if "WRONG" in str(r) else ""}',
                      flush=True)
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
