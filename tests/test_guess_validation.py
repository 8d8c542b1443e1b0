"""Validation by the guess (training/guess_validation.py) and ``deepscf train --val-guess``."""
import json

import numpy as np
import pytest
from pyscf import dft, gto

from pyscf.deepscf.engine import model
from pyscf.deepscf.reference_predictors import OraclePredictor
from pyscf.deepscf.training import guess_validation

from conftest import requires


@pytest.fixture(scope='module')
def water_scf():
    mol = gto.M(atom='O 0 0 0.12; H 0 0.76 -0.47; H 0 -0.76 -0.47', basis='def2-svp', verbose=0)
    mf = dft.RKS(mol, xc='pbe').density_fit()
    mf.conv_tol = 1e-10
    mf.kernel()
    return mol, mf.make_rdm1()


def test_exact_residual_gives_a_guess_closer_than_minao(water_scf):
    """With the SCF's own residual the guess (one PBE Fock build) is nearly the SCF density:
    far closer than minao's, whose NMAE is computed here with PySCF alone."""
    mol, dm = water_scf
    level = {'xc': 'pbe', 'density_fit': True}
    guess = guess_validation.guess_nmae_percent(mol, dm, OraclePredictor(dm), level)
    grids = dft.gen_grid.Grids(mol).build()
    ao = dft.numint.eval_ao(mol, grids.coords)
    rho = dft.numint.eval_rho(mol, ao, dm)
    rho_minao = dft.numint.eval_rho(mol, ao, dft.RKS(mol).init_guess_by_minao(mol))
    minao = 100 * grids.weights @ np.abs(rho_minao - rho) / mol.nelectron
    assert minao > 2.0
    assert guess < 0.25 * minao
    # its own density matrix is at zero distance; the NMAE is symmetric in its densities
    assert guess_validation.nmae_percent(mol, grids, rho, rho) == 0
    assert np.isclose(guess_validation.nmae_percent(mol, grids, rho, rho_minao), minao)


def test_open_shell_guess_is_spin_summed():
    """An open-shell record (UKS density matrices) gives one spin-summed NMAE.  NH2, not OH:
    OH's three pi electrons in two degenerate orbitals make any guess pick one of them."""
    mol = gto.M(atom='N 0 0 0.15; H 0 0.80 -0.45; H 0 -0.80 -0.45', basis='sto-3g', spin=1,
                verbose=0)
    mf = dft.UKS(mol, xc='pbe').run(conv_tol=1e-9)
    dm = mf.make_rdm1()
    assert dm.shape[0] == 2
    err = guess_validation.guess_nmae_percent(mol, dm, OraclePredictor(dm.sum(0)),
                                              {'xc': 'pbe', 'density_fit': False})
    assert 0 <= err < 0.5


@requires('qm9pack', 'tqdm')
def test_train_keeps_the_best_guess(tmp_path):
    """``--val-guess 1``: each validation logs the guess NMAE of a validation structure, and
    best.pt is the validation with the lowest one (not the lowest crop density NMAE)."""
    from pyscf.deepscf.training import data, train
    folder, out = str(tmp_path / 'data'), str(tmp_path / 'run')
    data.generate(data.structure_jobs(qm9_index=[1, 3, 7]), folder,
                  {'basis': 'sto-3g', 'grids_level': 0}, workers=0, progress=False)
    weights = str(tmp_path / 'w.pt')
    assert train.main(['--data', folder, '--out', out, '--widths', '4', '8', '--groups', '2',
                       '--blocks-per-level', '1', '--crop', '16', '--samples-per-structure', '1',
                       '--val-every', '1', '--no-progress', '--threads', '1', '--epochs', '4',
                       '--lr', '3e-2', '--val-guess', '1', '--export', weights]) == 0
    vals = [line for line in map(json.loads, open(tmp_path / 'run' / 'metrics.jsonl'))
            if 'val' in line]
    assert len(vals) >= 4 and all(v['val']['guess_structures'] == 1 for v in vals)
    guess = [v['val']['guess_nmae_percent'] for v in vals]
    assert len(set(guess)) > 1                       # the weights changed between validations
    best = vals[int(np.argmin(guess))]
    meta = model.load(weights)[1]
    assert meta['training']['steps'] == best['step']
    assert meta['validation']['guess_nmae_percent'] == min(guess)
