"""init_guess='deepscf' across methods; PySCF's other keys untouched; bad input."""
import io

import numpy as np
import pytest
from pyscf import dft, gto, scf

import pyscf.deepscf as deepscf
from pyscf.deepscf import guess


@pytest.fixture(scope='module')
def oracle(water):
    ref = dft.RKS(water, xc='pbe').run(conv_tol=1e-11)
    return deepscf.OraclePredictor(ref.make_rdm1(), 0.3)


def run_pair(mf, predictor):
    """(minao cycles, deepscf cycles, energy difference) for a fresh copy of ``mf``."""
    ref = mf.copy()
    ref.kernel()
    with deepscf.using_predictor(predictor):
        mf.init_guess = 'deepscf'
        mf.kernel()
    assert ref.converged and mf.converged
    return ref.cycles, mf.cycles, mf.e_tot - ref.e_tot


def unbroken(mf):
    """A UHF/UKS without PySCF's spin-symmetry breaking of the guess (which costs every guess
    of a closed shell cycles, test_breaksym_as_pyscf)."""
    mf.init_guess_breaksym = False
    return mf


@pytest.mark.parametrize('make', [
    lambda m: dft.RKS(m, xc='pbe'),
    lambda m: unbroken(dft.UKS(m, xc='pbe')),
    lambda m: dft.ROKS(m, xc='pbe'),
    lambda m: scf.RHF(m),
    lambda m: unbroken(scf.UHF(m)),
    lambda m: scf.ROHF(m),
    lambda m: scf.GHF(m),
    lambda m: dft.RKS(m, xc='lda,vwn'),
    lambda m: dft.RKS(m, xc='tpss'),
    lambda m: dft.RKS(m, xc='b3lyp'),
    lambda m: dft.RKS(m, xc='wb97x'),
    lambda m: dft.RKS(m, xc='pbe').density_fit(),
    lambda m: unbroken(dft.UKS(m, xc='b3lyp')).density_fit(),
], ids=['RKS', 'UKS', 'ROKS', 'RHF', 'UHF', 'ROHF', 'GHF', 'LDA', 'metaGGA', 'hybrid', 'RSH',
        'DF-RKS', 'DF-UKS-hybrid'])
def test_same_final_state_as_minao(water, oracle, make):
    n_minao, n_deep, de = run_pair(make(water), oracle)
    assert abs(de) < 1e-6
    assert n_deep <= n_minao


def test_oracle_pbe_saves_cycles(water, oracle):
    n_minao, n_deep, de = run_pair(dft.RKS(water, xc='pbe'), oracle)
    assert n_deep <= n_minao - 3
    assert abs(de) < 1e-6


# The zero predictor's guess is the Fock matrix of the free atoms' superposition: a guess of
# minao's quality, so within one cycle of minao's count
FREE_ATOM_EXTRA_CYCLES = 1


def test_zero_predictor_ends_in_minao_state(water):
    n_minao, n_zero, de = run_pair(dft.RKS(water, xc='pbe'), deepscf.ZeroPredictor(0.3))
    assert abs(de) < 1e-6
    assert n_zero <= n_minao + FREE_ATOM_EXTRA_CYCLES


def test_guess_is_tagged_and_has_right_electron_count(water, oracle):
    for mf in (dft.RKS(water, xc='pbe'), unbroken(dft.UKS(water, xc='pbe'))):
        dm = deepscf.init_guess_by_deepscf(mf, predictor=oracle)
        assert hasattr(dm, 'mo_coeff') and hasattr(dm, 'mo_occ')
        s = mf.get_ovlp()
        dm_total = np.asarray(dm).sum(axis=0) if np.ndim(dm) == 3 else np.asarray(dm)
        n = np.einsum('ij,ji->', dm_total, s)
        assert abs(n - water.nelectron) < 1e-8


def test_other_keys_unchanged(water):
    mf = dft.RKS(water, xc='pbe')
    for key in ('minao', 'atom', 'huckel', '1e', 'sap'):
        ours = mf.get_init_guess(water, key)
        pyscfs = guess._pyscf_get_init_guess(mf, water, key)
        # 'atom' runs atomic SCFs whose last digits vary from call to call
        assert np.allclose(np.asarray(ours), np.asarray(pyscfs), atol=1e-9), key


def test_charged_and_open_shell(oracle):
    for atom, charge, spin in [('O 0 0 0; H 0 0 0.97', -1, 0), ('O 0 0 0; H 0 0 0.97', 0, 1),
                               ('N 0 0 0; H 0 0.94 0.3; H 0.81 -0.47 0.3; H -0.81 -0.47 0.3; H 0 0 -1.0', 1, 0)]:
        mol = gto.M(atom=atom, basis='def2-svp', charge=charge, spin=spin, verbose=0)
        make = dft.UKS if spin else dft.RKS
        n_minao, n_deep, de = run_pair(make(mol, xc='pbe'), deepscf.ZeroPredictor(0.3))
        assert abs(de) < 1e-6
        assert n_deep <= n_minao + FREE_ATOM_EXTRA_CYCLES


def test_unsupported_element_falls_back_to_minao_with_warning():
    mol = gto.M(atom='Br 0 0 0; H 0 0 1.41', basis='def2-svp', verbose=0)
    mf = dft.RKS(mol, xc='pbe')
    log = []
    mf.stdout = type('S', (), {'write': lambda self, s: log.append(s), 'flush': lambda self: None})()
    mf.verbose = 2
    dm = deepscf.init_guess_by_deepscf(mf, predictor=deepscf.ZeroPredictor())
    assert np.allclose(dm, mf.init_guess_by_minao())
    assert any('Br' in line and 'minao' in line for line in log)
    with pytest.raises(ValueError, match='Br'):
        deepscf.init_guess_by_deepscf(mf, predictor=deepscf.ZeroPredictor(), strict=True)


def test_ghost_atoms_carry_no_density():
    mol = gto.M(atom='O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692; ghost-O 0 0 3',
                basis='def2-svp', verbose=0)
    n_minao, n_deep, de = run_pair(dft.RKS(mol, xc='pbe'), deepscf.ZeroPredictor(0.3))
    assert abs(de) < 1e-6
    assert n_deep <= n_minao + FREE_ATOM_EXTRA_CYCLES


def test_no_atoms_uses_pyscf_path():
    mf = scf.RHF(gto.M(atom='H 0 0 0; H 0 0 0.74', basis='sto-3g', verbose=0))
    mol = mf.mol.copy()
    mol._atm = mol._atm[:0]                            # natm == 0
    dm = guess.get_init_guess(mf, mol, 'deepscf')      # PySCF logs "No atom found", 1e guess
    assert np.allclose(dm, mf.init_guess_by_1e())


def test_periodic_cell_is_refused():
    from pyscf.pbc import gto as pbcgto
    cell = pbcgto.M(atom='He 0 0 0', a=np.eye(3) * 4, basis='sto-3g', verbose=0)
    with pytest.raises(ValueError, match='periodic'):
        deepscf.init_guess_by_deepscf(scf.RHF(cell), predictor=deepscf.ZeroPredictor())



class NoisyPredictor(deepscf.ZeroPredictor):
    """Free atoms plus a random residual: a prediction that breaks every point group."""

    def predict(self, mol):
        grid, residual = super().predict(mol)
        return grid, np.random.default_rng(0).normal(scale=1e-3, size=residual.shape)


def assert_falls_back(mf, *words):
    """The guess of ``mf`` (free-atom predictor) is minao's, and the WARN line says ``words``."""
    log = io.StringIO()
    mf.verbose, mf.stdout = 2, log
    dm = deepscf.init_guess_by_deepscf(mf, predictor=deepscf.ZeroPredictor())
    assert np.allclose(dm, mf.init_guess_by_minao())
    assert all(w in log.getvalue() for w in words), log.getvalue()


def forbidden_dipole_au(mf, axis):
    """|dipole perpendicular to ``axis``| (a.u.): zero by symmetry for a C2v molecule whose C2
    axis is ``axis``."""
    mu = mf.dip_moment(unit='au', verbose=0)
    return np.linalg.norm(mu - (mu @ axis) * axis)


def test_guess_keeps_the_point_group():
    # water tilted away from the axes, no mol.symmetry: minao's SCF keeps the C2v dipole
    # direction to ~1e-16 a.u.; a prediction that breaks the group must not change that
    rot = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0]
    xyz = np.array([[0, 0, 0.1173], [0, 0.7572, -0.4692], [0, -0.7572, -0.4692]]) @ rot.T
    mol = gto.M(atom=list(zip('OHH', xyz)), basis='6-31g', verbose=0)
    axis = rot[:, 2]
    ref = scf.RHF(mol).run()
    mf = scf.RHF(mol)
    mf.init_guess, mf.deepscf_predictor = 'deepscf', NoisyPredictor()
    mf.kernel()
    assert abs(mf.e_tot - ref.e_tot) < 1e-8
    assert forbidden_dipole_au(ref, axis) < 1e-10
    assert forbidden_dipole_au(mf, axis) < 1e-10


@pytest.mark.parametrize('breaksym', [1, 'mix'])
def test_breaksym_as_pyscf(breaksym):
    # singlet O2 in UKS: PySCF's guesses break the alpha/beta symmetry and reach the
    # broken-symmetry state (<S^2> ~ 1), 46 mHa below the closed-shell one; the deepscf guess
    # then gives way to PySCF's own
    mol = gto.M(atom='O 0 0 0; O 0 0 1.21', basis='6-31g', verbose=0)
    ref = dft.UKS(mol, xc='pbe')
    ref.init_guess_breaksym = breaksym
    ref.kernel()
    mf = dft.UKS(mol, xc='pbe')
    mf.init_guess_breaksym, mf.init_guess = breaksym, 'deepscf'
    mf.deepscf_predictor = deepscf.ZeroPredictor()
    dm = mf.get_init_guess(mol, 'deepscf')
    assert abs(dm[0] - dm[1]).max() > 1e-2
    mf.kernel()
    assert ref.spin_square()[0] > 0.5
    assert abs(mf.e_tot - ref.e_tot) < 1e-6
    assert abs(mf.spin_square()[0] - ref.spin_square()[0]) < 1e-3


def test_breaksym_off_keeps_the_deepscf_guess(water, oracle):
    mf = unbroken(dft.UKS(water, xc='pbe'))
    dm = deepscf.init_guess_by_deepscf(mf, predictor=oracle)
    assert hasattr(dm, 'mo_coeff') and abs(dm[0] - dm[1]).max() < 1e-12


def test_partly_filled_degenerate_level_falls_back():
    # the methane cation at the tetrahedral geometry: one hole in the threefold HOMO; which
    # orbital holds it is a choice the density cannot make
    mol = gto.M(atom='C 0 0 0; H .63 .63 .63; H -.63 -.63 .63; H -.63 .63 -.63; '
                     'H .63 -.63 -.63', basis='6-31g', charge=1, spin=1, verbose=0)
    assert_falls_back(dft.UKS(mol, xc='pbe'), 'degenerate')


def test_options_on_the_method_object():
    mol = gto.M(atom='Br 0 0 0; H 0 0 1.41', basis='def2-svp', verbose=0)
    mf = dft.RKS(mol, xc='pbe')
    mf.deepscf_strict = True
    with pytest.raises(ValueError, match='Br'):
        mf.get_init_guess(mol, 'deepscf')
    assert dft.RKS(mol, xc='pbe').deepscf_strict is False       # one object, not all

    calls = []

    class Recording(deepscf.ZeroPredictor):
        def predict(self, mol):
            calls.append(mol)
            return super().predict(mol)
    water = gto.M(atom='O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692', verbose=0)
    mf = dft.RKS(water, xc='pbe')
    mf.deepscf_predictor = Recording()
    mf.get_init_guess(water, 'deepscf')
    assert len(calls) == 1


def test_ecp_atom_falls_back_with_its_reason():
    mol = gto.M(atom='H 0 0 0; Cl 0 0 1.27', basis='def2-svp', ecp={'Cl': 'lanl2dz'},
                verbose=0)
    assert_falls_back(dft.RKS(mol, xc='pbe'), 'ECP', 'Cl', 'minao')


def test_stretched_bond_falls_back():
    mol = gto.M(atom='N 0 0 0; N 0 0 2.2', basis='6-31g', spin=2, verbose=0)
    assert_falls_back(dft.UKS(mol, xc='pbe'), 'bonding partner')


def test_max_memory_of_the_method_is_honoured():
    from pyscf.deepscf.engine.memory import PredictionMemoryError
    water = gto.M(atom='O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692', verbose=0)
    mf = dft.RKS(water, xc='pbe')
    mf.max_memory = 1            # MB: less than the process already uses
    with pytest.raises(PredictionMemoryError, match='max_memory'):
        deepscf.init_guess_by_deepscf(mf, predictor=deepscf.ZeroPredictor(), strict=True)
    assert_falls_back(mf, 'max_memory')


def test_ghf_and_gks_give_way_to_pyscfs_guess():
    # PySCF tilts every GHF guess's spins off collinear; from the deepscf guess tilted alike,
    # singlet O2 stayed collinear, 84 mHa above minao's state
    mol = gto.M(atom='O 0 0 0; O 0 0 1.21', basis='6-31g', verbose=0)
    ref = scf.GHF(mol).run()
    assert_falls_back(scf.GHF(mol), 'GHF')
    assert_falls_back(dft.GKS(mol, xc='pbe'), 'GKS')
    mf = scf.GHF(mol)
    mf.init_guess, mf.deepscf_predictor = 'deepscf', deepscf.ZeroPredictor()
    mf.kernel()
    assert abs(mf.e_tot - ref.e_tot) < 1e-6


def test_an_applied_field_is_not_averaged_away():
    # a field along the H-H axis of water: the guess's Fock matrix keeps only the symmetry the
    # Hamiltonian has, and the SCF from it ends where minao's does
    water = gto.M(atom='O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692', basis='6-31g',
                  verbose=0)
    h1e = scf.hf.get_hcore(water) + 0.02 * water.intor('int1e_r')[1]
    ref = scf.RHF(water)
    ref.get_hcore = lambda *args: h1e
    ref.kernel()
    mf = scf.RHF(water)
    mf.get_hcore = lambda *args: h1e
    mf.init_guess, mf.deepscf_predictor = 'deepscf', NoisyPredictor()
    mf.kernel()
    assert abs(mf.e_tot - ref.e_tot) < 1e-8
    assert abs(ref.dip_moment(verbose=0)[1]) > 0.1
    assert mf.cycles <= ref.cycles + 2


def test_predictor_sets_the_grid_of_v_xc(water, monkeypatch):
    """The guess's V_xc grid is the predictor's ``guess_grids_level`` (the bundled network's
    is 0) and level 1 for a predictor that names none; the SCF ends in minao's state either
    way."""
    from pyscf.deepscf.engine import fock
    from pyscf.deepscf.engine.model import NetworkPredictor
    from pyscf.deepscf.reference_predictors import ZeroPredictor
    assert NetworkPredictor().guess_grids_level == 0
    levels = []
    fock_grids = fock.fock_grids
    monkeypatch.setattr(fock, 'fock_grids', lambda mol, level, *a: levels.append(level)
                        or fock_grids(mol, level, *a))
    ref = dft.RKS(water, xc='pbe').run()
    coarse = ZeroPredictor()
    coarse.guess_grids_level = 0
    for predictor in (ZeroPredictor(), coarse):
        dm = guess.init_guess_by_deepscf(dft.RKS(water, xc='pbe'), predictor=predictor,
                                         strict=True)
        assert abs(dft.RKS(water, xc='pbe').run(dm0=dm).e_tot - ref.e_tot) < 1e-7
    assert levels == [1, 0]


def test_small_molecules_are_told_the_guess_saves_no_time(water):
    """Below guess.SMALL_MOLECULE_ATOMS real atoms the guess says, at PySCF's default
    verbosity, that it saves no time; a larger molecule (ghost atoms do not count) hears
    nothing."""
    from pyscf.deepscf.reference_predictors import ZeroPredictor
    import os
    glycine = gto.M(atom=os.path.join(os.path.dirname(__file__), '..', 'examples', 'molecules',
                                      'glycine.xyz'), basis='sto-3g')
    assert glycine.natm >= guess.SMALL_MOLECULE_ATOMS
    ghosted = gto.M(atom=water.atom + '; ghost-O 0 0 3', basis='sto-3g')
    for mol, told in ((water, True), (ghosted, True), (glycine, False)):
        mf = scf.RHF(mol)
        mf.verbose, mf.stdout = 3, io.StringIO()
        guess.init_guess_by_deepscf(mf, predictor=ZeroPredictor(), strict=True)
        assert ('saves time from about' in mf.stdout.getvalue()) == told
