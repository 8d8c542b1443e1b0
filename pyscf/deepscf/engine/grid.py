"""The uniform box grid on which densities and fingerprints are sampled (bohr throughout)."""
import numpy as np

from pyscf.deepscf.engine.atoms import real_atoms


class UniformGrid:
    """Axis-aligned uniform grid: point (i, j, k) sits at ``origin + spacing * (i, j, k)``.

    Attributes:
        origin_bohr : (3,) first grid point in bohr
        spacing_bohr : float, distance between neighbouring points in bohr
        shape : (nx, ny, nz)
    """

    def __init__(self, origin_bohr, spacing_bohr, shape):
        self.origin_bohr = np.asarray(origin_bohr, dtype=float)
        self.spacing_bohr = float(spacing_bohr)
        self.shape = tuple(int(n) for n in shape)

    @property
    def size(self):
        return int(np.prod(self.shape))

    @property
    def voxel_volume(self):
        """Volume per point in bohr^3 (the quadrature weight of the grid)."""
        return self.spacing_bohr ** 3

    def axes(self):
        return [self.origin_bohr[d] + self.spacing_bohr * np.arange(self.shape[d])
                for d in range(3)]

    def coords(self, start=0, stop=None):
        """Cartesian points (N, 3) in bohr, C order (z fastest); a slice of them if asked."""
        stop = self.size if stop is None else min(stop, self.size)
        ijk = np.stack(np.unravel_index(np.arange(start, stop), self.shape), axis=1)
        return self.origin_bohr + self.spacing_bohr * ijk

    def chunks(self, blksize=65536):
        """Yield (start, stop, coords) over the grid in blocks, to bound memory."""
        for start in range(0, self.size, blksize):
            stop = min(start + blksize, self.size)
            yield start, stop, self.coords(start, stop)

    def sub_box(self, center_bohr, radius_bohr):
        """Slices (three, into arrays of ``shape``) of the grid's part within the cube of
        half-edge ``radius_bohr`` around a point; None when they do not overlap."""
        center_bohr = np.asarray(center_bohr, dtype=float)
        return self.sub_box_between(center_bohr - radius_bohr, center_bohr + radius_bohr)

    def sub_box_between(self, lo_bohr, hi_bohr):
        """Slices of the grid's part within the box from corner ``lo_bohr`` to ``hi_bohr``;
        None when they do not overlap."""
        lo = np.ceil((np.asarray(lo_bohr) - self.origin_bohr) / self.spacing_bohr)
        hi = np.floor((np.asarray(hi_bohr) - self.origin_bohr) / self.spacing_bohr)
        lo = np.maximum(lo.astype(int), 0)
        hi = np.minimum(hi.astype(int) + 1, self.shape)
        if np.any(hi <= lo):
            return None
        return tuple(slice(a, b) for a, b in zip(lo, hi))

    def sub_grid(self, box):
        """The UniformGrid of a sub_box."""
        return UniformGrid(self.origin_bohr + self.spacing_bohr * np.array([b.start for b in box]),
                           self.spacing_bohr, [b.stop - b.start for b in box])

    def sub_axes(self, box):
        """The coordinates (bohr) along x, y, z of a sub_box."""
        return [self.origin_bohr[d] + self.spacing_bohr * np.arange(box[d].start, box[d].stop)
                for d in range(3)]

    def __repr__(self):
        return (f'UniformGrid(origin_bohr={self.origin_bohr.round(4).tolist()}, '
                f'spacing_bohr={self.spacing_bohr}, shape={self.shape})')


def box_grid(coords_bohr, spacing_bohr, margin_bohr, multiple=1):
    """Grid covering the atoms plus ``margin_bohr`` on each side, centred on the atoms.

    ``multiple``: each dimension is rounded up to a multiple of it (the network's down-sampling).
    """
    coords = np.asarray(coords_bohr, dtype=float).reshape(-1, 3)
    lo = coords.min(axis=0) - margin_bohr
    hi = coords.max(axis=0) + margin_bohr
    n = np.ceil((hi - lo) / spacing_bohr).astype(int) + 1
    n = (n + multiple - 1) // multiple * multiple
    center = (lo + hi) / 2
    origin = center - spacing_bohr * (n - 1) / 2
    return UniformGrid(origin, spacing_bohr, n)


def random_rotation(rng):
    """A uniformly random proper rotation matrix (3, 3) from a numpy Generator."""
    q = rng.standard_normal(4)
    a, b, c, d = q / np.linalg.norm(q)
    return np.array([[a*a + b*b - c*c - d*d, 2*(b*c - a*d), 2*(b*d + a*c)],
                     [2*(b*c + a*d), a*a - b*b + c*c - d*d, 2*(c*d - a*b)],
                     [2*(b*d - a*c), 2*(c*d + a*b), a*a - b*b - c*c + d*d]])


def rotate(coords_bohr, rotation, center):
    """Points rotated by ``rotation`` about ``center``: (p − c) Rᵀ + c."""
    return (np.asarray(coords_bohr) - center) @ rotation.T + center


def rotated_box(coords_bohr, rotation, spacing_bohr, margin_bohr, multiple=1):
    """(grid, center): the box grid around atoms rotated about their centroid."""
    coords = np.asarray(coords_bohr, dtype=float).reshape(-1, 3)
    center = coords.mean(axis=0)
    return box_grid(rotate(coords, rotation, center), spacing_bohr, margin_bohr, multiple), center


def random_crop(grid, crop, rng):
    """A random sub-grid of ``grid`` of crop points per axis (the whole axis where the grid is
    shorter), its start drawn from the numpy Generator ``rng``."""
    start = [int(rng.integers(0, n - crop + 1)) if n > crop else 0 for n in grid.shape]
    size = [min(n, crop) for n in grid.shape]
    return UniformGrid(grid.origin_bohr + grid.spacing_bohr * np.array(start),
                       grid.spacing_bohr, size)


def molecule_grid(mol, spacing_bohr, margin_bohr, multiple=1):
    """box_grid around the real atoms of a Mole (ghost atoms and point charges left out)."""
    return box_grid(mol.atom_coords()[real_atoms(mol)], spacing_bohr, margin_bohr, multiple)


def smoothed_point_charges(grid, points_bohr, charges, smoothing_bohr, block=20000):
    """The field sum_p q_p G_sigma(g - r_p) on ``grid`` (charge/bohr^3): point charges (e.g.
    a density times the weights of a DFT quadrature) spread by a normalized Gaussian of standard
    deviation ``smoothing_bohr``, cut at 4 sigma.

    Each Gaussian is a product of three 1D factors, so a point adds a (n, n, n) outer product
    on the grid points around it (n = 2 ceil(4 sigma / h) + 2); done as n^2 weighted bincounts
    per block of points.
    """
    points = np.asarray(points_bohr, dtype=float).reshape(-1, 3)
    charges = np.asarray(charges, dtype=float).ravel()
    h = grid.spacing_bohr
    reach = int(np.ceil(4 * smoothing_bohr / h))
    # only the points whose stencil touches the grid (a training crop sees a part of the atoms)
    lo = grid.origin_bohr - (reach + 1) * h
    hi = grid.origin_bohr + (np.array(grid.shape) + reach) * h
    near = np.all((points > lo) & (points < hi), axis=1)
    points, charges = points[near], charges[near]
    offsets = np.arange(-reach, reach + 2)
    norm = 1. / (np.sqrt(2 * np.pi) * smoothing_bohr)
    out = np.zeros(grid.size)
    for start in range(0, len(points), block):
        pts, q = points[start:start + block], charges[start:start + block]
        index, weight = [], []
        for d in range(3):
            i = np.floor((pts[:, d] - grid.origin_bohr[d]) / h).astype(int)[:, None] + offsets
            x = grid.origin_bohr[d] + h * i - pts[:, d:d + 1]
            w = norm * np.exp(-x * x / (2 * smoothing_bohr ** 2))
            inside = (i >= 0) & (i < grid.shape[d])
            index.append(np.where(inside, i, 0))
            weight.append(np.where(inside, w, 0.))
        for a in range(len(offsets)):
            qa = q * weight[0][:, a]
            for b in range(len(offsets)):
                qab = qa * weight[1][:, b]
                row = (index[0][:, a] * grid.shape[1] + index[1][:, b]) * grid.shape[2]
                flat = (row[:, None] + index[2]).ravel()
                out += np.bincount(flat, (qab[:, None] * weight[2]).ravel(), grid.size)
    return out.reshape(grid.shape)


def sample_on_grid(fn, grid, blksize=32768):
    """``fn(coords)`` (coords (N, 3) in bohr) over the grid in blocks; an array of grid.shape."""
    out = np.empty(grid.size)
    for start, stop, coords in grid.chunks(blksize):
        out[start:stop] = fn(coords)
    return out.reshape(grid.shape)
