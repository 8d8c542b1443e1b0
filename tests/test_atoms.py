import numpy as np
import pytest
from pyscf import dft, gto

from pyscf.deepscf.engine import atoms


@pytest.mark.parametrize('symbol', ['H', 'C', 'N', 'O', 'F', 'P', 'S', 'Cl'])
def test_free_atom_integrates_to_z(symbol):
    mol = gto.M(atom=f'{symbol} 0 0 0', basis='def2-svp', spin=gto.charge(symbol) % 2, verbose=0)
    grids = dft.gen_grid.Grids(mol).build()
    rho = atoms.density_on_points([symbol], mol.atom_coords(), grids.coords)
    assert abs(grids.weights @ rho - gto.charge(symbol)) < 1e-4
    assert rho.min() > -1e-6


def test_auxmol_reproduces_density_and_charge(water):
    """The auxmol and the interpolated density equal the table's sum_k c_k exp(-a_k r^2)."""
    aux, coeff = atoms.atoms_auxmol(water)
    pts = np.random.default_rng(0).normal(size=(200, 3))
    direct = np.zeros(len(pts))
    for sym, center in zip(atoms.atom_symbols(water), water.atom_coords()):
        exps, coefs = atoms.element_params(sym)
        direct += np.exp(-np.outer(((pts - center) ** 2).sum(1), exps)) @ coefs
    rho = atoms.density_on_points(atoms.atom_symbols(water), water.atom_coords(), pts)
    assert np.abs(rho - direct).max() < 1e-6 * 281       # O nuclear peak: 281 e/bohr^3
    near = water.atom_coords()[0] + np.random.default_rng(1).normal(scale=0.05, size=(200, 3))
    direct_near = sum(np.exp(-np.outer(((near - c) ** 2).sum(1), atoms.element_params(s)[0]))
                      @ atoms.element_params(s)[1]
                      for s, c in zip(atoms.atom_symbols(water), water.atom_coords()))
    rho_near = atoms.density_on_points(atoms.atom_symbols(water), water.atom_coords(), near)
    assert np.abs(rho_near - direct_near).max() < 1e-6 * direct_near.max()
    assert np.allclose(aux.eval_gto('GTOval_sph', pts) @ coeff, direct, rtol=1e-10, atol=1e-12)
    assert abs(atoms.s_function_integrals(aux) @ coeff - 10) < 1e-8


def test_gradient_matches_finite_difference(water):
    pts = np.random.default_rng(1).normal(size=(20, 3))
    sym, xyz = atoms.atom_symbols(water), water.atom_coords()
    grad = atoms.density_on_points(sym, xyz, pts, deriv=1)[1:]
    aux, c = atoms.free_atoms_auxmol(sym, xyz)             # the analytic density
    h = 1e-5
    for x in range(3):
        e = np.zeros(3); e[x] = h
        fd = (aux.eval_gto('GTOval_sph', pts + e) - aux.eval_gto('GTOval_sph', pts - e)) @ c / (2 * h)
        assert np.allclose(grad[x], fd, atol=1e-6)


def test_ghosts_by_pyscf_convention():
    # PySCF's gto.mole.is_ghost_atom: 'ghost-' and 'X-' prefixes are ghosts, Xe is xenon
    mol = gto.M(atom='ghost-O 0 0 0; H 0 0 1; X-H 0 1 0; Br 0 0 -1.5; Xe 0 0 3',
                basis={'default': 'sto-3g', 'Xe': 'def2-svp'}, verbose=0)
    assert atoms.real_atoms(mol) == [1, 3, 4]
    assert atoms.atom_symbols(mol) == ['H', 'Br', 'Xe']


def test_density_on_grid_equals_pointwise(water):
    from pyscf.deepscf.engine.grid import molecule_grid
    grid = molecule_grid(water, 0.25, 3.0)
    symbols, xyz = atoms.atom_symbols(water), water.atom_coords()
    on_grid = atoms.density_on_grid(symbols, xyz, grid)
    pointwise = atoms.density_on_points(symbols, xyz, grid.coords()).reshape(grid.shape)
    assert np.allclose(on_grid, pointwise, rtol=1e-5, atol=1e-6 * pointwise.max())
