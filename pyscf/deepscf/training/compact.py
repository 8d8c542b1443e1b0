"""The compact training set: every stored SCF density in one small file, sampled in torch.

The GPU training kit (scripts/gpu_train.py) runs where PySCF is absent and at most 64 MiB
travel, so it cannot read the HDF5 records (a density matrix per structure and PySCF to
evaluate it).  Here each record's density matrix D is stored as a factor L with D = L Lᵀ in
*Cartesian* Gaussians (``L = c2s @ V sqrt(λ)`` from the eigenvectors of D; its rank is the
number of occupied orbitals, so nothing is truncated), and the density at any point is

    ρ(r) = Σ_k (Σ_μ χ_μ(r) L_μk)²,     χ_μ = x^lx y^ly z^lz Σ_p c_p exp(−a_p r²)

with the basis's exponents and contraction coefficients (libcint's normalisation, s and p
angular factors included) stored once per element.  The training target Δρ = ρ − Σ ρ_atom and
the fingerprints are then evaluated on the fly, on the GPU or the CPU, exactly as
``dataset.crop_sample`` evaluates them with PySCF: the same rotations and crops for the same
random numbers.  ``data.write_compact`` writes the file (it needs PySCF); this module needs
torch and numpy only.

File (numpy .npz, no pickled objects): ``format_version``, ``settings_json`` (the reference
level), the basis tables ``elements``, ``shell_element``, ``shell_l``, ``shell_prim_start``,
``prim_exp``, ``prim_coef``, and per structure ``ids``, ``splits``, ``atom_start``,
``atomic_numbers``, ``coords_bohr``, ``factor_start``, ``factor_cols`` and the flat ``factor``
(float32 or float16).  Bohr and electrons throughout.
"""
import collections
import glob
import json
import os

import numpy as np
import torch

from pyscf.deepscf.engine import atoms
from pyscf.deepscf.engine.fingerprints import ELEMENT_CHANNELS, N_CHANNELS, SIGMA_BOHR
from pyscf.deepscf.engine.grid import random_crop, random_rotation, rotate, rotated_box

FORMAT_VERSION = 1
SYMBOLS = ('X', 'H', 'He', 'Li', 'Be', 'B', 'C', 'N', 'O', 'F', 'Ne', 'Na', 'Mg', 'Al', 'Si',
           'P', 'S', 'Cl', 'Ar')
POINT_BLOCK = 8192          # points per evaluation block: bounds memory on CPU and GPU alike


def cartesian_powers(l):
    """(lx, ly, lz) of the Cartesian components of angular momentum ``l`` in PySCF's order
    (xx, xy, xz, yy, yz, zz for d)."""
    return [(lx, ly, l - lx - ly) for lx in range(l, -1, -1) for ly in range(l - lx, -1, -1)]


def compact_files(sources):
    """The compact files (.npz) of ``sources``: one path or a list of files and folders (a
    folder: its .npz files, sorted), or ValueError naming what is missing."""
    files = []
    for source in [sources] if isinstance(sources, str) else list(sources):
        if os.path.isdir(source):
            inside = sorted(glob.glob(os.path.join(source, '*.npz')))
            if not inside:
                raise ValueError(f'{source}: no compact file (.npz) in this folder')
            files += inside
        elif os.path.isfile(source):
            files.append(source)
        else:
            raise ValueError(f'{source}: no compact file or folder')
    if not files:
        raise ValueError('no compact file given')
    return files


def read_compact_arrays(path):
    """The arrays of a compact file, or ValueError if it is not one."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as err:
        raise ValueError(f'{path}: not a compact file (.npz): {err}') from None
    if 'format_version' not in arrays or 'settings_json' not in arrays:
        raise ValueError(f'{path}: not a compact file (no format_version, settings_json)')
    if int(arrays['format_version']) != FORMAT_VERSION:
        raise ValueError(f'{path}: compact format {int(arrays["format_version"])}, this '
                         f'pyscf-deepscf reads {FORMAT_VERSION}')
    return arrays


# settings that may differ between merged sources: the code that wrote them, the storage
LEVEL_FREE_SETTINGS = ('code_version', 'factor_dtype', 'factor_threshold')


def merge_compact_arrays(parts, dtype=None, names=None):
    """One compact file's arrays from several (``parts``): the same level of theory, split seed
    and basis per element required, structure ids unique; factors stored as ``dtype`` (None:
    as they are, the wider where they differ)."""
    names = names or [f'part {i}' for i in range(len(parts))]
    settings = [json.loads(str(a['settings_json'])) for a in parts]
    level = [{k: v for k, v in s.items() if k not in LEVEL_FREE_SETTINGS} for s in settings]
    for name, lv in zip(names, level):
        if lv != level[0]:
            raise ValueError(f'{name}: settings {lv} differ from {names[0]}: {level[0]}')
    shells = {}                             # element -> [(l, exps, coefs)], first source's
    for name, a in zip(names, parts):
        for e, element in enumerate(str(x) for x in a['elements']):
            own = [(int(a['shell_l'][s]), a['prim_exp'][a['shell_prim_start'][s]:
                                                        a['shell_prim_start'][s + 1]],
                    a['prim_coef'][a['shell_prim_start'][s]:a['shell_prim_start'][s + 1]])
                   for s in np.flatnonzero(a['shell_element'] == e)]
            if element not in shells:
                shells[element] = own
            elif len(own) != len(shells[element]) or any(
                    l0 != l1 or not np.array_equal(e0, e1) or not np.array_equal(c0, c1)
                    for (l0, e0, c0), (l1, e1, c1) in zip(own, shells[element])):
                raise ValueError(f'{name}: the basis of {element} differs from the other sources')
    ids = np.concatenate([a['ids'] for a in parts])
    repeated = [k for k, n in collections.Counter(ids.tolist()).items() if n > 1]
    if repeated:
        raise ValueError(f'structures in more than one source: {", ".join(repeated[:5])}')
    elements = list(shells)
    flat = [(e, l, x, c) for e, element in enumerate(elements) for l, x, c in shells[element]]
    nprim = [len(x) for _, _, x, _ in flat]
    dtype = np.dtype(dtype) if dtype else np.result_type(*[a['factor'] for a in parts])
    factors = [a['factor'].astype(dtype) for a in parts]
    return {
        'format_version': np.int64(FORMAT_VERSION),
        'settings_json': np.str_(json.dumps({
            **settings[0], 'factor_dtype': dtype.name,
            'factor_threshold': max(s.get('factor_threshold', 0) for s in settings)})),
        'elements': np.array(elements), 'shell_element': np.array([f[0] for f in flat]),
        'shell_l': np.array([f[1] for f in flat]),
        'shell_prim_start': np.concatenate([[0], np.cumsum(nprim)]),
        'prim_exp': np.concatenate([f[2] for f in flat]),
        'prim_coef': np.concatenate([f[3] for f in flat]),
        'ids': ids, 'splits': np.concatenate([a['splits'] for a in parts]),
        'atom_start': _joined_starts([a['atom_start'] for a in parts]),
        'atomic_numbers': np.concatenate([a['atomic_numbers'] for a in parts]),
        'coords_bohr': np.concatenate([a['coords_bohr'] for a in parts]),
        'factor_start': _joined_starts([a['factor_start'] for a in parts]),
        'factor_cols': np.concatenate([a['factor_cols'] for a in parts]),
        'factor': np.concatenate(factors)}


def _joined_starts(starts):
    """Offsets [0, ..., total] of concatenated pieces from each piece's own offsets."""
    out, base = [np.zeros(1, dtype=np.int64)], 0
    for s in starts:
        out.append(np.asarray(s[1:], dtype=np.int64) + base)
        base += int(s[-1])
    return np.concatenate(out)


class CompactSet:
    """The arrays of one or more compact files (numpy), merged as ``deepscf data compact`` would
    merge them: ``sources`` is a file, a folder of them (the GPU kit's ``kit/``) or a list;
    ``structure(i, device)`` gives one structure for sampling."""

    def __init__(self, sources):
        self.files = compact_files(sources)
        parts = [read_compact_arrays(p) for p in self.files]
        self.arrays = parts[0] if len(parts) == 1 else merge_compact_arrays(parts,
                                                                            names=self.files)
        a = self.arrays
        self.path = ' '.join(self.files)
        self.settings = json.loads(str(a['settings_json']))
        self.ids = [str(s) for s in a['ids']]
        self.splits = [str(s) for s in a['splits']]
        self.elements = [str(s) for s in a['elements']]

    def __len__(self):
        return len(self.ids)

    def indices(self, split):
        """Indices of the structures of one split ('train', 'val' or 'test')."""
        return [i for i, s in enumerate(self.splits) if s == split]

    def symbols(self, i):
        """Element symbols of structure ``i`` (without building it)."""
        lo, hi = self.arrays['atom_start'][i], self.arrays['atom_start'][i + 1]
        return [SYMBOLS[k] for k in self.arrays['atomic_numbers'][lo:hi]]

    def structure(self, i, device='cpu'):
        a = self.arrays
        lo, hi = a['atom_start'][i], a['atom_start'][i + 1]
        f0, f1 = a['factor_start'][i], a['factor_start'][i + 1]
        factor = a['factor'][f0:f1].astype(np.float64).reshape(-1, int(a['factor_cols'][i]))
        return Structure(self.symbols(i), a['coords_bohr'][lo:hi], factor, self.basis, device)

    @property
    def basis(self):
        """{element: [(l, exponents, coefficients)]} of the stored basis."""
        a = self.arrays
        out = {e: [] for e in self.elements}
        for s, e in enumerate(a['shell_element']):
            p0, p1 = a['shell_prim_start'][s], a['shell_prim_start'][s + 1]
            out[self.elements[e]].append((int(a['shell_l'][s]), a['prim_exp'][p0:p1],
                                          a['prim_coef'][p0:p1]))
        return out


class Structure:
    """One stored structure as torch tensors on ``device`` (float64): atoms, free-atom
    Gaussians, and its density as primitives, Cartesian functions and the factor L.

    basis: {element: [(l, exponents, coefficients)]}, dataset.element_basis of each element.
    """

    def __init__(self, symbols, coords_bohr, factor, basis, device='cpu'):
        dev = torch.device(device)
        self.symbols = list(symbols)
        self.coords_np = np.asarray(coords_bohr, dtype=float).reshape(-1, 3)
        self.coords = torch.tensor(self.coords_np, dtype=torch.float64, device=dev)
        self.channel = torch.tensor([1 + ELEMENT_CHANNELS.index(s) for s in symbols],
                                    device=dev)
        # free atoms: exponents and coefficients per atom, padded with zero coefficients
        params = [atoms.element_params(s) for s in symbols]
        k = max(len(e) for e, _ in params)
        exps, coefs = np.ones((len(symbols), k)), np.zeros((len(symbols), k))
        for i, (e, c) in enumerate(params):
            exps[i, :len(e)], coefs[i, :len(c)] = e, c
        self.free_exp = torch.tensor(exps, device=dev)
        self.free_coef = torch.tensor(coefs, device=dev)
        # the basis: primitives (atom, exponent, coefficient, shell) and Cartesian functions
        # (atom, shell, powers), in PySCF's order of shells and components
        prim_atom, prim_exp, prim_coef, prim_shell, ao_atom, ao_shell, ao_pow = ([] for _ in
                                                                                range(7))
        n_shell = 0
        for ia, sym in enumerate(symbols):
            for l, e, c in basis[sym]:
                prim_atom += [ia] * len(e)
                prim_exp += list(e)
                prim_coef += list(c)
                prim_shell += [n_shell] * len(e)
                for powers in cartesian_powers(l):
                    ao_atom.append(ia)
                    ao_shell.append(n_shell)
                    ao_pow.append(powers)
                n_shell += 1
        if len(ao_atom) != len(factor):
            raise ValueError(f'factor has {len(factor)} rows, the basis {len(ao_atom)} '
                             'Cartesian functions')
        self.n_shell = n_shell
        self.prim_atom = torch.tensor(prim_atom, device=dev)
        self.prim_exp = torch.tensor(prim_exp, dtype=torch.float64, device=dev)
        self.prim_coef = torch.tensor(prim_coef, dtype=torch.float64, device=dev)
        self.prim_shell = torch.tensor(prim_shell, device=dev)
        self.ao_atom = torch.tensor(ao_atom, device=dev)
        self.ao_shell = torch.tensor(ao_shell, device=dev)
        self.ao_pow = torch.tensor(ao_pow, dtype=torch.float64, device=dev)
        self.factor = torch.tensor(factor, dtype=torch.float64, device=dev)

    @property
    def device(self):
        return self.coords.device

    def density(self, points):
        """ρ_SCF (N,) at points (N, 3) bohr of the molecule's own frame, in e/bohr³."""
        out = []
        for start in range(0, len(points), POINT_BLOCK):
            p = points[start:start + POINT_BLOCK]
            d = p[:, None, :] - self.coords[None]                   # (n, atoms, 3)
            r2 = (d * d).sum(-1)
            g = self.prim_coef * torch.exp(-self.prim_exp * r2[:, self.prim_atom])
            radial = torch.zeros(len(p), self.n_shell, dtype=g.dtype, device=g.device)
            radial.index_add_(1, self.prim_shell, g)
            ao = radial[:, self.ao_shell] * (d[:, self.ao_atom] ** self.ao_pow).prod(-1)
            out.append(((ao @ self.factor) ** 2).sum(1))
        return torch.cat(out)


def free_atom_density(points, coords, free_exp, free_coef):
    """Σ_A Σ_k c_k exp(−a_k |r − R_A|²) (N,) at points (N, 3); the Gaussians that
    atoms.density_on_points interpolates (to < 4e-7 of the nuclear peak)."""
    out = []
    for start in range(0, len(points), POINT_BLOCK):
        d = points[start:start + POINT_BLOCK, None, :] - coords[None]
        r2 = (d * d).sum(-1)                                         # (n, atoms)
        out.append((free_coef * torch.exp(-free_exp * r2[..., None])).sum((1, 2)))
    return torch.cat(out)


def fingerprints(points, coords, channel, rho0):
    """Fingerprint channels (N_CHANNELS, N) as fingerprints.fingerprints_on_points: ρ0^(1/3)
    and per element Σ exp(−d²/2σ²) within 6σ; ``channel`` (atoms,) is 1 + element index."""
    out = torch.zeros(N_CHANNELS, len(points), dtype=points.dtype, device=points.device)
    out[0] = rho0.sign() * rho0.abs() ** (1 / 3)                  # np.cbrt
    d2 = ((points[:, None, :] - coords[None]) ** 2).sum(-1)           # (N, atoms)
    g = torch.where(d2 < (6 * SIGMA_BOHR) ** 2, torch.exp(-d2 / (2 * SIGMA_BOHR ** 2)),
                    torch.zeros_like(d2))
    out.index_add_(0, channel, g.T.contiguous())
    return out


def crop_sample(structure, rng, spacing_bohr, margin_bohr, crop, rotation=None):
    """x (C, n, n, n), y (1, n, n, n), mask (1, n, n, n) float32 tensors on the structure's
    device (n = crop): dataset.crop_sample of the same structure, rotation and crop for the same
    ``rng`` state (numpy Generator), the box at the low corner where it is smaller than the
    crop and the rest masked out."""
    rotation = random_rotation(rng) if rotation is None else np.asarray(rotation, dtype=float)
    grid, center = rotated_box(structure.coords_np, rotation, spacing_bohr, margin_bohr)
    crop_grid = random_crop(grid, crop, rng)
    dev = structure.device
    points_rot = torch.tensor(crop_grid.coords(), dtype=torch.float64, device=dev)
    coords_rot = torch.tensor(rotate(structure.coords_np, rotation, center),
                              dtype=torch.float64, device=dev)
    rho0 = free_atom_density(points_rot, coords_rot, structure.free_exp, structure.free_coef)
    x_pts = fingerprints(points_rot, coords_rot, structure.channel, rho0)
    rot = torch.tensor(rotation, dtype=torch.float64, device=dev)
    c = torch.tensor(center, dtype=torch.float64, device=dev)
    y_pts = structure.density((points_rot - c) @ rot + c) - rho0      # inverse rotation
    size = crop_grid.shape
    x = torch.zeros((N_CHANNELS, crop, crop, crop), dtype=torch.float32, device=dev)
    y = torch.zeros((1, crop, crop, crop), dtype=torch.float32, device=dev)
    mask = torch.zeros((1, crop, crop, crop), dtype=torch.float32, device=dev)
    inner = (slice(None), slice(0, size[0]), slice(0, size[1]), slice(0, size[2]))
    x[inner] = x_pts.reshape(N_CHANNELS, *size).float()
    y[inner] = y_pts.reshape(1, *size).float()
    mask[inner] = 1
    return x, y, mask
