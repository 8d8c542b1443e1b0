"""The checked number types every command line shares (pyscf/deepscf/argtypes.py)."""
import argparse

import pytest

from pyscf.deepscf import argtypes


def test_positive_int_takes_whole_numbers_from_one():
    assert argtypes.positive_int('3') == 3 and argtypes.nonnegative_int('0') == 0
    assert argtypes.positive_float('0.25') == 0.25 and argtypes.nonnegative_float('0') == 0.0


@pytest.mark.parametrize('parse, text', [
    (argtypes.positive_int, '0'), (argtypes.positive_int, '1.5'), (argtypes.positive_int, 'x'),
    (argtypes.nonnegative_int, '-1'), (argtypes.positive_float, '0'),
    (argtypes.nonnegative_float, '-0.1'), (argtypes.nonnegative_float, 'nan?')])
def test_bad_values_are_refused_with_what_was_given(parse, text):
    with pytest.raises(argparse.ArgumentTypeError, match=repr(text).replace('?', r'\?')):
        parse(text)


def test_the_message_names_the_option():
    parser = argparse.ArgumentParser(prog='x', exit_on_error=False)
    parser.add_argument('--crop-reuse', type=argtypes.positive_int)
    with pytest.raises(argparse.ArgumentError, match='--crop-reuse.*positive integer'):
        parser.parse_args(['--crop-reuse', '0'])
