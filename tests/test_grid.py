import numpy as np

from pyscf.deepscf.grid import box_grid


def test_box_covers_atoms_with_margin_and_rounds_shape():
    xyz = np.array([[0., 0, 0], [3., 1, -2]])
    grid = box_grid(xyz, 0.3, 4.0, multiple=4)
    pts = grid.coords()
    assert all(n % 4 == 0 for n in grid.shape)
    assert np.all(pts.min(0) <= xyz.min(0) - 4.0 + 1e-9)
    assert np.all(pts.max(0) >= xyz.max(0) + 4.0 - 1e-9)
    assert np.allclose(pts[1] - pts[0], [0, 0, 0.3])       # C order, z fastest
    assert len(pts) == grid.size


def test_chunks_cover_grid_once():
    grid = box_grid(np.zeros((1, 3)), 0.5, 2.0)
    pieces = [c for _, _, c in grid.chunks(1000)]
    assert np.allclose(np.concatenate(pieces), grid.coords())
