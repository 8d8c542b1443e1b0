import numpy as np
import pytest
from pyscf import dft, scf

from pyscf.deepscf.engine import solver, timing


def test_exchange_density_matrix_tagged_with_natural_orbitals(water):
    """The tags that make density-fitted K fast describe the same matrix and the same K."""
    mf = dft.RKS(water, xc='b3lyp').density_fit()
    dm = mf.init_guess_by_minao()
    tagged = solver.with_natural_orbitals(dm, solver.orthogonalizer(mf.get_ovlp()))
    assert np.allclose((tagged.mo_coeff * tagged.mo_occ) @ tagged.mo_coeff.T, dm, atol=1e-10)
    assert np.allclose(mf.get_k(water, tagged), mf.get_k(water, np.asarray(dm)), atol=1e-10)


@pytest.mark.parametrize('method', [scf.RHF, scf.UHF, scf.ROHF, scf.GHF])
def test_diagonalize_matches_pyscf_eig(water, method):
    """The NumPy path (RHF, UHF) and PySCF's own (ROHF, GHF) give PySCF's orbital energies and
    the same density matrix as mf.eig on the same Fock matrix."""
    mf = method(water)
    s1e = mf.get_ovlp()
    fock = mf.get_hcore()[:water.nao, :water.nao] + 0.1 * s1e[:water.nao, :water.nao]
    e, c, occ = solver.diagonalize(mf, fock, s1e, solver.orthogonalizer(s1e[:water.nao, :water.nao]))
    e_ref, c_ref = mf.eig(solver._spin_fock(mf, fock), s1e)
    assert np.allclose(e, e_ref, atol=1e-10)
    dm, dm_ref = mf.make_rdm1(c, occ), mf.make_rdm1(c_ref, mf.get_occ(e_ref, c_ref))
    assert np.allclose(dm, dm_ref, atol=1e-8)


def test_orthogonalizer_declines_near_linear_dependence():
    s1e = np.array([[1.0, 1 - 1e-12], [1 - 1e-12, 1.0]])
    assert solver.orthogonalizer(s1e) is None
    s_half, s_inv_half = solver.orthogonalizer(np.diag([4.0, 1.0]))
    assert np.allclose(s_half, np.diag([2.0, 1.0])) and np.allclose(s_inv_half, np.diag([0.5, 1.0]))


@pytest.mark.parametrize('make, k_builds', [
    (lambda m: dft.RKS(m, xc='b3lyp').density_fit(), 1), (lambda m: dft.RKS(m, xc='b3lyp'), 2),
    (lambda m: dft.RKS(m, xc='tpssh'), 2), (scf.RHF, 3)],
    ids=['fitted hybrid', 'hybrid', 'meta-GGA hybrid', 'HF'])
def test_semilocal_scheme_builds_k(water, make, k_builds, monkeypatch):
    """'semilocal' replaces the first step's K of an LDA or GGA hybrid by a semilocal
    stand-in: one K build (fitted) instead of the two of HF and meta-GGAs (K of minao's
    matrix, then of the first orbitals'); K from in-core integrals (water without fitting)
    is built once more from the second step's orbitals, except for meta-GGAs, whose tau would
    need V_xc again.  The SCF from the guess ends in PySCF's own state."""
    from pyscf.deepscf.reference_predictors import ZeroPredictor
    from pyscf.deepscf.predict import predict_density
    mf = make(water)
    calls = []
    get_k = mf.get_k
    monkeypatch.setattr(mf, 'get_k', lambda *a, **k: calls.append(1) or get_k(*a, **k))
    solution = solver.solve(mf, predict_density(water, predictor=ZeroPredictor()))
    assert len(calls) == k_builds
    ref = make(water).run()
    assert abs(make(water).run(dm0=solution.dm).e_tot - ref.e_tot) < 1e-6
    with pytest.raises(ValueError, match='exchange='):
        solver.solve(mf, None, exchange='two-step')


def test_natural_orbitals_of_an_idempotent_matrix_leave_the_empty_ones_empty(water):
    """PySCF's fitted K contracts every orbital with occupation > 0: rounding noise on the
    empty natural orbitals must not count as occupied."""
    mf = scf.RHF(water)
    e, c = mf.eig(mf.get_hcore(), mf.get_ovlp())
    dm = mf.make_rdm1(c, mf.get_occ(e, c))
    tagged = solver.with_natural_orbitals(dm, solver.orthogonalizer(mf.get_ovlp()))
    assert np.count_nonzero(tagged.mo_occ) == water.nelectron // 2


def test_guess_density_fitting_only_where_it_pays(water, monkeypatch):
    """A fitted copy for a hybrid or HF SCF without fitting; none for a fitted SCF, a pure
    functional, or a tensor larger than the memory fraction allows.  The fitted guess gives
    the density matrix of the exact one within the fitting error (1e-3) and the same SCF."""
    from pyscf.deepscf.reference_predictors import ZeroPredictor
    from pyscf.deepscf.predict import predict_density
    from pyscf.deepscf.engine import memory
    assert solver.guess_density_fitting(dft.RKS(water, xc='b3lyp').density_fit()) is None
    assert solver.guess_density_fitting(dft.RKS(water, xc='pbe')) is None
    assert solver.guess_density_fitting(scf.RHF(water)) is None        # in-core integrals
    direct = scf.RHF(water)
    direct.max_memory = 0                                               # direct SCF
    fitted = solver.guess_density_fitting(direct)
    assert fitted is not None and fitted.with_df._cderi is not None
    monkeypatch.setattr(memory, 'available_bytes', lambda: 1e5)
    assert solver.guess_density_fitting(direct) is None
    monkeypatch.undo()
    density = predict_density(water, predictor=ZeroPredictor())
    mf = dft.RKS(water, xc='b3lyp')
    mf.max_memory = 0
    exact = solver.solve(mf, density).dm
    with timing.recording() as seconds:
        fit = solver.solve(mf, density, fit_jk=True).dm
    assert 'DF tensor (guess only)' in seconds
    assert 1e-9 < abs(fit - exact).max() < 1e-3
    ref = dft.RKS(water, xc='b3lyp').run()
    assert abs(dft.RKS(water, xc='b3lyp').run(dm0=fit).e_tot - ref.e_tot) < 1e-6


def test_stand_in_scheme_builds_no_exchange_and_reaches_the_same_scf(water, monkeypatch):
    """'stand-in': one diagonalization with the semilocal stand-in and no K build; its Fock
    matrix equals the first step of 'semilocal' (same stand-in, one contraction instead of
    two), and the SCF from it ends in the same state."""
    from pyscf.deepscf.reference_predictors import ZeroPredictor
    from pyscf.deepscf.predict import predict_density
    density = predict_density(water, predictor=ZeroPredictor())
    mf = dft.RKS(water, xc='b3lyp')
    calls = []
    get_k = mf.get_k
    monkeypatch.setattr(mf, 'get_k', lambda *a, **k: calls.append(1) or get_k(*a, **k))
    stand_in = solver.solve(mf, density, exchange='stand-in')
    assert not calls
    first = solver.solve(mf, density, exchange='semilocal')
    assert len(calls) == 2                                   # in-core integrals: K twice
    local = solver.fock_mod.local_fock(mf, density, grids=solver.fock_mod.fock_grids(water, 1),
                                       extra_xc='0.2*B88')
    assert abs(stand_in.fock - (local + local.v_extra)).max() < 1e-10
    assert abs(stand_in.fock - first.fock).max() > 1e-4      # later steps used exact K
    ref = dft.RKS(water, xc='b3lyp').run()
    assert abs(dft.RKS(water, xc='b3lyp').run(dm0=stand_in.dm).e_tot - ref.e_tot) < 1e-6


def test_default_exchange_builds_k_only_where_the_integrals_are_in_memory(water):
    """'semilocal' (one exact K, which builds the in-core integrals the SCF reuses) for a small
    SCF without fitting; 'stand-in' (no K) for a fitted or a direct SCF."""
    assert solver.default_exchange(dft.RKS(water, xc='b3lyp')) == 'semilocal'
    assert solver.default_exchange(dft.RKS(water, xc='b3lyp').density_fit()) == 'stand-in'
    direct = dft.RKS(water, xc='b3lyp')
    direct.max_memory = 0
    assert solver.default_exchange(direct) == 'stand-in'


def test_in_core_integrals_are_built_once_and_timed_as_shared(water):
    """With in-core integrals the guess's K builds them for the SCF: timed apart from K (its
    own contraction), kept on the method, and equal to the integrals PySCF builds itself."""
    from pyscf.deepscf.reference_predictors import ZeroPredictor
    from pyscf.deepscf.predict import predict_density
    density = predict_density(water, predictor=ZeroPredictor())
    mf = dft.RKS(water, xc='b3lyp')
    with timing.recording() as seconds:
        solver.solve(mf, density, exchange='semilocal')
    assert solver.fock_mod.SHARED_ERI_STEP in seconds and 'K' in seconds
    assert mf._eri is not None
    assert abs(mf._eri - water.intor('int2e', aosym='s8')).max() < 1e-12
    pure = dft.RKS(water, xc='pbe')                    # no exact exchange: nothing built
    solver.solve(pure, density, exchange='semilocal')
    assert pure._eri is None
