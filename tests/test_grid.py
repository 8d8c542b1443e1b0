import numpy as np

from pyscf.deepscf.grid import UniformGrid, box_grid


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


def test_sub_box_covers_exactly_the_points_within_the_cube():
    grid = UniformGrid([-1.0, -2.0, 0.5], 0.3, (10, 12, 7))
    center, radius = np.array([0.2, -0.4, 1.1]), 0.8
    box = grid.sub_box(center, radius)
    inside = np.all(abs(grid.coords() - center) <= radius, axis=1).reshape(grid.shape)
    mask = np.zeros(grid.shape, bool)
    mask[box] = True
    assert (mask == inside).all()
    assert np.allclose(np.stack(np.meshgrid(*grid.sub_axes(box), indexing='ij'), -1).reshape(-1, 3),
                       grid.coords()[inside.ravel()])
    assert grid.sub_box([50., 0., 0.], radius) is None
