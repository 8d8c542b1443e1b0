"""The fast subset of the fuzz campaign (benchmarks/fuzz.py): the first three cases of every
class of odd input (each class's smallest); none may end in a silent wrong result (a higher
state than PySCF's guesses reach, another <S^2>, a broken point group, NonSCF energies beyond
the class's stated tolerance), a crash or a hang."""
import pytest

from conftest import load_script, requires

pytestmark = requires('rdkit')       # the random organic molecules come from SMILES

fuzz = load_script('benchmarks', 'fuzz.py')
import fuzz_cases                     # noqa: E402  (loading fuzz.py put benchmarks/ on the path)


@pytest.fixture(scope='module')
def rows():
    return fuzz.run(per_class=3, progress=False)[0]


@pytest.fixture(scope='module')
def by(rows):
    return {(r['class'], r['name']): r for r in rows}


def test_every_class_and_no_silent_wrong_result(rows):
    assert len(rows) >= 60
    assert {r['class'] for r in rows} == set(fuzz.NONSCF_TOLERANCE_MHA)
    wrong = [(r['class'], r['name'], r.get('why'), r.get('nonscf_why')) for r in rows
             if r['guess'] == 'WRONG' or r.get('nonscf') == 'WRONG']
    assert wrong == []


def test_every_row_records_both_guesses_cycles(rows):
    ran = [r for r in rows if 'deepscf' in r]
    assert ran and all(r['cycles_deepscf'] >= 0 and r['cycles_minao'] >= 0 for r in ran)


def test_nonscf_within_the_stated_tolerance(rows):
    # the variational bound and the class's tolerance (mHa) against the lowest SCF state
    for r in rows:
        if r.get('nonscf') == 'ok':
            assert r['nonscf_e_ks_mHa'] >= -1e-3
            assert abs(r['nonscf_e_tot_mHa']) <= fuzz.NONSCF_TOLERANCE_MHA[r['class']]


def test_unknown_element_falls_back_naming_it(by):
    row = by['unknown elements, X symbols', 'He atom']
    assert row['guess'] == 'fallback' and 'He' in row['fallback_message']
    assert row['nonscf'] == 'error' and 'He' in row['nonscf_why']
    # Xe is an element, not a ghost spelled with an X
    xe = by['unknown elements, X symbols', 'XeH radical, def2 ECP']
    assert xe['guess'] == 'fallback' and 'Xe' in xe['fallback_message']
    assert xe['nonscf'] == 'error' and 'Xe' in xe['nonscf_why']


def test_ecp_atom_refused_by_name(by):
    row = by['ECP atoms (H-Cl)', 'HCl lanl2dz']
    assert row['guess'] == 'fallback' and 'ECP' in row['fallback_message']
    assert row['nonscf'] == 'error'
    assert 'ECP' in row['nonscf_why'] and 'Cl' in row['nonscf_why']


def test_symmetric_molecule_keeps_its_point_group(by):
    row = by['symmetric molecules', 'water rks']
    assert row['point_group'] == 'C2v'
    assert row['forbidden_dipole_au']['deepscf'] < fuzz.SYMMETRY_TOL_AU


def test_broken_symmetry_singlet_reaches_pyscfs_state(by):
    # H2 at 2.5 Å, UKS with PySCF's 'mix' breaking: the spin-polarized singlet, not the
    # restricted one
    row = by['broken-symmetry singlets', 'H2 2.5 Å, breaksym=mix']
    assert row['guess'] in ('same', 'fallback') and row['deepscf']['s2'] > 0.5


def test_known_outcomes(by):
    # an element the model lacks: logged fallback for the guess, a named error for NonSCF
    hbr = by['ECPs and elements the model lacks', 'HBr rks']
    assert hbr['guess'] == 'fallback' and 'Br' in hbr['nonscf_why']
    # Cartesian functions are supported, not a fallback
    assert by['Cartesian functions (cart=True)', 'methane sto-3g cart=True']['guess'] == 'same'
    # a NaN in the prediction never reaches the SCF
    nan = by['predictor returning NaN / Inf / wrong grid', 'nan rks']
    assert nan['guess'] == 'fallback' and 'non-finite' in nan['nonscf_why']
    truncated = by['broken weight files', 'truncated weights']
    assert truncated['guess'] == 'error' and 'truncated.pt' in truncated['why']  # names its file
    # ions and open shells: NonSCF says its energies are rough
    assert all(r.get('nonscf_warned') for (cls, _), r in by.items()
               if cls in ('cations and anions', 'radicals and triplets')
               and r.get('nonscf') == 'ok')


def test_point_group_rule():
    """The forbidden components on PySCF's own frames: Cs forbids the normal of its plane
    (axes[2]), C2v the part off its axis, D2h all of it."""
    from pyscf import gto, scf
    for atom, group in (('O 0 0 0; H 0.96 0 0; Cl -0.4 1.6 0.3', 'Cs'),
                        (fuzz_cases.WATER, 'C2v'), (fuzz_cases.ETHENE, 'D2h')):
        mol = gto.M(atom=atom, basis='sto-3g', verbose=0)
        found = fuzz.point_group(mol)
        assert found[0] == group
        mf = scf.RHF(mol).run()
        assert fuzz.forbidden_dipole(mf, found) < fuzz.SYMMETRY_TOL_AU
        dipole = mf.dip_moment(unit='au', verbose=0)
        if group == 'Cs':          # the plane holds the whole dipole; its normal is axes[2]
            assert abs(found[2][2] @ dipole) < fuzz.SYMMETRY_TOL_AU < abs(dipole).max()
