import numpy as np
import pytest
from pyscf import df, dft, gto

from pyscf.deepscf.engine import atoms, auxbasis, cartesian, coulomb, density as dens, fit
from pyscf.deepscf.engine.grid import molecule_grid, sample_on_grid, smoothed_point_charges
from pyscf.deepscf.reference_predictors import OraclePredictor, ZeroPredictor


def test_fit_recovers_a_resolved_gaussian_combination(water):
    aux = auxbasis.residual_auxmol(water)
    grid = molecule_grid(water, 0.3, 4.0)
    rng = np.random.default_rng(0)
    exps = np.concatenate([[aux.bas_exp(i)[0]] * (2 * aux.bas_angular(i) + 1) for i in range(aux.nbas)])
    true = np.where(exps < 2.0, rng.normal(size=aux.nao) * 1e-2, 0)
    q = atoms.s_function_integrals(aux)
    values = sample_on_grid(lambda c: aux.eval_gto('GTOval_sph', c) @ true, grid)
    fitted = fit.fit_residual(aux, grid, values, charge=q @ true)
    check = sample_on_grid(lambda c: aux.eval_gto('GTOval_sph', c) @ fitted, grid)
    assert abs(q @ fitted - q @ true) < 1e-8
    assert np.linalg.norm(check - values) < 1e-3 * np.linalg.norm(values)


def test_predicted_density_has_molecule_electron_count():
    mol = gto.M(atom='O 0 0 0; H 0 0 0.97', basis='def2-svp', charge=-1, verbose=0)   # OH-
    grid = molecule_grid(mol, 0.3, 4.0)
    d = dens.fit_density(mol, grid, np.zeros(grid.shape))
    assert abs(d.nelectron - 10) < 1e-8


def test_oracle_density_close_to_scf_density(water):
    mf = dft.RKS(water, xc='pbe').run()
    grid, residual = OraclePredictor(mf.make_rdm1(), 0.3).predict(water)
    d = dens.fit_density(water, grid, residual)
    g = mf.grids
    rho_scf = dft.numint.eval_rho(water, dft.numint.eval_ao(water, g.coords), mf.make_rdm1())
    rho_atoms = atoms.density_on_points(atoms.atom_symbols(water), water.atom_coords(), g.coords)
    err_pred = g.weights @ abs(d.eval_rho(g.coords) - rho_scf)
    err_atoms = g.weights @ abs(rho_atoms - rho_scf)
    assert err_pred < 0.5 * err_atoms
    # gradient of the analytic density against finite differences
    pts = g.coords[::997]
    grad = d.eval_rho(pts, deriv=1)[1:]
    e = np.array([1e-5, 0, 0])
    fd = (d.eval_rho(pts + e) - d.eval_rho(pts - e)) / 2e-5
    assert np.allclose(grad[0], fd, atol=1e-4 * abs(fd).max())


def test_separable_fit_equals_dense_weighted_least_squares(water):
    """The tensor-product fit solves the same weighted least squares as a dense one."""
    aux = auxbasis.residual_auxmol(water)
    grid = molecule_grid(water, 0.35, 2.5)
    rng = np.random.default_rng(3)
    values = rng.normal(size=grid.shape) * 1e-3 + sample_on_grid(
        lambda c: atoms.density_on_points(['O'], water.atom_coords()[:1], c) * 1e-2, grid)
    coords = grid.coords()
    chi = aux.eval_gto('GTOval_sph', coords)
    w = fit.core_weight(coords, aux.atom_coords(), 0.2)
    gram, rhs = (chi * w[:, None]).T @ chi, (chi * w[:, None]).T @ values.ravel()
    q = atoms.s_function_integrals(aux) / grid.voxel_volume
    gram[np.diag_indices_from(gram)] += 1e-7 * gram.diagonal().max()
    inv = np.linalg.inv(gram)
    c0 = inv @ rhs
    dense = c0 - (q @ c0 - 0.01 / grid.voxel_volume) / (q @ inv @ q) * (inv @ q)
    fast = fit.fit_residual(aux, grid, values, charge=0.01)
    fitted = lambda c: chi @ c                     # noqa: E731
    assert np.allclose(fitted(fast), fitted(dense), atol=1e-6 * abs(fitted(dense)).max() + 1e-9)


def test_solve_positive_handles_dependent_functions():
    """A Gram matrix made singular by a repeated function (Cholesky fails) still gives the
    least-squares solution: the fitted combination reproduces the target."""
    rng = np.random.default_rng(3)
    basis = rng.normal(size=(200, 5))
    basis = np.hstack([basis, basis[:, :1]])            # function 0 twice: rank 5 of 6
    target = basis[:, :5] @ rng.normal(size=5)
    gram = basis.T @ basis
    coeff = fit._solve_positive(gram, (basis.T @ target)[:, None])[:, 0]
    assert np.allclose(basis @ coeff, target, atol=1e-8)


def test_residual_basis_has_f_shells(water):
    """f shells carry the bonding density's angular shape (docs/how_it_works.md)."""
    auxmol = auxbasis.residual_auxmol(water)
    assert max(auxmol.bas_angular(i) for i in range(auxmol.nbas)) == 3


@pytest.mark.parametrize('basis', ['residual', 'mixed'])
@pytest.mark.parametrize('spread_bohr', [2.5, 12.])
def test_cartesian_gaussian_sum_equals_pyscf_evaluation(water, basis, spread_bohr):
    """The grouped evaluation of the residual (value and gradient) is PySCF's eval_gto @ c:
    for the residual basis (exponents doubling: Gaussians by squaring) and exponents that do
    not double; near the atoms and spread out (most points beyond the screening radius)."""
    if basis == 'residual':
        aux = auxbasis.residual_auxmol(water)
    else:
        shells = [[0, [0.3, 1.]], [0, [0.7, 1.]], [0, [1.4, 1.]], [1, [5., 1.]], [2, [0.9, 1.]],
                  [3, [2.2, 1.]]]
        aux = gto.M(atom=water.atom, basis={'O': shells, 'H': shells[:3]}, spin=None, verbose=0)
    coeff = np.random.default_rng(5).normal(size=aux.nao)
    pts = np.random.default_rng(6).normal(scale=spread_bohr, size=(3000, 3))
    pts[:3] = water.atom_coords() + 1e-3          # next to the nuclei, where tight shells peak
    pts[3] = (40, 0, 0)                            # far away: screened, must be ~0
    fast = cartesian.CartesianGaussianSum(aux, coeff)
    ref = aux.eval_gto('GTOval_sph_deriv1', pts) @ coeff
    assert np.allclose(fast(pts, deriv=1), ref, atol=1e-11 * abs(ref).max())
    assert np.allclose(fast(pts), ref[0], atol=1e-11 * abs(ref).max())


def test_coulomb_matrix_does_not_depend_on_the_blocks(water):
    """J in blocks of auxiliary shells (a tiny memory bound) equals J in one block."""
    grid = molecule_grid(water, 0.3, 4.0)
    residual = np.random.default_rng(3).normal(scale=1e-3, size=grid.shape)
    density = dens.fit_density(water, grid, residual)
    one_block = density.coulomb_matrix(water)
    assert np.abs(coulomb.coulomb_matrix(water, density, block_mb=0.05) - one_block).max() < 1e-12


def test_smoothed_functions_are_the_functions_spread_by_a_gaussian():
    """smoothed_auxmol (analytic convolution) against a numerical one: each function's values
    on a fine atom-centred quadrature, spread onto the box with grid.smoothed_point_charges."""
    mol = gto.M(atom='O 0 0 0', basis={'O': [[0, [50., 1.]], [1, [8., 1.]], [3, [1.5, 1.]]]},
                spin=None, verbose=0)
    grid = molecule_grid(mol, 0.3, 3.0)
    quadrature = dft.gen_grid.Grids(mol)
    quadrature.level = 5
    quadrature.build(with_non0tab=False)
    chi = mol.eval_gto('GTOval_sph', quadrature.coords)
    smoothed, scale = auxbasis.smoothed_auxmol(mol, 0.2)
    analytic = smoothed.eval_gto('GTOval_sph', grid.coords()) * scale
    for p in (0, 1, 4):                       # s, p_x and one f function
        numerical = smoothed_point_charges(grid, quadrature.coords,
                                           chi[:, p] * quadrature.weights, 0.2).ravel()
        assert np.allclose(numerical, analytic[:, p], atol=2e-3 * abs(analytic[:, p]).max())
    # smoothing keeps the integral of the s function
    assert np.isclose(atoms.s_function_integrals(smoothed)[0] * scale[0],
                      atoms.s_function_integrals(mol)[0], rtol=1e-10)


def test_smoothed_oracle_gives_a_better_coulomb_matrix(water):
    """The exact residual on a 0.3 bohr grid, smoothed (sigma 0.2 bohr) against point values:
    the Coulomb matrix of the fit in the occupied-virtual block (what rotates orbitals) is
    closer to the exact one, since the smoothed grid keeps the charge near the nuclei."""
    mf = dft.RKS(water, xc='pbe').run()
    dm = mf.make_rdm1()
    occ, vir = mf.mo_coeff[:, mf.mo_occ > 0], mf.mo_coeff[:, mf.mo_occ == 0]
    j_exact = mf.get_j(water, dm)
    err = {}
    for sigma in (0.0, 0.2):
        grid, residual = OraclePredictor(dm, 0.3, smoothing_bohr=sigma).predict(water)
        d = dens.fit_density(water, grid, residual, smoothing_bohr=sigma)
        err[sigma] = np.linalg.norm(occ.T @ (d.coulomb_matrix(water) - j_exact) @ vir)
    assert err[0.2] < 0.5 * err[0.0]


def test_coulomb_matrix_in_cartesian_functions(water):
    """mol.cart=True: J in the Cartesian functions transforms to the spherical one (libcint
    pairs only like with like, so the fitted density is carried over to Cartesian functions)."""
    density = dens.fit_density(water, *ZeroPredictor().predict(water))
    cart = water.copy()
    cart.cart = True
    cart.build()
    c2s = water.cart2sph_coeff()
    j_cart = density.coulomb_matrix(cart)
    assert np.abs(c2s.T @ j_cart @ c2s - density.coulomb_matrix(water)).max() < 1e-10


def test_coulomb_matrix_df_is_the_scfs_density_fitting():
    """J through the SCF's DF tensor: exact for a density made of the DF auxiliary functions
    themselves ((mu nu|P) c, 1e-9), and within the fitting error of the three-centre J for a
    predicted density (B3LYP/def2-SVP water, 2e-3 Ha per element)."""
    mol = gto.M(atom='O 0 0 0.12; H 0 0.76 -0.47; H 0 -0.76 -0.47', basis='def2-svp', verbose=0)
    mf = dft.RKS(mol, xc='b3lyp').density_fit()
    mf.with_df.build()
    rng = np.random.default_rng(3)
    aux_density = dens.fit_density(mol)          # free atoms; then swapped for DF functions
    aux_density.auxmol = mf.with_df.auxmol
    aux_density.coeff = rng.normal(size=mf.with_df.auxmol.nao)
    exact = np.einsum('ijp,p->ij', df.incore.aux_e2(mol, mf.with_df.auxmol, 'int3c2e'),
                      aux_density.coeff)
    assert abs(aux_density.coulomb_matrix_df(mf.with_df) - exact).max() < 1e-9
    free_atoms = dens.fit_density(mol)
    diff = free_atoms.coulomb_matrix_df(mf.with_df) - free_atoms.coulomb_matrix(mol)
    assert abs(diff).max() < 2e-3


def test_coulomb_matrix_df_with_any_metric_or_none():
    """A tensor built with PySCF's eigen-decomposed metric gives the same J as the Cholesky
    one; a tensor of another fitting basis than with_df.auxmol says is refused (None: the
    caller then takes the exact three-centre J)."""
    mol = gto.M(atom='O 0 0 0.12; H 0 0.76 -0.47; H 0 -0.76 -0.47', basis='def2-svp', verbose=0)
    free_atoms = dens.fit_density(mol)
    exact = free_atoms.coulomb_matrix(mol)
    auxbasis = df.addons.make_auxbasis(mol)
    for decompose in ('cd', 'eig'):
        with_df = df.DF(mol, auxbasis)
        with_df.auxmol = df.addons.make_auxmol(mol, auxbasis)
        with_df._cderi = df.incore.cholesky_eri(mol, auxmol=with_df.auxmol,
                                                decompose_j2c=decompose)
        assert abs(free_atoms.coulomb_matrix_df(with_df) - exact).max() < 2e-3, decompose
    foreign = df.DF(mol, auxbasis)
    foreign.auxmol = df.addons.make_auxmol(mol, auxbasis)
    other = foreign.auxmol.copy()               # same shape, exponents 20 % larger
    for ib in range(other.nbas):
        ptr = other._bas[ib, gto.PTR_EXP]
        other._env[ptr:ptr + other.bas_nprim(ib)] *= 1.2
    foreign._cderi = df.incore.cholesky_eri(mol, auxmol=other)
    assert foreign._cderi.shape[0] == foreign.auxmol.nao
    assert free_atoms.coulomb_matrix_df(foreign) is None
