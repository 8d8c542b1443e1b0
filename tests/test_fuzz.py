"""The fast subset of the fuzz campaign (benchmarks/fuzz.py): the first two cases of every
class of odd input; none may end in a silent wrong result, a crash or a hang."""
import pytest

from conftest import load_script

fuzz = load_script('benchmarks', 'fuzz.py')


@pytest.fixture(scope='module')
def rows():
    return fuzz.run(per_class=2, progress=False)[0]


def test_no_silent_wrong_result(rows):
    assert len(rows) >= 30 and len({r['class'] for r in rows}) >= 15
    wrong = [(r['name'], r.get('why'), r.get('nonscf_why')) for r in rows
             if r['guess'] == 'WRONG' or r.get('nonscf') == 'WRONG']
    assert wrong == []


def test_outcomes_of_the_known_cases(rows):
    by = {r['name']: r for r in rows}
    # an element the model lacks: logged fallback for the guess, a named error for NonSCF
    assert by['HBr rks']['guess'] == 'fallback' and 'Br' in by['HBr rks']['nonscf_why']
    # Cartesian functions are supported, not a fallback
    assert by['methane sto-3g cart=True']['guess'] == 'same'
    # a NaN in the prediction never reaches the SCF
    assert by['nan rks']['guess'] == 'fallback' and 'non-finite' in by['nan rks']['nonscf_why']
    assert by['truncated weights']['guess'] == 'error'
    assert 'truncated.pt' in by['truncated weights']['why']                  # names its file
    # ions and open shells: NonSCF says its energies are rough
    assert all(r.get('nonscf_warned') for r in rows
               if r['class'] in ('cations and anions', 'radicals and triplets')
               and r.get('nonscf') == 'ok')
