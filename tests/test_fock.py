"""Fock pieces from a density, checked against PySCF on an exact density-matrix density."""
import numpy as np
import pytest
from pyscf import dft, scf

from pyscf.deepscf.engine import fock as fock_mod
from pyscf.deepscf.engine.exact_residual import ExactDensity
from pyscf.deepscf.nonscf import harris_energies


def fock_from_density(mf, density, dm_exchange):
    """The engine's restricted Fock matrix of ``density`` with exact exchange and tau from
    ``dm_exchange``, composed as solver.solve composes it (without the symmetry average)."""
    local = fock_mod.local_fock(mf, density, dm_exchange)
    vk, ek = fock_mod.exchange_fock(mf, dm_exchange)
    return fock_mod.with_energy_tags(local + vk, local, ek)


@pytest.mark.parametrize('xc', ['lda,vwn', 'pbe', 'tpss', 'b3lyp', 'wb97x', 'hf'])
def test_fock_and_harris_at_scf_density_equal_pyscf(water, xc):
    mf = scf.RHF(water) if xc == 'hf' else dft.RKS(water, xc=xc)
    mf.conv_tol = 1e-10
    mf.kernel()
    dm = mf.make_rdm1()
    density = ExactDensity(mf, dm)
    fock = fock_from_density(mf, density, dm)
    assert np.allclose(fock, mf.get_fock(dm=dm), atol=1e-7)
    vhf = mf.get_veff(dm=dm)
    if xc != 'hf':        # the energy tags against PySCF's (its exc holds exact exchange too)
        assert abs(fock.exc + fock.ek - vhf.exc) < 1e-8
        assert abs(density.coulomb_energy() - vhf.ecoul) < 1e-8
    # at PySCF's converged density both Harris energies are PySCF's E(SCF)
    e_harris, e_harris_output = harris_energies(mf, dm, vhf, density=density, fock=fock)
    assert abs(e_harris - mf.e_tot) < 1e-7 and abs(e_harris_output - mf.e_tot) < 1e-7


def test_exchange_needs_a_density_matrix(water):
    mf = dft.RKS(water, xc='b3lyp')
    with pytest.raises(ValueError, match='density matrix'):
        fock_mod.exchange_fock(mf, None)


@pytest.mark.parametrize('xc, expected', [('b3lyp', '0.2*B88'), ('pbe0', '0.25*B88'),
                                          ('camb3lyp', '0.19*B88'), ('pbe', None),
                                          ('tpssh', None), ('hf', None)])
def test_semilocal_exchange_substitute(water, xc, expected):
    """Hybrids' exact exchange (its short-range fraction) as B88; none for pure functionals,
    meta-GGAs and HF."""
    mf = scf.RHF(water) if xc == 'hf' else dft.RKS(water, xc=xc)
    got = fock_mod.semilocal_exchange_substitute(mf)
    if expected is None:
        assert got is None
    else:
        fraction, name = got.split('*')
        assert name == expected.split('*')[1] and abs(float(fraction) - float(expected.split('*')[0])) < 1e-12


@pytest.mark.parametrize('xc, extra', [('b3lyp', '0.2*B88'), ('lda,vwn', '0.5*SLATER'),
                                       ('tpss', 'B88')])
def test_extra_xc_matrix_equals_its_own_pass(water, xc, extra):
    """The extra functional's matrix from the shared grid pass equals a pass of its own."""
    mf = dft.RKS(water, xc=xc).run()
    dm = mf.make_rdm1()
    density = ExactDensity(mf, dm)
    *_, v_extra = fock_mod.xc_from_density(mf, density, dm_tau=dm, extra_xc=extra)
    alone = dft.RKS(water, xc=extra)
    alone.grids = mf.grids
    v_alone = fock_mod.xc_from_density(alone, density)[3]
    assert np.abs(v_extra).max() > 1e-2
    assert np.allclose(v_extra, v_alone, atol=1e-10)


@pytest.mark.parametrize('level', [1, 3])
def test_pruned_fock_grid_keeps_v_xc(water, level):
    """fock_grids drops PySCF's small-density points (|rho w| < cutoff / points); the V_xc
    matrix, E_xc and the electron count of the SCF density stay within 1e-6.  Level 3 has
    negative Becke weights, which the rule must keep as PySCF's does."""
    mf = dft.RKS(water, xc='pbe').run()
    density = ExactDensity(mf, mf.make_rdm1())
    full = fock_mod.fock_grids(water, level, small_rho_cutoff=0)
    pruned = fock_mod.fock_grids(water, level)
    assert (full.weights < 0).any() == (level > 1)
    assert len(pruned.weights) < 0.97 * len(full.weights)
    n_full, exc_full, _, v_full = fock_mod.xc_from_density(mf, density, grids=full)
    n, exc, _, v = fock_mod.xc_from_density(mf, density, grids=pruned)
    assert abs(n - n_full) < 1e-6 and abs(exc - exc_full) < 1e-6
    assert np.abs(v - v_full).max() < 1e-6


class CancelledTail(ExactDensity):
    """The exact density, but in its tail (rho < 1e-5) a value ``tail_value`` with the exact
    gradient: what a predicted residual that cancels the free atoms there looks like."""

    def __init__(self, mf, dm, tail_value):
        super().__init__(mf, dm)
        self.tail_value = tail_value

    def eval_rho(self, coords, deriv=0):
        rho = super().eval_rho(coords, deriv)
        rho0 = rho if rho.ndim == 1 else rho[0]
        rho0[rho0 < 1e-5] = self.tail_value
        return rho


def test_unphysical_tail_gets_no_xc(water, monkeypatch):
    """A tail of 1e-11 or of -1e-9 with a bound density's gradient: before the rule, the GGA
    potential of the first blew up (V_xc apart by far more than 1e-2); now both give the same
    V_xc to 1e-6.  The SCF density itself loses no point (its Fock equals PySCF's above)."""
    mf = dft.RKS(water, xc='b3lyp').run()
    dm = mf.make_rdm1()
    grids = fock_mod.fock_grids(water, 1)
    exact = ExactDensity(mf, dm).eval_rho(grids.coords, deriv=1)
    assert not fock_mod.unphysical_points(exact).any()

    def v_xc():
        return [fock_mod.xc_from_density(mf, CancelledTail(mf, dm, t), grids=grids)[3]
                for t in (1e-11, -1e-9)]
    tiny, negative = v_xc()
    assert np.abs(tiny - negative).max() < 1e-6
    monkeypatch.setattr(fock_mod, 'unphysical_points', lambda rho: np.zeros(rho.shape[-1], bool))
    tiny, negative = v_xc()
    assert np.abs(tiny - negative).max() > 1e-2
