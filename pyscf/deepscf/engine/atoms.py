"""Free-atom densities: fixed, spherical, per element, shipped with the package.

Each element's density is a sum of s-type Gaussians, rho_A(r) = sum_k c_k exp(-a_k r^2)
(r in bohr, rho in electrons/bohr^3), fitted to the spherically averaged B3LYP/def2-SVP atom
(``scripts/make_free_atoms.py`` regenerates the table).  They do not depend on the user's
basis: the superposition of atoms is the baseline the residual density is measured from.

PySCF is imported inside the functions that take a Mole: the tables and densities here serve the
GPU training kit (scripts/gpu_train.py) on machines without PySCF.
"""
import functools
import json
import os

import numpy as np

DATA_FILE = os.path.join(os.path.dirname(__file__), 'data', 'free_atoms.json')


@functools.lru_cache(maxsize=None)
def _table():
    with open(DATA_FILE) as f:
        return json.load(f)


def supported_elements():
    """Element symbols that have a free-atom density (and hence can be predicted)."""
    return tuple(_table()['elements'])


def element_params(symbol):
    """(exponents, coefficients) in bohr^-2 and e/bohr^3 for one element symbol."""
    entry = _table()['elements'][symbol]
    return np.asarray(entry['exponents']), np.asarray(entry['coefs'])


def real_atoms(mol):
    """Indices of the atoms that carry electrons: all but ghost atoms, by PySCF's own test
    (gto.mole.is_ghost_atom: 'ghost-O', 'X-O' and 'X1' are ghosts, 'Xe' is xenon)."""
    from pyscf import gto
    return [i for i in range(mol.natm) if not gto.mole.is_ghost_atom(mol.atom_symbol(i))]


def atom_symbols(mol):
    """Standard element symbols of the real atoms, e.g. 'C' for 'C1' or 'c'."""
    from pyscf import gto
    return [gto.mole._std_symbol(mol.atom_pure_symbol(i)) for i in real_atoms(mol)]


RADIAL_STEP_BOHR = 0.001


@functools.lru_cache(maxsize=None)
def radial_table(symbol):
    """The radial derivatives 0..2 of a free atom's density (e/bohr^3, /bohr^4, /bohr^5) at
    r = 0, h, 2h ... (h = RADIAL_STEP_BOHR) up to where rho < 1e-15."""
    exps, coefs = element_params(symbol)
    r = np.arange(0., cutoff_radius_bohr(symbol) + RADIAL_STEP_BOHR, RADIAL_STEP_BOHR)
    g = np.exp(-np.outer(r * r, exps))
    return (g @ coefs, -2 * r * (g @ (exps * coefs)),
            (g * (4 * np.outer(r * r, exps ** 2) - 2 * exps)) @ coefs)


def cutoff_radius_bohr(symbol):
    """Distance beyond which the free atom's density is taken as zero: where its most diffuse
    Gaussian is below e^-36 of its height."""
    return float(np.sqrt(36. / element_params(symbol)[0].min()))


def _hermite(x, f, df):
    """Cubic Hermite interpolation at radii x of a table f, df on r = 0, h, 2h ...; 0 beyond."""
    h = RADIAL_STEP_BOHR
    t = x / h
    i = t.astype(np.int64)
    beyond = i >= len(f) - 1
    i[beyond] = 0
    t -= i
    t2 = t * t
    t3 = t2 * t
    out = ((2 * t3 - 3 * t2 + 1) * f[i] + (t3 - 2 * t2 + t) * h * df[i]
           + (3 * t2 - 2 * t3) * f[i + 1] + (t3 - t2) * h * df[i + 1])
    out[beyond] = 0.
    return out


def density_on_points(symbols, coords_bohr, points_bohr, deriv=0):
    """Superposition of free-atom densities at ``points_bohr`` (N, 3), in e/bohr^3.

    Returns rho (N,) for deriv=0, or (4, N) with the gradient for deriv=1.  Cubic Hermite
    interpolation of radial tables, accurate to a small fraction of the nuclear peak and
    faster than libcint's Gaussian sum, whose ~40 exponents per atom would dominate the
    fingerprints, the training crops and V_xc of the prediction.
    """
    points = np.asarray(points_bohr, dtype=float).reshape(-1, 3)
    out = np.zeros((4 if deriv else 1, len(points)))
    for sym, center in zip(symbols, np.asarray(coords_bohr, dtype=float).reshape(-1, 3)):
        rho, drho, d2rho = radial_table(sym)
        d = points - center
        dist = np.sqrt(np.einsum('gx,gx->g', d, d))
        out[0] += _hermite(dist, rho, drho)
        if deriv:
            out[1:] += d.T * (_hermite(dist, drho, d2rho) / np.maximum(dist, 1e-12))
    return out if deriv else out[0]


def density_on_grid(symbols, coords_bohr, grid):
    """Superposition of free-atom densities on a UniformGrid, (grid.shape) in e/bohr^3.

    Each atom is a sum of s Gaussians, and a Gaussian on a uniform grid is a product of three
    1D factors: per atom the sum over exponents is one matrix product over the part of the
    grid the atom reaches.
    """
    out = np.zeros(grid.shape)
    for sym, center in zip(symbols, np.asarray(coords_bohr, dtype=float).reshape(-1, 3)):
        box = grid.sub_box(center, cutoff_radius_bohr(sym))
        if box is not None:
            out[box] += atom_density_on_box(sym, center, grid, box)
    return out


def atom_density_on_box(symbol, center_bohr, grid, box):
    """One free atom's density (e/bohr^3) on the sub-box ``box`` of a UniformGrid."""
    exps, coefs = element_params(symbol)
    x, y, z = (axis - c for axis, c in zip(grid.sub_axes(box), center_bohr))
    fx, fy, fz = (np.exp(-np.outer(t * t, exps)) for t in (x, y, z))
    fxy = np.einsum('ia,ja->ija', fx * coefs, fy).reshape(-1, len(exps))
    return (fxy @ fz.T).reshape(len(x), len(y), len(z))


def molecule_density_on_points(mol, points_bohr, deriv=0):
    """density_on_points of the real atoms of ``mol`` (ghosts carry no density)."""
    return density_on_points(atom_symbols(mol), mol.atom_coords()[real_atoms(mol)],
                             points_bohr, deriv)


def free_atoms_auxmol(symbols, coords_bohr):
    """A Mole with one contracted s function per atom (element ``symbols``, positions in bohr).

    Returns (auxmol, coeff): the density sum_A coeff[A] * chi_A(r) equals the superposition of
    free atoms, so its Coulomb potential follows from three-centre integrals with ``auxmol``.
    """
    from pyscf import gto
    coords_bohr = np.asarray(coords_bohr, dtype=float).reshape(-1, 3)
    basis = {}
    for sym in set(symbols):
        exps, coefs = element_params(sym)
        # divide out the primitive norms PySCF multiplies in, keeping the shape sum_k c_k e^{-a_k r^2}
        basis[sym] = [[0] + [[a, c / gto.gto_norm(0, a)] for a, c in zip(exps, coefs)]]
    auxmol = gto.Mole(atom=list(zip(symbols, coords_bohr.tolist())), basis=basis, unit='Bohr',
                      charge=0, spin=None, verbose=0)
    auxmol.build(False, False)
    if not len(symbols):
        return auxmol, np.zeros(0)
    # PySCF renormalises contracted shells: recover the scale of each function numerically.
    values = np.diag(auxmol.eval_gto('GTOval_sph', coords_bohr))
    rho0 = np.array([element_params(s)[1].sum() for s in symbols])
    return auxmol, rho0 / values


def atoms_auxmol(mol):
    """free_atoms_auxmol of the real atoms of ``mol``."""
    return free_atoms_auxmol(atom_symbols(mol), mol.atom_coords()[real_atoms(mol)])


def s_function_integrals(auxmol):
    """Integral over space of every basis function of ``auxmol`` (zero except s functions)."""
    out = np.zeros(auxmol.nao)
    offsets = auxmol.ao_loc_nr()
    for ib in range(auxmol.nbas):
        if auxmol.bas_angular(ib) == 0:
            # libcint evaluates an s function as Y_00 * sum_k c_k exp(-a_k r^2)
            exps = auxmol.bas_exp(ib)
            coef = auxmol._libcint_ctr_coeff(ib)          # (nprim, nctr)
            y00 = 0.5 / np.sqrt(np.pi)
            out[offsets[ib]:offsets[ib + 1]] = y00 * ((np.pi / exps) ** 1.5) @ coef
    return out
