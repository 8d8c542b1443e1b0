"""Gaussian cube files and pictures of the predicted density and residual density.

Cube files use PySCF's own writer (``pyscf.tools.cubegen.Cube``: bohr, the box of the atoms plus
a margin), so they read back in PySCF, VMD, Avogadro and ASE and line up point by point with
``cubegen.density`` of an SCF density matrix.
"""
import numpy as np
from pyscf.tools import cubegen

from pyscf.deepscf.engine import atoms as atoms_mod


def density_cube(mol, density, path, residual=False, resolution_bohr=None, margin_bohr=3.0,
                 nx=80, ny=80, nz=80):
    """Write rho_pred (or its residual, rho_pred - free atoms) in e/bohr^3 to ``path``.

    ``density`` is a PredictedDensity.  Returns (cube, values) with values of shape
    (nx, ny, nz).
    """
    cube = cubegen.Cube(mol, nx, ny, nz, resolution=resolution_bohr, margin=margin_bohr)
    coords = cube.get_coords()
    values = np.empty(len(coords))
    for i in range(0, len(coords), 65536):
        values[i:i + 65536] = density.eval_rho(coords[i:i + 65536])
    if residual:
        values -= atoms_mod.molecule_density_on_points(mol, coords)
    values = values.reshape(cube.nx, cube.ny, cube.nz)
    kind = 'residual density (rho_pred - free atoms)' if residual else 'predicted density'
    cube.write(values, path, comment=f'deepscf {kind}, e/bohr^3')
    return cube, values


def residual_picture(mol, density, path, extent_bohr=None, npoints=160):
    """PNG of the residual density in the molecule's best-fitting plane (bonds show as red).

    The plane is spanned by the two main axes of the atom positions; atoms are marked.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    idx = atoms_mod.real_atoms(mol)
    xyz = mol.atom_coords()[idx]
    center = xyz.mean(axis=0)
    _, _, vt = np.linalg.svd(xyz - center) if len(xyz) > 1 else (None, None, np.eye(3))
    u, v = vt[0], vt[1]
    proj = (xyz - center) @ np.stack([u, v], 1)
    half = extent_bohr or (np.abs(proj).max() + 3.0)
    s = np.linspace(-half, half, npoints)
    su, sv = np.meshgrid(s, s, indexing='xy')
    pts = center + su.reshape(-1, 1) * u + sv.reshape(-1, 1) * v
    sym = atoms_mod.atom_symbols(mol)
    field = density.eval_rho(pts) - atoms_mod.density_on_points(sym, xyz, pts)
    field = field.reshape(su.shape)
    lim = np.percentile(np.abs(field), 99.5) or 1e-3
    fig, ax = plt.subplots(figsize=(6, 5.4))
    im = ax.imshow(field, origin='lower', extent=(-half, half, -half, half), cmap='RdBu_r',
                   vmin=-lim, vmax=lim)
    for (x, y), name in zip(proj, sym):
        ax.plot(x, y, 'ko', ms=3)
        ax.annotate(name, (x, y), textcoords='offset points', xytext=(3, 3), fontsize=8)
    ax.set_xlabel('bohr')
    ax.set_ylabel('bohr')
    ax.set_title('residual density, molecular plane', fontsize=10)
    fig.colorbar(im, ax=ax, label='e / bohr$^3$')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
