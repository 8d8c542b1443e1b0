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


def molecular_plane(mol, npoints=160, extent_bohr=None):
    """Points of the plane spanned by the two main axes of the atom positions (through their
    centroid): (points (npoints², 3) bohr, atom positions in the plane (natm, 2), half-width)."""
    idx = atoms_mod.real_atoms(mol)
    xyz = mol.atom_coords()[idx]
    center = xyz.mean(axis=0)
    _, _, vt = np.linalg.svd(xyz - center) if len(xyz) > 1 else (None, None, np.eye(3))
    u, v = vt[0], vt[1]
    proj = (xyz - center) @ np.stack([u, v], 1)
    half = extent_bohr or (np.abs(proj).max() + 3.0)
    s = np.linspace(-half, half, npoints)
    su, sv = np.meshgrid(s, s, indexing='xy')
    return center + su.reshape(-1, 1) * u + sv.reshape(-1, 1) * v, proj, half


def _panel(fig, ax, field, proj, symbols, half, title, cmap='RdBu_r', symmetric=True):
    lim = np.percentile(np.abs(field), 99.5) or 1e-3
    im = ax.imshow(field, origin='lower', extent=(-half, half, -half, half), cmap=cmap,
                   vmin=-lim if symmetric else 0, vmax=lim)
    for (x, y), name in zip(proj, symbols):
        ax.plot(x, y, 'ko', ms=3)
        ax.annotate(name, (x, y), textcoords='offset points', xytext=(3, 3), fontsize=8)
    ax.set_xlabel('bohr')
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8)


def residual_picture(mol, density, path, extent_bohr=None, npoints=160):
    """PNG of the residual density in the molecule's best-fitting plane (bonds show as red)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    pts, proj, half = molecular_plane(mol, npoints, extent_bohr)
    sym = atoms_mod.atom_symbols(mol)
    xyz = mol.atom_coords()[atoms_mod.real_atoms(mol)]
    field = density.eval_rho(pts) - atoms_mod.density_on_points(sym, xyz, pts)
    fig, ax = plt.subplots(figsize=(6, 5.4))
    _panel(fig, ax, field.reshape(npoints, npoints), proj, sym, half,
           'residual density (e/bohr$^3$), molecular plane')
    ax.set_ylabel('bohr')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def slices_picture(mol, density, dm_scf, path, npoints=160):
    """PNG of three slices through the molecular plane: the network's input (fingerprint
    channel 0, ρ0^(1/3)), the predicted residual density and the SCF's (``dm_scf``), e/bohr³."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from pyscf.dft import numint
    pts, proj, half = molecular_plane(mol, npoints)
    sym = atoms_mod.atom_symbols(mol)
    xyz = mol.atom_coords()[atoms_mod.real_atoms(mol)]
    rho0 = atoms_mod.density_on_points(sym, xyz, pts)
    rho_scf = numint.eval_rho(mol, numint.eval_ao(mol, pts), np.asarray(dm_scf))
    fields = [np.cbrt(rho0), density.eval_rho(pts) - rho0, rho_scf - rho0]
    titles = ['input: fingerprint $\\rho_0^{1/3}$', 'predicted residual $\\Delta\\rho$',
              'SCF residual $\\Delta\\rho$']
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    lim = np.percentile(np.abs(fields[2]), 99.5)
    for k, (ax, field, title) in enumerate(zip(axes, fields, titles)):
        field = field.reshape(npoints, npoints)
        if k:                                   # both residuals on the SCF's colour scale
            field = np.clip(field, -lim, lim)
        _panel(fig, ax, field, proj, sym, half, title, 'viridis' if k == 0 else 'RdBu_r',
               symmetric=k > 0)
    axes[0].set_ylabel('bohr')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
