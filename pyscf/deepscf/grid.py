"""The uniform box grid on which densities and fingerprints are sampled (bohr throughout)."""
import numpy as np


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
        lo = np.ceil((np.asarray(center_bohr) - radius_bohr - self.origin_bohr) / self.spacing_bohr)
        hi = np.floor((np.asarray(center_bohr) + radius_bohr - self.origin_bohr) / self.spacing_bohr)
        lo = np.maximum(lo.astype(int), 0)
        hi = np.minimum(hi.astype(int) + 1, self.shape)
        if np.any(hi <= lo):
            return None
        return tuple(slice(a, b) for a, b in zip(lo, hi))

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
