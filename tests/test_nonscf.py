"""NonSCF: a PySCF mean-field object whose energy on the oracle density is the SCF energy."""
import io
import warnings

import numpy as np
import pytest
from pyscf import dft, gto, scf

import pyscf.deepscf as deepscf
from pyscf.deepscf import domain

WATER = 'O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692'


@pytest.fixture(scope='module')
def scf_pbe(water):
    return dft.RKS(water, xc='pbe').run(conv_tol=1e-11)


@pytest.fixture(scope='module')
def oracle(scf_pbe):
    return deepscf.OraclePredictor(scf_pbe.make_rdm1(), 0.3)


def test_oracle_energy_within_half_mha(water, scf_pbe, oracle):
    mf = deepscf.NonSCF(water, xc='pbe', predictor=oracle).run()
    assert abs(mf.e_tot - scf_pbe.e_tot) < 5e-4
    assert mf.e_tot >= scf_pbe.e_tot - 1e-8               # KS energy is variational
    assert abs(mf.e_harris - scf_pbe.e_tot) < 5e-3
    assert mf.converged is False and mf.mo_coeff.shape == (water.nao, water.nao)
    assert np.allclose(mf.dip_moment(verbose=0), scf_pbe.dip_moment(verbose=0), atol=0.02)
    assert isinstance(mf, dft.rks.RKS)
    mf.analyze(verbose=0)


def test_from_mf_keeps_settings_and_density_fit(water, scf_pbe, oracle):
    base = dft.RKS(water, xc='pbe')
    base.grids.level = 2
    mf = deepscf.NonSCF(base, predictor=oracle).density_fit()
    mf.kernel()
    assert mf.grids.level == 2 and hasattr(mf, 'with_df')
    assert abs(mf.e_tot - scf_pbe.e_tot) < 2e-3           # DF and a smaller grid included


def test_unrestricted_and_hybrid(water, oracle):
    ref = dft.UKS(water, xc='b3lyp').run()
    closed = dft.UKS(water, xc='b3lyp')
    closed.init_guess_breaksym = False          # says: a closed shell, alpha = beta
    mf = deepscf.NonSCF(closed, predictor=oracle).run()
    assert abs(mf.e_tot - ref.e_tot) < 2e-3                # PBE oracle density, B3LYP energy
    # left to break its spin symmetry, as PySCF's guesses would, the UKS is refused: NonSCF's
    # output keeps alpha = beta, above the broken-symmetry state
    with pytest.raises(ValueError, match='init_guess_breaksym'):
        deepscf.NonSCF(dft.UKS(water, xc='b3lyp'), predictor=oracle).run()


def test_polarizability_accepts_it(water, scf_pbe, oracle):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        from pyscf.prop.polarizability.rks import Polarizability
    mf = deepscf.NonSCF(water, xc='pbe', predictor=oracle).run()
    alpha = Polarizability(mf).polarizability()
    ref = Polarizability(scf_pbe).polarizability()
    assert np.allclose(alpha, ref, rtol=0.02, atol=0.05)


def test_bad_input():
    mol = gto.M(atom='Br 0 0 0; H 0 0 1.41', basis='def2-svp', verbose=0)
    with pytest.raises(ValueError, match='Br'):
        deepscf.NonSCF(mol, xc='pbe', predictor=deepscf.ZeroPredictor()).kernel()
    with pytest.raises(ValueError, match='functional'):
        deepscf.NonSCF(gto.M(atom='H 0 0 0; H 0 0 .74', verbose=0))
    with pytest.raises(TypeError):
        deepscf.NonSCF('water.xyz', xc='pbe')
    from pyscf.pbc import gto as pbcgto
    cell = pbcgto.M(atom='He 0 0 0', a=np.eye(3) * 4, basis='sto-3g', verbose=0)
    with pytest.raises(ValueError, match='periodic'):
        deepscf.NonSCF(cell, xc='pbe')


class CalibratedZero(deepscf.ZeroPredictor):
    energy_weights = {'ks': 0.5, 'harris': 0.25, 'harris_output': 0.25}


def test_extrapolated_energy_mixes_ks_and_harris(water):
    """e_extrapolated = a e_ks + b e_harris + c e_harris_output with the predictor's weights:
    each unit weight picks its energy; e_tot follows ``energy``; an uncalibrated predictor
    keeps e_tot = e_ks."""
    for weights, attr in (((1, 0, 0), 'e_ks'), ((0, 1, 0), 'e_harris'),
                          ((0, 0, 1), 'e_harris_output')):
        predictor = deepscf.ZeroPredictor()
        predictor.energy_weights = dict(zip(('ks', 'harris', 'harris_output'), weights))
        mf = deepscf.NonSCF(water, xc='pbe', predictor=predictor).run()
        assert mf.e_tot == mf.e_extrapolated == getattr(mf, attr), attr
    assert abs(mf.e_ks - mf.e_harris) > 1e-4 and abs(mf.e_ks - mf.e_harris_output) > 1e-4
    mf.predictor = CalibratedZero()
    mf.kernel()
    assert min(mf.e_ks, mf.e_harris, mf.e_harris_output) < mf.e_tot < max(
        mf.e_ks, mf.e_harris, mf.e_harris_output)
    for energy, attr in (('ks', 'e_ks'), ('harris', 'e_harris')):
        mf.energy = energy
        assert mf.kernel() == getattr(mf, attr)
    plain = deepscf.NonSCF(water, xc='pbe', predictor=deepscf.ZeroPredictor()).run()
    assert plain.e_extrapolated is None and plain.e_tot == plain.e_ks
    plain.energy = 'extrapolated'
    with pytest.raises(ValueError, match='energy_weights'):
        plain.kernel()
    with pytest.raises(ValueError, match='energy='):
        deepscf.NonSCF(water, xc='pbe', predictor=CalibratedZero(), energy='best').kernel()


METHODS = {'RKS': lambda m: dft.RKS(m, xc='pbe'), 'UKS': lambda m: dft.UKS(m, xc='pbe'),
           'ROKS': lambda m: dft.ROKS(m, xc='pbe'), 'RHF': scf.RHF, 'UHF': scf.UHF,
           'ROHF': scf.ROHF, 'GHF': scf.GHF}
METHYL = 'C 0 0 0; H 1.08 0 0; H -.54 .94 0; H -.54 -.94 0'


@pytest.mark.parametrize('method', list(METHODS))
def test_harris_energies_are_the_scf_energy_at_convergence(water, method):
    """At PySCF's converged density e_harris_output is PySCF's E(SCF), for every method and
    spin (the methyl radical for the open-shell ones), and so is e_harris of the same density
    for the closed shells; on a density that is not self-consistent e_ks lies above E(SCF)
    (variational) and e_harris_output below e_ks (one diagonalization lowers it)."""
    from pyscf.deepscf.nonscf import harris_energies
    from pyscf.deepscf.engine.exact_residual import ExactDensity
    from test_fock import fock_from_density
    mol = water if method in ('RKS', 'RHF') else gto.M(atom=METHYL, basis='def2-svp', spin=1,
                                                       verbose=0)
    ref = METHODS[method](mol).run(conv_tol=1e-11)
    dm = ref.make_rdm1()
    density = fock = None
    if method in ('RKS', 'RHF'):
        density = ExactDensity(ref, dm)
        fock = fock_from_density(ref, density, dm)
    e_harris, e_harris_output = harris_energies(ref, dm, ref.get_veff(dm=dm), density=density,
                                                fock=fock)
    assert abs(e_harris_output - ref.e_tot) < 1e-7
    assert (e_harris is None) == (method not in ('RKS', 'RHF'))
    if e_harris is not None:
        assert abs(e_harris - ref.e_tot) < 1e-7
    mf = deepscf.NonSCF(METHODS[method](mol), predictor=deepscf.ZeroPredictor()).run()
    assert mf.e_harris_output < mf.e_ks - 1e-5
    assert mf.e_ks > ref.e_tot


@pytest.mark.parametrize('method', ['UKS', 'ROHF'])
def test_open_shell_energies(method):
    """Open shells: no Harris energy of the (spin-less) input density, e_tot = e_ks above the
    SCF energy, a warning in the log, and the energies that need e_harris refused."""
    mol = gto.M(atom=METHYL, basis='def2-svp', spin=1, verbose=0)
    ref = METHODS[method](mol).run()
    mf = deepscf.NonSCF(METHODS[method](mol), predictor=CalibratedZero())
    log = io.StringIO()
    mf.verbose, mf.stdout = 4, log
    mf.kernel()
    assert mf.e_harris is None and mf.e_extrapolated is None and mf.e_tot == mf.e_ks
    assert 0 < mf.e_ks - ref.e_tot < 0.1
    assert 'open shell' in log.getvalue() and 'neutral closed-shell' in log.getvalue()
    for energy in ('harris', 'extrapolated'):
        mf.energy = energy
        with pytest.raises(ValueError, match='open shell'):
            mf.kernel()


class CalibratedOnPBE(deepscf.ZeroPredictor):
    energy_weights = {'ks': 0.5, 'harris': 0.25, 'harris_output': 0.25}
    energy_domain = {'xc_type': 'GGA', 'exact_exchange': False, 'basis_family': 'def2',
                     'spin': 0, 'charge': 0}


def test_calibrated_mix_only_inside_its_domain(water):
    inside = deepscf.NonSCF(water, xc='pbe', predictor=CalibratedOnPBE()).run()
    assert inside.e_tot == inside.e_extrapolated
    for mol, xc in ((water, 'b3lyp'), (water, 'tpss'), (water, 'hf'),
                    (gto.M(atom=WATER, basis='6-31g', verbose=0), 'pbe'),
                    (gto.M(atom=WATER, basis='def2-svp', charge=1, spin=1, verbose=0), 'pbe')):
        mf = deepscf.NonSCF(mol, xc=xc, predictor=CalibratedOnPBE())
        log = io.StringIO()
        mf.verbose, mf.stdout = 4, log
        mf.kernel()
        assert mf.e_tot == mf.e_ks and mf.e_extrapolated is None, (xc, mol.basis)
        assert 'outside the domain' in log.getvalue()


def test_calibration_domain_of_a_functional_and_basis():
    assert domain.calibration_domain('pbe', 'def2-svp') == CalibratedOnPBE.energy_domain
    assert domain.calibration_domain('b3lyp', 'cc-pvdz') == {
        'xc_type': 'GGA', 'exact_exchange': True, 'basis_family': 'cc-p', 'spin': 0,
        'charge': 0}


def test_refused_where_the_network_has_seen_nothing_alike():
    for atom, charge, spin, words in (('N 0 0 0; N 0 0 2.2', 0, 2, 'bonding partner'),
                                      ('O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692',
                                       2, 0, r'charge \+2')):
        mol = gto.M(atom=atom, basis='6-31g', charge=charge, spin=spin, verbose=0)
        with pytest.raises(ValueError, match=words):
            deepscf.NonSCF(mol, xc='pbe', predictor=deepscf.ZeroPredictor()).kernel()
    gks = dft.GKS(gto.M(atom=WATER, basis='6-31g', verbose=0), xc='pbe')
    with pytest.raises(ValueError, match='GKS'):
        deepscf.NonSCF(gks, predictor=deepscf.ZeroPredictor()).kernel()


def test_ecp_atom_refused_by_name():
    mol = gto.M(atom='H 0 0 0; Cl 0 0 1.27', basis='def2-svp', ecp={'Cl': 'lanl2dz'}, verbose=0)
    with pytest.raises(ValueError, match='ECP.*Cl'):
        deepscf.NonSCF(mol, xc='pbe', predictor=deepscf.ZeroPredictor()).kernel()
