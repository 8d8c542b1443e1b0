"""NonSCF: a PySCF mean-field object whose energy on the oracle density is the SCF energy."""
import warnings

import numpy as np
import pytest
from pyscf import dft, gto, scf

import pyscf.deepscf as deepscf


@pytest.fixture(scope='module')
def scf_pbe(water):
    return dft.RKS(water, xc='pbe').run(conv_tol=1e-11)


@pytest.fixture(scope='module')
def oracle(scf_pbe):
    return deepscf.OraclePredictor(scf_pbe.make_rdm1(), 0.3)


def test_oracle_energy_within_half_mha(water, scf_pbe, oracle):
    mf = deepscf.NonSCF(water, xc='pbe', predictor=oracle).run()
    assert abs(mf.e_tot - scf_pbe.e_tot) < 5e-4          # measured 0.012 mHa
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
    mf = deepscf.NonSCF(dft.UKS(water, xc='b3lyp'), predictor=oracle).run()
    assert abs(mf.e_tot - ref.e_tot) < 2e-3                # PBE oracle density, B3LYP energy


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
    """e_extrapolated = a e_ks + b e_harris + c e_harris_output with the predictor's weights;
    e_tot follows ``energy``; an uncalibrated predictor keeps e_tot = e_ks."""
    mf = deepscf.NonSCF(water, xc='pbe', predictor=CalibratedZero()).run()
    assert abs(mf.e_extrapolated - (0.5 * mf.e_ks + 0.25 * mf.e_harris
                                    + 0.25 * mf.e_harris_output)) < 1e-12
    assert mf.e_tot == mf.e_extrapolated and abs(mf.e_ks - mf.e_harris) > 1e-4
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
    with pytest.raises(ValueError, match='guess only'):
        deepscf.NonSCF(water, xc='b3lyp', predictor=CalibratedZero(), exchange='stand-in').kernel()


@pytest.mark.parametrize('method', ['RKS', 'UKS', 'RHF'])
def test_output_harris_energy_from_a_diagonalization(water, method):
    """e_harris_output = E[D] + min over D' of Tr(F[D] (D' - D)), built here from PySCF's own
    pieces: below e_ks (the output is not self-consistent), and equal to e_ks for the SCF
    density itself."""
    from pyscf.deepscf.nonscf import output_harris_energy
    make = {'RKS': lambda: dft.RKS(water, xc='pbe'), 'UKS': lambda: dft.UKS(water, xc='pbe'),
            'RHF': lambda: scf.RHF(water)}[method]
    mf = deepscf.NonSCF(make(), predictor=deepscf.ZeroPredictor()).run()
    ref = make().run(conv_tol=1e-11)
    dm = mf.make_rdm1()
    fock = ref.get_fock(dm=dm)
    e, c = ref.eig(fock, ref.get_ovlp())
    occ = ref.get_occ(e, c)
    expected = mf.e_ks + np.sum(occ * e) - np.einsum('...ij,...ji', fock, dm).sum()
    assert abs(mf.e_harris_output - expected) < 1e-9
    assert mf.e_harris_output < mf.e_ks - 1e-5
    h1e, s1e, dm_scf = ref.get_hcore(), ref.get_ovlp(), ref.make_rdm1()
    vhf = ref.get_veff(dm=dm_scf)
    assert abs(output_harris_energy(ref, h1e, s1e, vhf, dm_scf, ref.e_tot) - ref.e_tot) < 1e-7
