import numpy as np

from pyscf.deepscf.engine import atoms, fingerprints
from pyscf.deepscf.engine.grid import molecule_grid


def test_grid_fingerprints_equal_pointwise_ones(water):
    """The atom-by-atom grid construction gives fingerprints_on_points at every grid point."""
    grid = molecule_grid(water, 0.3, 5.0, 4)
    symbols, xyz = atoms.atom_symbols(water), water.atom_coords()
    on_grid = fingerprints.fingerprints_on_grid(symbols, xyz, grid)
    pointwise = fingerprints.fingerprints_on_points(symbols, xyz, grid.coords())
    assert on_grid.shape == (fingerprints.N_CHANNELS,) + grid.shape
    assert np.allclose(on_grid.reshape(fingerprints.N_CHANNELS, -1), pointwise, atol=1e-6)
    assert on_grid[fingerprints.ELEMENT_CHANNELS.index('C') + 1].max() == 0   # no carbon
