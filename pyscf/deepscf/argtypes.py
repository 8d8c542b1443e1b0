"""Checked number types for the command lines (``deepscf ...``, ``deepscf train``, the GPU kit):
a bad value stops argparse with a message naming the option and what it takes.  Standard
library only, so that every command line (the GPU kit has no PySCF) can import it."""
import argparse


def typed(cast, test, what):
    """An argparse type: ``cast(text)``, refused unless ``test`` holds; ``what`` names it."""
    def parse(text):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not {what}')
        if not test(value):
            raise argparse.ArgumentTypeError(f'{text!r} is not {what}')
        return value
    return parse


positive_int = typed(int, lambda v: v > 0, 'a positive integer')
nonnegative_int = typed(int, lambda v: v >= 0, 'an integer >= 0')
nonnegative_float = typed(float, lambda v: v >= 0, 'a number >= 0')
positive_float = typed(float, lambda v: v > 0, 'a number > 0')
