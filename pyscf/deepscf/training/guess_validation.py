"""Validation by the guess: how far init_guess='deepscf''s density matrix is from the SCF's.

The density NMAE of the network's crops does not rank weights for the guess
(docs/experiments.md, "What ranks weights"): weights better on the density can give the worse
guess.  What the SCF receives is the density matrix of one Fock build on the prediction, so
that is what checkpoints are chosen by here (``deepscf train --val-guess N``) and what
benchmarks/model.py reports as the guess NMAE.
"""
import numpy as np
from pyscf import dft

from pyscf.deepscf.predict import using_predictor
from pyscf.deepscf.engine.exact_residual import dm_density_on_points
from pyscf.deepscf.training.records import record_mole


def nmae_percent(mol, grids, rho_ref, rho):
    """100 * int |rho - rho_ref| dr / N_electrons on ``grids`` (densities in e/bohr^3)."""
    return 100 * grids.weights @ np.abs(rho - rho_ref) / mol.nelectron


def guess_density_matrix(mol, predictor, reference=None):
    """The density matrix init_guess='deepscf' hands an SCF of ``mol`` with ``predictor``.

    reference: the level ({'xc', 'density_fit'}, a data folder's settings); default the level
    of the predictor's training data (its metadata), else B3LYP with density fitting.  The
    guess is built at that level: its Fock build is the functional's.
    """
    level = reference or getattr(predictor, 'metadata', {}).get('reference') or {}
    mf = dft.KS(mol, xc=level.get('xc', 'b3lyp'))        # RKS, or UKS for an open shell
    if level.get('density_fit', True):
        mf = mf.density_fit()
    with using_predictor(predictor):
        return mf.get_init_guess(mol, 'deepscf')


def guess_nmae_percent(mol, dm_ref, predictor, reference=None):
    """Density NMAE (%) of the guess's density matrix against ``dm_ref`` (the SCF's, in
    mol's basis), on PySCF's default DFT grid of ``mol``."""
    grids = dft.gen_grid.Grids(mol).build()
    dm_guess = guess_density_matrix(mol, predictor, reference)
    rho_ref, rho_guess = (dm_density_on_points(mol, dm, grids.coords) for dm in (dm_ref, dm_guess))
    return nmae_percent(mol, grids, rho_ref, rho_guess)


def validate_guess(predictor, records, reference=None):
    """Mean guess NMAE (%) over stored structures ``records`` (dicts of records.load_record),
    each against its own SCF density matrix: {'guess_nmae_percent', 'guess_structures'}."""
    errors = [guess_nmae_percent(record_mole(rec), rec['dm'], predictor, reference)
              for rec in records]
    return {'guess_nmae_percent': float(np.mean(errors)), 'guess_structures': len(errors)}
