"""Where the engine loses SCF cycles on the exact density: an ablation, one stage at a time.

The converged SCF density matrix D goes through the engine one stage at a time; each rung's
density matrix starts an SCF with the reference's settings (PySCF defaults), and its cycles are
set against minao's:

    scf_dm  D itself (the floor: about one cycle)
    R0      PySCF's own Fock matrix of D (mf.get_fock(dm=D)), diagonalized
    R1      the engine's Fock build (fock.local_fock) of the exact density of D as an analytic
            object (ExactDensity: rho from D, J = the SCF's J of D) on the SCF's own DFT grid,
            with exact exchange K of D, averaged over the point group, diagonalized
    R2      R1 on the guess's level-1 Fock grid (fock.fock_grids): the quadrature's cost
    R2l2    R1 on a level-2 grid, unpruned: how much of R2 a finer grid takes back
    R3      R2 with exchange as the guess does it (solver.solve, its default scheme for that
            SCF: 'semilocal' with in-core integrals, 'stand-in' with density fitting): the
            exchange stand-in's cost.  R3': the other scheme.  PBE has no exact exchange
            (R3 is then R2 through solver.solve, and R3' is not run)
    R4      today's oracle: OraclePredictor(D) (smoothed grid values, 0.3 bohr) through the
            full guess (init_guess_by_deepscf): the sampling, smoothing and fit's cost
    R4g0    R4 with V_xc on the level-0 grid the bundled network's guess uses
            (NetworkPredictor.guess_grids_level): what that grid costs an exact density
    R4p     R4 with point values (smoothing_bohr=0)
    R4f     R4 on a 0.15 bohr grid: the sampling's share of R4 (what the fit alone leaves)
    net     the bundled network's guess (init_guess='deepscf' as shipped): how much of the
            engine's loss reaches the network's cycles

Every SCF's final energy is compared with the reference's (a note if they differ by more than
1e-6 Ha).  Rows are written as each (molecule, method) finishes, so a partial run is useful;
``--resume`` skips those already in the .jsonl.

    OMP_NUM_THREADS=1 python benchmarks/engine_ceiling.py [--xc b3lyp pbe] [--df 0 1]
        [--resume] [MOLECULE ...]

MOLECULE: a name in ../shared/molecules/dev (default methanol urea acetone glycine pyridine
phenol) or an .xyz path.  Writes benchmarks/results/engine_ceiling.txt and .jsonl.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
from pyscf import gto, lib

from pyscf import deepscf
from pyscf.deepscf import bench
from pyscf.deepscf.engine import fock as fock_mod, solver, symmetry
from pyscf.deepscf.engine.exact_residual import ExactDensity

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import write_table  # noqa: E402

DEV = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared',
                   'molecules', 'dev')
DEFAULT_MOLECULES = ['methanol', 'urea', 'acetone', 'glycine', 'pyridine', 'phenol']
RUNGS = ['scf_dm', 'R0', 'R1', 'R2', 'R2l2', 'R3', "R3'", 'R4', 'R4g0', 'R4p', 'R4f', 'net']
FINE_SPACING_BOHR = 0.15
ENERGY_TOL = 1e-6


def other_scheme(scheme):
    return [s for s in solver.EXCHANGE_SCHEMES if s != scheme][0]


def has_exact_exchange(mf):
    omega, alpha, hyb = fock_mod.exchange_coefficients(mf)
    return hyb != 0 or alpha != 0


def diagonalized(mf, fock, s1e):
    """The density matrix of a restricted Fock matrix's orbitals, occupied as the SCF does."""
    mo_energy, mo_coeff, mo_occ = solver.diagonalize(mf, fock, s1e, solver.orthogonalizer(s1e))
    return lib.tag_array(mf.make_rdm1(mo_coeff, mo_occ), mo_coeff=mo_coeff, mo_occ=mo_occ)


def engine_fock_dm(mf, dm_scf, grids):
    """R1/R2: h + J + V_xc of ExactDensity(D) on ``grids`` (None: mf.grids) plus exact
    exchange of D itself, averaged over the point group as solver._solve does, diagonalized."""
    h1e, s1e = mf.get_hcore(), mf.get_ovlp()
    density = ExactDensity(mf, dm_scf)
    local = fock_mod.local_fock(mf, density, dm_tau=dm_scf, h1e=h1e, grids=grids,
                                fitted_coulomb=True)
    vk = fock_mod.exchange_fock(mf, dm_scf)[0]
    fock = symmetry.symmetrize_fock(local + vk, symmetry.ao_group(mf.mol, h1e))
    return diagonalized(mf, fock, s1e)


def rung_dm0(rung, mf, dm_scf):
    """The initial density matrix of one rung, on a fresh method object ``mf``; None when the
    rung does not apply (R3' of a pure functional)."""
    mol = mf.mol
    scheme = solver.default_exchange(mf)
    if rung == 'scf_dm':
        return dm_scf
    if rung == 'R0':
        return diagonalized(mf, mf.get_fock(dm=dm_scf), mf.get_ovlp())
    if rung == 'R1':
        return engine_fock_dm(mf, dm_scf, None)
    if rung == 'R2':
        grids = fock_mod.fock_grids(mol, 1, getattr(mf, 'small_rho_cutoff', 1e-7))
        return engine_fock_dm(mf, dm_scf, grids)
    if rung == 'R2l2':
        return engine_fock_dm(mf, dm_scf, fock_mod.fock_grids(mol, 2, small_rho_cutoff=0))
    if rung in ('R3', "R3'"):
        if rung == "R3'":
            if not has_exact_exchange(mf):
                return None
            scheme = other_scheme(scheme)
        return solver.solve(mf, ExactDensity(mf, dm_scf), exchange=scheme, grids_level=1,
                            fit_jk=True).dm
    if rung == 'net':
        return deepscf.init_guess_by_deepscf(mf, strict=True)
    kwargs = {'R4': {}, 'R4g0': {}, 'R4p': {'smoothing_bohr': 0.0},
              'R4f': {'spacing_bohr': FINE_SPACING_BOHR}}[rung]
    predictor = deepscf.OraclePredictor(dm_scf, **kwargs)
    if rung == 'R4g0':
        predictor.guess_grids_level = 0
    return deepscf.init_guess_by_deepscf(mf, predictor=predictor, strict=True)


def initial_gradient(mf, dm0):
    """|orbital gradient| of the SCF at dm0 (its own orbitals, the Fock matrix of dm0): how
    far the rung starts from convergence (PySCF converges at |g| < sqrt(conv_tol), 3e-5)."""
    mo_coeff, mo_occ = getattr(dm0, 'mo_coeff', None), getattr(dm0, 'mo_occ', None)
    if mo_coeff is None:
        return float('nan')
    return float(np.linalg.norm(mf.get_grad(mo_coeff, mo_occ, mf.get_fock(dm=dm0))))


def molecule_path(name):
    return name if name.endswith('.xyz') else os.path.join(DEV, name + '.xyz')


def run_molecule(path, xc, basis, density_fit, rungs, log):
    """One row: the reference SCF from minao, then each rung's SCF on a fresh method object
    that shares the reference's integrals (in-core ERIs or the DF tensor; cycles unchanged)."""
    mol = gto.M(atom=path, basis=basis, verbose=0)
    ref = bench.make_mf(mol, xc, density_fit)
    t = time.perf_counter()
    ref.kernel()
    row = {'molecule': os.path.basename(path)[:-4], 'xc': xc, 'basis': basis,
           'density_fit': bool(density_fit), 'nao': mol.nao, 'minao': ref.cycles,
           'e_ref': ref.e_tot, 'ref_converged': bool(ref.converged),
           'scheme': solver.default_exchange(ref) if has_exact_exchange(ref) else None,
           'minao_s': time.perf_counter() - t}
    dm_scf = ref.make_rdm1()
    log(f'  {row["molecule"]}: minao {ref.cycles} cycles, E {ref.e_tot:.10f} '
        f'({row["minao_s"]:.1f} s)')
    for rung in rungs:
        mf = bench.make_mf(mol, xc, density_fit)
        if density_fit:
            mf.with_df = ref.with_df
        elif getattr(ref, '_eri', None) is not None:
            mf._eri = ref._eri
        t = time.perf_counter()
        dm0 = rung_dm0(rung, mf, dm_scf)
        if dm0 is None:
            continue
        t_guess = time.perf_counter() - t
        mf.kernel(dm0=dm0)
        de = mf.e_tot - ref.e_tot
        g0 = initial_gradient(mf, dm0)
        row.update({f'{rung}_cycles': mf.cycles, f'{rung}_dE': de, f'{rung}_g0': g0,
                    f'{rung}_converged': bool(mf.converged), f'{rung}_guess_s': t_guess,
                    f'{rung}_scf_s': time.perf_counter() - t - t_guess})
        note = '' if abs(de) < ENERGY_TOL and mf.converged else '  <-- ENERGY/CONVERGENCE'
        log(f'    {rung:6s} {mf.cycles:3d} cycles  dE {de:9.1e}  |g0| {g0:8.1e}  '
            f'guess {t_guess:6.2f} s'
            f'{note}')
    return row


def config_key(r):
    return (r['xc'], r['basis'], r['density_fit'])


def table_text(rows, rungs):
    """One table per (xc, basis, fitting): cycles per rung, summed, and the ratio to minao."""
    blocks = []
    for key in sorted({config_key(r) for r in rows}, key=lambda k: (k[0] != 'b3lyp', k)):
        xc, basis, fit = key
        sel = [r for r in rows if config_key(r) == key]
        cols = [c for c in rungs if any(f'{c}_cycles' in r for r in sel)]
        schemes = sorted({r['scheme'] for r in sel if r['scheme']})
        head = (f'{xc.upper()}/{basis}, {"density fitting" if fit else "no fitting (exact J/K)"}'
                + (f"; R3 exchange '{'/'.join(schemes)}', R3' the other" if schemes
                   else '; no exact exchange: R3 = R2 through solver.solve'))
        lines = [f'## {head}',
                 f'{"molecule":12s} {"nao":>4s} {"minao":>5s} '
                 + ' '.join(f'{c:>6s}' for c in cols) + f' {"max|dE|":>8s}']
        for r in sel:
            des = [abs(r[f'{c}_dE']) for c in cols if f'{c}_dE' in r]
            bad = [c for c in cols if f'{c}_dE' in r
                   and (abs(r[f'{c}_dE']) >= ENERGY_TOL or not r[f'{c}_converged'])]
            lines.append(f'{r["molecule"]:12s} {r["nao"]:4d} {r["minao"]:5d} '
                         + ' '.join(f'{r.get(f"{c}_cycles", "-"):>6}' for c in cols)
                         + f' {max(des):8.1e}' + (f'  off: {",".join(bad)}' if bad else ''))
        # molecules run with the same rungs are summed together (e.g. the six small ones with
        # every rung, larger ones with fewer)
        groups = {}
        for r in sel:
            groups.setdefault(tuple(c for c in cols if f'{c}_cycles' in r), []).append(r)
        for have, group in groups.items():
            minao = sum(r['minao'] for r in group)
            sums = [sum(r[f'{c}_cycles'] for r in group) if c in have else None for c in cols]
            label = '' if len(groups) == 1 else f'  ({", ".join(r["molecule"] for r in group)})'
            lines.append(f'{"sum":12s} {"":4s} {minao:5d} '
                         + ' '.join(f'{s if s is not None else "-":>6}' for s in sums) + label)
            lines.append(f'{"ratio":12s} {"":4s} {1:5.2f} '
                         + ' '.join(f'{s / max(minao, 1):6.2f}' if s is not None else f'{"-":>6}'
                                    for s in sums))
        blocks.append('\n'.join(lines))
    legend = ('scf_dm: SCF from D itself; R0: PySCF Fock of D diagonalized; R1: engine Fock of '
              'ExactDensity(D), SCF grid, K of D; R2: R1 on the level-1 Fock grid; R2l2: R1 on '
              'a level-2 grid, unpruned; R3: R2 with '
              'the guess\'s exchange scheme; R4: OraclePredictor(D) on a 0.3 bohr grid, '
              'smoothed, full guess (level-1 grid); R4g0: R4 on the network\'s level-0 grid; '
              f'R4p: point values; R4f: smoothed, {FINE_SPACING_BOHR} bohr; net: the bundled '
              'network.  '
              f'|dE| against the reference SCF energy (tolerance {ENERGY_TOL:g} Ha).  '
              '|g0| (orbital gradient at each rung\'s start) is in the .jsonl.')
    return '\n\n'.join(blocks) + '\n\n' + legend


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('molecules', nargs='*')
    p.add_argument('--xc', nargs='+', default=['b3lyp', 'pbe'])
    p.add_argument('--df', nargs='+', type=int, default=[0, 1], choices=[0, 1],
                   help='0: exact J/K, 1: .density_fit()')
    p.add_argument('--basis', default='def2-svp')
    p.add_argument('--rungs', nargs='+', default=RUNGS, choices=RUNGS)
    p.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 'results'))
    p.add_argument('--stem', default='engine_ceiling')
    p.add_argument('--resume', action='store_true',
                   help='keep the rows already in OUT/STEM.jsonl and skip them')
    args = p.parse_args(argv)
    names = args.molecules or DEFAULT_MOLECULES
    command = 'OMP_NUM_THREADS=%s python benchmarks/engine_ceiling.py %s' % (
        os.environ.get('OMP_NUM_THREADS', ''), ' '.join(argv if argv is not None
                                                          else sys.argv[1:]))
    rows = []
    jsonl = os.path.join(args.out, args.stem + '.jsonl')
    if args.resume and os.path.exists(jsonl):
        with open(jsonl) as f:
            rows = [json.loads(line) for line in f if line.strip()]

    def log(line):
        print(line, flush=True)

    for xc in args.xc:
        for fit in args.df:
            log(f'# {xc}/{args.basis}, density fitting {bool(fit)}')
            for name in names:
                path = molecule_path(name)
                key = (os.path.basename(path)[:-4], xc, args.basis, bool(fit))
                if any((r['molecule'],) + config_key(r) == key for r in rows):
                    log(f'  {key[0]}: in {jsonl}, skipped')
                    continue
                rows.append(run_molecule(path, xc, args.basis, fit, args.rungs, log))
                text = table_text(rows, RUNGS)
                write_table(rows, args.out, args.stem, command, text)
    text = table_text(rows, RUNGS)
    print('\n' + text)
    write_table(rows, args.out, args.stem, command, text)
    print(f'wrote {os.path.join(args.out, args.stem)}.txt and .jsonl')
    return rows


if __name__ == '__main__':
    main()
