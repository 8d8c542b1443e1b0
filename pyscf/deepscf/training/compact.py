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
random numbers (compact_density.py).  ``compact_pyscf.write_compact`` writes the file (it needs
PySCF); this module needs torch and numpy only.

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

from pyscf.deepscf.engine.grid import random_crop, random_rotation, rotated_box
from pyscf.deepscf.training.compact_density import Structure, StructureStack

FORMAT_VERSION = 1
SYMBOLS = ('X', 'H', 'He', 'Li', 'Be', 'B', 'C', 'N', 'O', 'F', 'Ne', 'Na', 'Mg', 'Al', 'Si',
           'P', 'S', 'Cl', 'Ar')


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


def crop_geometry(coords_bohr, rng, spacing_bohr, margin_bohr, crop, rotation=None):
    """(rotation (3, 3), center (3,), crop_grid) of one random crop: dataset.crop_sample's draws
    from ``rng`` (numpy Generator) in its order, a rotation, then the crop's start."""
    rotation = random_rotation(rng) if rotation is None else np.asarray(rotation, dtype=float)
    grid, center = rotated_box(coords_bohr, rotation, spacing_bohr, margin_bohr)
    return rotation, center, random_crop(grid, crop, rng)


def crop_batch(stack, members, geometries, crop, group=None, max_elements=None):
    """x (B, C, n, n, n), y (B, 1, n, n, n), mask (B, 1, n, n, n) float32 on the stack's device
    (n = crop): the crops of ``members`` (positions in ``stack``) at ``geometries``
    (crop_geometry's), each box at the low corner where it is smaller than the crop and the rest
    masked out.  Every crop is evaluated on the full n³ points; those outside its box are
    zeroed by the mask, so all members share one shape.

    group: members per evaluation (None: all at once).  Each evaluation pads its members to the
    largest of them, so the members are taken in order of size, and the crops come back in the
    order given: the same numbers for any ``group``, which trades padding against the number of
    operations (on a CPU one at a time is fastest; on a GPU, measure: gpu_train.py does)."""
    members = np.asarray(members)
    if group and group < len(members):
        order = np.argsort(stack.nao[members], kind='stable')
        parts = [crop_batch(stack, members[part], [geometries[k] for k in part], crop, None,
                            max_elements)
                 for part in np.array_split(order, range(group, len(order), group))]
        back = torch.as_tensor(np.argsort(order), device=stack.device)
        return tuple(torch.cat(t)[back] for t in zip(*parts))
    dev = stack.device
    rotation = torch.tensor(np.array([g[0] for g in geometries]), dtype=torch.float64, device=dev)
    center = torch.tensor(np.array([g[1] for g in geometries]), dtype=torch.float64,
                          device=dev)[:, None]
    origin = torch.tensor(np.array([g[2].origin_bohr for g in geometries]), dtype=torch.float64,
                          device=dev)[:, None]
    spacing = geometries[0][2].spacing_bohr
    size = torch.tensor(np.array([g[2].shape for g in geometries]), device=dev)
    axis = torch.arange(crop, device=dev)
    ijk = torch.stack(torch.meshgrid(axis, axis, axis, indexing='ij'), -1).reshape(-1, 3)
    points_rot = origin + spacing * ijk.to(torch.float64)                 # (B, n³, 3)
    idx, sizes = stack._members(members)
    coords = stack.coords[idx, :sizes['natm']]
    coords_rot = torch.bmm(coords - center, rotation.transpose(1, 2)) + center
    rho0, x = stack.free_atoms_and_fingerprints(members, points_rot, coords_rot, max_elements)
    # the SCF density at the points rotated back into the molecule's frame: (p − c) R + c
    rho = stack.density(members, torch.bmm(points_rot - center, rotation) + center, max_elements)
    mask = (ijk[None] < size[:, None]).all(-1).to(torch.float32)          # (B, n³)
    shape = (len(members), -1, crop, crop, crop)
    return ((x.float() * mask[:, None]).reshape(shape), ((rho - rho0).float() * mask).reshape(shape),
            mask.reshape(shape))


def crop_sample(structure, rng, spacing_bohr, margin_bohr, crop, rotation=None):
    """x (C, n, n, n), y (1, n, n, n), mask (1, n, n, n) float32 tensors on the structure's
    device (n = crop): dataset.crop_sample of the same structure, rotation and crop for the same
    ``rng`` state (numpy Generator), the box at the low corner where it is smaller than the
    crop and the rest masked out."""
    geometry = crop_geometry(structure.coords_np, rng, spacing_bohr, margin_bohr, crop, rotation)
    x, y, mask = crop_batch(StructureStack([structure]), [0], [geometry], crop)
    return x[0], y[0], mask[0]
