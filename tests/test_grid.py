import numpy as np

from pyscf.deepscf.engine.grid import UniformGrid, box_grid, smoothed_point_charges


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


def test_smoothed_point_charges_are_normalized_gaussians():
    grid = UniformGrid([-3.0, -3.1, -2.9], 0.3, (21, 22, 20))
    points = np.array([[0.05, -0.13, 0.21], [0.7, 0.4, -0.3]])
    q = np.array([1.0, -0.5])
    field = smoothed_point_charges(grid, points, q, 0.2)
    pts = grid.coords()
    sigma = 0.2
    dense = sum(qi * np.exp(-((pts - p) ** 2).sum(1) / (2 * sigma ** 2)) for p, qi in zip(points, q))
    dense /= (2 * np.pi * sigma ** 2) ** 1.5
    assert np.allclose(field.ravel(), dense, atol=1e-3 * abs(dense).max())   # cut at 4 sigma
    assert abs(field.sum() * grid.voxel_volume - q.sum()) < 1e-3
    outside = smoothed_point_charges(grid, np.array([[30., 0, 0]]), [1.0], 0.2)
    assert not outside.any()


def test_sub_grid_between_two_corners_holds_the_same_points():
    grid = UniformGrid([-1., 0., 2.], 0.5, (10, 8, 6))
    box = grid.sub_box_between([0., 0.6, 2.4], [2.1, 2.0, 9.])
    sub = grid.sub_grid(box)
    assert np.allclose(sub.coords(), grid.coords().reshape(*grid.shape, 3)[box].reshape(-1, 3))
    assert sub.coords()[:, 0].min() >= 0. and sub.coords()[:, 0].max() <= 2.1
    assert grid.sub_box_between([10., 0., 0.], [11., 1., 1.]) is None
