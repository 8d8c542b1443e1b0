"""Atomic fingerprints: the network's input channels, sampled on the uniform grid.

Channel 0 is the free-atom superposition rho_0 compressed as rho_0^(1/3) (its range spans five
orders of magnitude); channels 1.. are one per element, sum over atoms of that element of a
normalised-height Gaussian exp(-|r - R_A|^2 / (2 sigma^2)).  Both are sums of atom-centred terms,
so they translate with the molecule; rotations are learned by augmentation.
"""
import numpy as np

from pyscf.deepscf.engine import atoms

ELEMENT_CHANNELS = ('H', 'C', 'N', 'O', 'F', 'P', 'S', 'Cl')
SIGMA_BOHR = 0.7
N_CHANNELS = 1 + len(ELEMENT_CHANNELS)


def element_gaussian(d2_bohr2, sigma_bohr=SIGMA_BOHR):
    """An atom's element-channel value at squared distances ``d2_bohr2``: exp(-d2 / 2 sigma^2),
    zero beyond 6 sigma (shared by the pointwise and the grid construction)."""
    d2 = np.asarray(d2_bohr2)
    return np.where(d2 < (6 * sigma_bohr) ** 2, np.exp(-d2 / (2 * sigma_bohr ** 2)), 0.)


def fingerprints_on_points(symbols, coords_bohr, points_bohr, sigma_bohr=SIGMA_BOHR,
                           free_atom_density=None):
    """Fingerprint channels (N_CHANNELS, N) at points (N, 3); symbols/coords of the real atoms.

    ``free_atom_density``: the superposition of free atoms at the points when the caller has
    it already (e/bohr^3), else it is evaluated here.
    """
    points = np.asarray(points_bohr, dtype=float)
    out = np.zeros((N_CHANNELS, len(points)))
    if free_atom_density is None:
        free_atom_density = atoms.density_on_points(symbols, coords_bohr, points)
    out[0] = np.cbrt(free_atom_density)
    for sym, center in zip(symbols, np.asarray(coords_bohr, dtype=float)):
        d2 = np.einsum('gx,gx->g', points - center, points - center)
        out[1 + ELEMENT_CHANNELS.index(sym)] += element_gaussian(d2, sigma_bohr)
    return out


def fingerprints_on_grid(symbols, coords_bohr, grid):
    """Fingerprint channels (N_CHANNELS, *grid.shape) as float32.

    The same values as fingerprints_on_points at every grid point, built atom by atom on the
    part of the grid each atom reaches (a long chain's atoms each see a small part of its
    box).
    """
    out = np.zeros((N_CHANNELS,) + grid.shape, dtype=np.float32)
    out[0] = np.cbrt(atoms.density_on_grid(symbols, coords_bohr, grid))
    for sym, center in zip(symbols, np.asarray(coords_bohr, dtype=float).reshape(-1, 3)):
        box = grid.sub_box(center, 6 * SIGMA_BOHR)
        if box is not None:
            x2, y2, z2 = ((axis - c) ** 2 for axis, c in zip(grid.sub_axes(box), center))
            d2 = x2[:, None, None] + y2[None, :, None] + z2[None, None, :]
            out[1 + ELEMENT_CHANNELS.index(sym)][box] += element_gaussian(d2, SIGMA_BOHR)
    return out
