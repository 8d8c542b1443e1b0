"""The fit of the residual for large molecules, one overlapping domain at a time.

fit.fit_residual solves one least-squares problem for the whole molecule: memory grows as
functions^2 and time as functions^3.  Its Gram matrix is sparse, but the diffuse functions of
neighbouring atoms are nearly dependent, so the *coefficients* are not local; the *density*
is.  So the data are split instead of the coefficients: space is cut into cubic tiles, each
tile takes its atoms' Hirshfeld share of the residual (weights from the free atoms, a partition
of unity), and that piece is fitted by fit.fit_residual with the functions of every atom
within ``buffer_bohr`` of the tile, on the grid around them.  The fit is linear in the data, so
the pieces' fits add up to a fit of the whole (docs/how_it_works.md gives the accuracy).
"""
import numpy as np
from pyscf import gto

from pyscf.deepscf.engine import atoms as atoms_mod, fit, memory


def tiles(coords_bohr, edge_bohr):
    """The atoms (index arrays) in each occupied cube of edge ``edge_bohr``."""
    cell = np.floor((coords_bohr - coords_bohr.min(axis=0)) / edge_bohr).astype(int)
    _, label = np.unique(cell, axis=0, return_inverse=True)
    return [np.nonzero(label.ravel() == k)[0] for k in range(label.max() + 1)]


def sub_auxmol(auxmol, atom_indices):
    """The functions of ``auxmol`` on some of its atoms, in the same order and normalization."""
    sub = gto.Mole(atom=[[auxmol.atom_symbol(i), auxmol.atom_coord(i)] for i in atom_indices],
                   basis=auxmol._basis, unit='Bohr', spin=None, verbose=0)
    sub.build(False, False)
    return sub


def _free_atom_boxes(symbols, coords_bohr, grid):
    """Per atom (its box on the grid, its free density there, clipped at zero: a partition
    weight must not change sign in the far tail of a Gaussian fit)."""
    out = []
    for sym, center in zip(symbols, coords_bohr):
        box = grid.sub_box(center, atoms_mod.cutoff_radius_bohr(sym))
        rho = None if box is None else np.maximum(
            atoms_mod.atom_density_on_box(sym, center, grid, box), 0.)
        out.append((box, rho))
    return out


def _share_on(window, atom_boxes, core):
    """Sum of the free densities of the ``core`` atoms on ``window`` (slices of the grid)."""
    shape = [s.stop - s.start for s in window]
    out = np.zeros(shape)
    for i in core:
        box, rho = atom_boxes[i]
        if box is None:
            continue
        lo = [max(b.start, w.start) for b, w in zip(box, window)]
        hi = [min(b.stop, w.stop) for b, w in zip(box, window)]
        if any(h <= l for l, h in zip(lo, hi)):
            continue
        out[tuple(slice(l - w.start, h - w.start) for l, h, w in zip(lo, hi, window))] += \
            rho[tuple(slice(l - b.start, h - b.start) for l, h, b in zip(lo, hi, box))]
    return out


def fit_residual_by_domains(auxmol, grid, residual_density, charge=0.0, core_radius_bohr=0.2,
                            smoothing_bohr=0.0, tile_bohr=10., buffer_bohr=4., margin_bohr=8.):
    """fit.fit_residual's coefficients for a large molecule, domain by domain (distances in
    bohr; ``core_radius_bohr`` and ``smoothing_bohr`` as fit.fit_residual takes them).

    Tiles are cubes of ``tile_bohr``; a tile's domain holds the atoms within ``buffer_bohr`` of
    its atoms' bounding box, and its piece of the residual is fitted on the grid within
    ``margin_bohr`` of the domain's atoms, so that every function is sampled where it is not
    negligible (a function cut off by the window is free to grow beyond it).  The pieces'
    charges are their grid charges plus a share (by atoms) of the difference from ``charge``,
    so that the total is ``charge``.
    """
    coords = auxmol.atom_coords()
    symbols = atoms_mod.atom_symbols(auxmol)
    residual_density = np.asarray(residual_density, dtype=float)
    memory.require(8 * 2 * grid.size, f'the fit of the residual by domains (grid {grid.shape})')
    atom_boxes = _free_atom_boxes(symbols, coords, grid)
    free = np.zeros(grid.shape)
    for box, rho in atom_boxes:
        if box is not None:
            free[box] += rho

    def domain_of(core):
        lo, hi = coords[core].min(axis=0) - buffer_bohr, coords[core].max(axis=0) + buffer_bohr
        domain = np.nonzero(np.all((coords >= lo) & (coords <= hi), axis=1))[0]
        window = grid.sub_box_between(coords[domain].min(axis=0) - margin_bohr,
                                      coords[domain].max(axis=0) + margin_bohr)
        share = _share_on(window, atom_boxes, core) / np.maximum(free[window], 1e-300)
        return domain, window, residual_density[window] * np.clip(share, 0., 1.)

    cores = tiles(coords, tile_bohr)
    # each piece is made twice (for its charge, then for its fit) rather than kept: the windows
    # of compact molecules overlap many times over, and together they would outweigh the grid
    piece_charges = np.array([domain_of(core)[2].sum() for core in cores]) * grid.voxel_volume
    missing = charge - piece_charges.sum()
    aoslice = auxmol.aoslice_by_atom()[:, 2:4]
    coeff = np.zeros(auxmol.nao)
    for core, piece_charge in zip(cores, piece_charges):
        domain, window, piece = domain_of(core)
        sub_coeff = fit.fit_residual(sub_auxmol(auxmol, domain), grid.sub_grid(window), piece,
                                     piece_charge + missing * len(core) / auxmol.natm,
                                     core_radius_bohr=core_radius_bohr,
                                     smoothing_bohr=smoothing_bohr)
        start = 0
        for i in domain:
            f0, f1 = aoslice[i]
            coeff[f0:f1] += sub_coeff[start:start + f1 - f0]
            start += f1 - f0
    return coeff
