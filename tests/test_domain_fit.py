import numpy as np
import pytest
from pyscf import dft, gto

from pyscf.deepscf import molio
from pyscf.deepscf.engine import atoms, auxbasis, density as dens, domain_fit, fit
from pyscf.deepscf.reference_predictors import OraclePredictor


@pytest.fixture(scope='module')
def butane_oracle():
    symbols, coords = molio.alkane(4)
    mol = gto.M(atom=list(zip(symbols, coords)), basis='6-31g', verbose=0)
    mf = dft.RKS(mol, xc='pbe').run()
    grid, residual = OraclePredictor(mf.make_rdm1(), 0.3).predict(mol)
    return mol, mf, grid, residual


def test_tiles_partition_the_atoms():
    coords = np.random.default_rng(1).uniform(0, 20, size=(50, 3))
    parts = domain_fit.tiles(coords, 6.)
    assert sorted(np.concatenate(parts).tolist()) == list(range(50))
    for part in parts:       # one cube each
        cell = np.floor((coords[part] - coords.min(0)) / 6.)
        assert (cell == cell[0]).all()


def test_sub_auxmol_keeps_the_functions_of_its_atoms(water):
    aux = auxbasis.residual_auxmol(water)
    sub = domain_fit.sub_auxmol(aux, [0, 2])
    f0, f1 = aux.aoslice_by_atom()[2, 2:4]
    pts = np.random.default_rng(2).normal(size=(20, 3))
    whole = aux.eval_gto('GTOval_sph', pts)
    part = sub.eval_gto('GTOval_sph', pts)
    assert np.allclose(part[:, sub.nao - (f1 - f0):], whole[:, f0:f1])


def test_domain_fit_as_accurate_as_the_dense_fit(butane_oracle):
    """Cut into several domains (3 bohr tiles), the fit of the exact residual is as close to
    the SCF density as the one global fit, and carries the same electron count."""
    mol, mf, grid, residual = butane_oracle
    aux = auxbasis.residual_auxmol(mol)
    atom_aux, atom_coeff = atoms.atoms_auxmol(mol)
    charge = mol.nelectron - atom_coeff @ atoms.s_function_integrals(atom_aux)
    c_dense = fit.fit_residual(aux, grid, residual, charge)
    assert len(domain_fit.tiles(aux.atom_coords(), 3.)) >= 4
    c_domains = domain_fit.fit_residual_by_domains(aux, grid, residual, charge, tile_bohr=3.)
    q = atoms.s_function_integrals(aux)
    assert abs(q @ c_domains - charge) < 1e-8
    g = mf.grids
    rho_scf = dft.numint.eval_rho(mol, dft.numint.eval_ao(mol, g.coords), mf.make_rdm1())
    rho_atoms = atoms.molecule_density_on_points(mol, g.coords)
    chi = aux.eval_gto('GTOval_sph', g.coords)
    err_dense = g.weights @ abs(rho_atoms + chi @ c_dense - rho_scf) / mol.nelectron
    err_domains = g.weights @ abs(rho_atoms + chi @ c_domains - rho_scf) / mol.nelectron
    # most of either error is the 0.3 bohr grid's sampling of the exact residual
    assert err_domains < err_dense + 2e-4
    assert err_dense < 0.025


@pytest.fixture
def domain_fit_calls(monkeypatch):
    """A list that gets one entry per call of fit_residual_by_domains."""
    calls = []
    real = domain_fit.fit_residual_by_domains
    monkeypatch.setattr(domain_fit, 'fit_residual_by_domains',
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_fit_density_switches_to_domains_above_the_size(butane_oracle, domain_fit_calls):
    mol, mf, grid, residual = butane_oracle
    d = dens.fit_density(mol, grid, residual)
    assert not domain_fit_calls
    d = dens.fit_density(mol, grid, residual, max_dense_functions=100)
    assert domain_fit_calls and abs(d.nelectron - mol.nelectron) < 1e-8


def test_domain_fit_of_a_smoothed_grid(butane_oracle, domain_fit_calls):
    """A smoothed residual (the predictor's smoothing_bohr) goes through the domains too."""
    mol, mf, grid, _ = butane_oracle
    grid, smoothed = OraclePredictor(mf.make_rdm1(), 0.3, smoothing_bohr=0.2).predict(mol)
    d = dens.fit_density(mol, grid, smoothed, smoothing_bohr=0.2, max_dense_functions=100)
    assert len(domain_fit_calls) == 1 and abs(d.nelectron - mol.nelectron) < 1e-8
    g = mf.grids
    rho_scf = dft.numint.eval_rho(mol, dft.numint.eval_ao(mol, g.coords), mf.make_rdm1())
    err = g.weights @ abs(d.eval_rho(g.coords) - rho_scf) / mol.nelectron
    assert err < 0.01
