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
    harris_weight = 0.25


def test_extrapolated_energy_mixes_ks_and_harris(water):
    """e_extrapolated = (1 - w) e_ks + w e_harris with the predictor's w; e_tot follows
    ``energy``; an uncalibrated predictor keeps e_tot = e_ks."""
    mf = deepscf.NonSCF(water, xc='pbe', predictor=CalibratedZero()).run()
    assert abs(mf.e_extrapolated - (0.75 * mf.e_ks + 0.25 * mf.e_harris)) < 1e-12
    assert mf.e_tot == mf.e_extrapolated and abs(mf.e_ks - mf.e_harris) > 1e-4
    for energy, attr in (('ks', 'e_ks'), ('harris', 'e_harris')):
        mf.energy = energy
        assert mf.kernel() == getattr(mf, attr)
    plain = deepscf.NonSCF(water, xc='pbe', predictor=deepscf.ZeroPredictor()).run()
    assert plain.e_extrapolated is None and plain.e_tot == plain.e_ks
    plain.energy = 'extrapolated'
    with pytest.raises(ValueError, match='harris_weight'):
        plain.kernel()
    with pytest.raises(ValueError, match='energy='):
        deepscf.NonSCF(water, xc='pbe', predictor=CalibratedZero(), energy='best').kernel()
