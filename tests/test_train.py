import argparse

import numpy as np

from pyscf.deepscf import train


def test_cosine_learning_rate_schedule():
    args = argparse.Namespace(lr=1e-3, lr_final=1e-5)
    rates = [train.learning_rate(args, step, 100) for step in (0, 50, 100, 150)]
    assert np.isclose(rates[0], 1e-3) and np.isclose(rates[1], (1e-3 + 1e-5) / 2)
    assert np.isclose(rates[2], 1e-5) and np.isclose(rates[3], 1e-5)     # held after the end
    assert train.learning_rate(argparse.Namespace(lr=2e-3, lr_final=None), 70, 100) == 2e-3
