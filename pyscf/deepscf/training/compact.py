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
import functools
import glob
import json
import os

import numpy as np
import torch

from pyscf.deepscf.engine import atoms
from pyscf.deepscf.engine.fingerprints import ELEMENT_CHANNELS, N_CHANNELS, SIGMA_BOHR
from pyscf.deepscf.engine.grid import random_crop, random_rotation, rotated_box

FORMAT_VERSION = 1
SYMBOLS = ('X', 'H', 'He', 'Li', 'Be', 'B', 'C', 'N', 'O', 'F', 'Ne', 'Na', 'Mg', 'Al', 'Si',
           'P', 'S', 'Cl', 'Ar')


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
    """One stored structure as torch tensors on ``device`` (float64): atoms, and its density
    as primitives, Cartesian functions and the factor L.

    basis: {element: [(l, exponents, coefficients)]}, dataset.element_basis of each element.
    """

    def __init__(self, symbols, coords_bohr, factor, basis, device='cpu'):
        dev = torch.device(device)
        self.symbols = list(symbols)
        self.coords_np = np.asarray(coords_bohr, dtype=float).reshape(-1, 3)
        self.coords = torch.tensor(self.coords_np, dtype=torch.float64, device=dev)
        self.channel = torch.tensor([1 + ELEMENT_CHANNELS.index(s) for s in symbols],
                                    device=dev)
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
        self.ao_pow = torch.tensor(ao_pow, device=dev)
        self.factor = torch.tensor(factor, dtype=torch.float64, device=dev)

    @property
    def device(self):
        return self.coords.device

    def density(self, points):
        """ρ_SCF (N,) at points (N, 3) bohr of the molecule's own frame, in e/bohr³."""
        return StructureStack([self]).density([0], points[None])[0]


# padded atoms sit this far away (bohr): every Gaussian of theirs is exactly 0 on any crop
FAR_BOHR = 1e4


class StructureStack:
    """Structures padded to common sizes and stacked (float64 on their device), so that a batch
    of crops is evaluated in one set of tensor operations however many structures it holds: on
    a GPU a crop of one structure is a few milliseconds of work spread over ~100 small kernels,
    and the per-structure launches, not the arithmetic, bounded the training rate.

    Padding adds exact zeros: padded atoms are FAR_BOHR away (beyond every free atom's table
    and fingerprint), padded primitives have zero coefficients, padded rows and columns of the
    factor are zero.
    ``members`` of the methods index the structures in the order given.
    """

    def __init__(self, structures):
        self.natm = np.array([len(s.symbols) for s in structures])
        self.nprim = np.array([len(s.prim_exp) for s in structures])
        self.nshell = np.array([s.n_shell for s in structures])
        self.nao, self.ncol = np.array([list(s.factor.shape) for s in structures]).T
        self.coords_np = [s.coords_np for s in structures]

        def stack(name, fill):
            tensors = [getattr(s, name) for s in structures]
            shape = [len(tensors), max(len(t) for t in tensors), *tensors[0].shape[1:]]
            if tensors[0].dim() > 1:
                shape[2] = max(t.shape[1] for t in tensors)
            out = torch.full(shape, fill, dtype=tensors[0].dtype, device=tensors[0].device)
            for i, t in enumerate(tensors):
                out[(i, *[slice(0, n) for n in t.shape])] = t
            return out

        self.coords = stack('coords', FAR_BOHR)
        self.channel = stack('channel', 1)
        self.prim_atom = stack('prim_atom', 0)
        self.prim_exp = stack('prim_exp', 1.0)
        self.prim_coef = stack('prim_coef', 0.0)
        self.prim_shell = stack('prim_shell', 0)
        self.ao_shell = stack('ao_shell', 0)
        # each function's angular factor x^i y^j z^k as an index into its atom's monomials up
        # to the highest degree (powers by products: torch's pow was most of the time)
        self.lmax = max(int(s.ao_pow.sum(1).max()) for s in structures)
        powers = [p for l in range(self.lmax + 1) for p in cartesian_powers(l)]
        self.monomial_powers = powers
        index = {p: k for k, p in enumerate(powers)}
        ao_monomial = [torch.tensor([index[tuple(p)] for p in s.ao_pow.tolist()],
                                    device=self.device) for s in structures]
        self.ao_monomial = stack('ao_atom', 0) * len(powers)
        for i, m in enumerate(ao_monomial):
            self.ao_monomial[i, :len(m)] += m
        self.factor = stack('factor', 0.0)

    def __len__(self):
        return len(self.natm)

    @property
    def device(self):
        return self.coords.device

    def to(self, device):
        """The stack with its tensors on ``device`` (stacking on the CPU and moving the result
        takes a dozen copies instead of one per structure and array)."""
        for name, value in vars(self).items():
            if torch.is_tensor(value):
                setattr(self, name, value.to(device))
        return self

    def _sizes(self, members):
        """The members' largest sizes: they are padded only to these."""
        members = np.asarray(members)
        return {k: int(getattr(self, k)[members].max())
                for k in ('natm', 'nprim', 'nshell', 'nao', 'ncol')}

    def _members(self, members):
        """(index tensor on the device, _sizes) of the members."""
        return torch.as_tensor(np.asarray(members), device=self.device), self._sizes(members)

    def block_points(self, members, max_elements):
        """Points per evaluation block such that the largest intermediate (members × points ×
        the largest per-point width) stays within ``max_elements`` numbers."""
        n = self._sizes(members)       # sizes only: no index copied to the device
        width = max(n['nao'], n['nprim'], n['natm'] * max(4, 3 * (self.lmax + 1),
                                                          len(self.monomial_powers)))
        return max(1, max_elements // (len(members) * width))

    def density(self, members, points, max_elements=None):
        """ρ_SCF (B, N) at points (B, N, 3) bohr, each in its member's own frame, e/bohr³."""
        idx, n = self._members(members)
        coords = self.coords[idx, :n['natm']]
        prim_atom = self.prim_atom[idx, :n['nprim']]
        prim_exp = self.prim_exp[idx, None, :n['nprim']]
        prim_coef = self.prim_coef[idx, None, :n['nprim']]
        prim_shell = self.prim_shell[idx, :n['nprim']]
        ao_shell = self.ao_shell[idx, :n['nao']]
        ao_monomial = self.ao_monomial[idx, :n['nao']]
        factor = self.factor[idx, :n['nao'], :n['ncol']]
        block = self.block_points(members, max_elements or default_max_elements(self.device))
        out = []
        for start in range(0, points.shape[1], block):
            p = points[:, start:start + block]
            b, m = p.shape[:2]
            d = p[:, :, None, :] - coords[:, None]                        # (B, m, atoms, 3)
            r2 = (d * d).sum(-1)
            g = prim_coef * torch.exp(-prim_exp * r2.gather(2, prim_atom[:, None].expand(b, m, -1)))
            radial = torch.zeros(b, m, n['nshell'], dtype=g.dtype, device=g.device)
            radial.scatter_add_(2, prim_shell[:, None].expand(b, m, -1), g)
            dpow = [torch.ones_like(d), d]                            # (B, m, atoms, 3) each
            for _ in range(self.lmax - 1):
                dpow.append(dpow[-1] * d)
            monomial = torch.stack([dpow[i][..., 0] * dpow[j][..., 1] * dpow[k][..., 2]
                                    for i, j, k in self.monomial_powers], -1)
            ao = (radial.gather(2, ao_shell[:, None].expand(b, m, -1))
                  * monomial.reshape(b, m, -1).gather(2, ao_monomial[:, None].expand(b, m, -1)))
            out.append((torch.bmm(ao, factor) ** 2).sum(-1))
        return torch.cat(out, 1)

    def free_atoms_and_fingerprints(self, members, points, coords, max_elements=None):
        """(ρ0 (B, N), fingerprints (B, N_CHANNELS, N)) at points (B, N, 3) bohr around atoms
        at ``coords`` (B, atoms, 3; the members' atoms, rotated as the points are): the free
        atoms' density as atoms.density_on_points interpolates it (the same radial tables and
        cubic Hermite interpolation), and the channels of fingerprints.fingerprints_on_points:
        ρ0^(1/3), and per element Σ exp(−d²/2σ²) within 6σ."""
        idx, n = self._members(members)
        coords = coords[:, :n['natm']]
        element = self.channel[idx, :n['natm']]                          # 1 + element index
        values, slopes, table_start, table_len = free_atom_tables(self.device)
        first = table_start[element - 1][:, None]                        # (B, 1, atoms)
        last = table_len[element - 1][:, None] - 1
        onehot = torch.nn.functional.one_hot(element, N_CHANNELS).to(points.dtype)
        h = atoms.RADIAL_STEP_BOHR
        block = self.block_points(members, max_elements or default_max_elements(self.device))
        rho0, x = [], []
        for start in range(0, points.shape[1], block):
            p = points[:, start:start + block]
            r2 = ((p[:, :, None, :] - coords[:, None]) ** 2).sum(-1)       # (B, m, atoms)
            t = r2.sqrt() / h
            i = t.long()
            beyond = i >= last                   # padded atoms (FAR_BOHR away) are beyond too
            i = torch.where(beyond, 0, i)
            t = t - i
            t2, t3, j = t * t, t * t * t, first + i
            rho = ((2 * t3 - 3 * t2 + 1) * values[j] + (t3 - 2 * t2 + t) * h * slopes[j]
                   + (3 * t2 - 2 * t3) * values[j + 1] + (t3 - t2) * h * slopes[j + 1])
            rho0.append(torch.where(beyond, 0., rho).sum(-1))
            g = torch.where(r2 < (6 * SIGMA_BOHR) ** 2, torch.exp(-r2 / (2 * SIGMA_BOHR ** 2)),
                            torch.zeros_like(r2))
            x.append(torch.bmm(g, onehot))                               # (B, m, C)
        rho0, x = torch.cat(rho0, 1), torch.cat(x, 1).transpose(1, 2).contiguous()
        x[:, 0] = rho0.sign() * rho0.abs() ** (1 / 3)                  # np.cbrt
        return rho0, x


@functools.lru_cache(maxsize=None)
def free_atom_tables(device):
    """(values, slopes, start, length) on ``device``: atoms.radial_table's density and its
    radial derivative for every element of ELEMENT_CHANNELS, end to end (float64), and where
    each element's table starts and how long it is (in ELEMENT_CHANNELS's order)."""
    tables = [atoms.radial_table(s)[:2] for s in ELEMENT_CHANNELS]
    length = np.array([len(f) for f, _ in tables])
    start = np.concatenate([[0], np.cumsum(length)[:-1]])
    values, slopes = (torch.tensor(np.concatenate([t[k] for t in tables]), device=device)
                      for k in (0, 1))
    return values, slopes, torch.tensor(start, device=device), torch.tensor(length, device=device)


def default_max_elements(device):
    """Numbers in the largest intermediate of an evaluation block: 2 GiB of float64 on a GPU
    (about five such tensors live at once; an H200 has 139 GiB), 32 MiB on a CPU."""
    return 2 ** 28 if torch.device(device).type == 'cuda' else 2 ** 22


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
