"""pyscf-deepscf: a 3D CNN predicts the SCF electron density; PySCF uses it.

    import pyscf.deepscf                  # registers init_guess='deepscf'
    mf = dft.RKS(mol, xc='b3lyp'); mf.init_guess = 'deepscf'; mf.kernel()

    from pyscf import deepscf
    mf = deepscf.NonSCF(mol, xc='pbe').run()     # one Fock build, no SCF loop

Without the import PySCF treats 'deepscf' as an unknown key and silently uses minao.
"""
from pyscf.deepscf.guess import init_guess_by_deepscf, register as _register
from pyscf.deepscf.nonscf import NonSCF
from pyscf.deepscf.predict import (predict_density, set_default_predictor, using_predictor,
                                   default_predictor)
from pyscf.deepscf.reference_predictors import OraclePredictor, ZeroPredictor
from pyscf.deepscf.engine.atoms import supported_elements

__version__ = '0.1.0'

_register()


def __getattr__(name):
    # the network (and torch) load on first use, not on import
    if name == 'NetworkPredictor':
        from pyscf.deepscf.engine.model import NetworkPredictor
        return NetworkPredictor
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
