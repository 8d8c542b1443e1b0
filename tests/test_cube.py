"""Pictures of the prediction: the three-panel slice through the molecular plane."""
import numpy as np
from pyscf import dft

from pyscf.deepscf import cube, predict
from pyscf.deepscf.reference_predictors import ZeroPredictor

from conftest import requires


def test_molecular_plane_holds_the_atoms(water):
    points, proj, half = cube.molecular_plane(water, npoints=20)
    assert points.shape == (400, 3) and proj.shape == (3, 2)
    # water is planar: its atoms lie in the plane, at the projected distances from the centroid
    centered = water.atom_coords() - water.atom_coords().mean(axis=0)
    assert np.allclose(np.linalg.norm(proj, axis=1), np.linalg.norm(centered, axis=1))
    assert half > np.abs(proj).max()


@requires('matplotlib')
def test_slices_picture(water, tmp_path):
    mf = dft.RKS(water, xc='pbe').run()
    density = predict.predict_density(water, ZeroPredictor())
    path = cube.slices_picture(water, density, mf.make_rdm1(), str(tmp_path / 's.png'),
                               npoints=40)
    assert open(path, 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
