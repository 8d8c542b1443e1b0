"""The compact set's densities in torch: one structure (``Structure``) or many padded into one
stack (``StructureStack``), evaluated at any points on the device, with the free atoms and the
fingerprints of the same points.  torch and numpy only: the GPU kit runs without PySCF.
"""
import functools

import numpy as np
import torch

from pyscf.deepscf.engine import atoms
from pyscf.deepscf.engine.fingerprints import ELEMENT_CHANNELS, N_CHANNELS, SIGMA_BOHR


# engine/cartesian.monomials' copy: that module imports PySCF, which the GPU kit lacks
def cartesian_powers(l):
    """(lx, ly, lz) of the Cartesian components of angular momentum ``l`` in PySCF's order
    (xx, xy, xz, yy, yz, zz for d)."""
    return [(lx, ly, l - lx - ly) for lx in range(l, -1, -1) for ly in range(l - lx, -1, -1)]


class Structure:
    """One stored structure as torch tensors on ``device`` (float64): atoms, and its density
    as primitives, Cartesian functions and the factor L.

    basis: {element: [(l, exponents, coefficients)]}, compact_pyscf.element_basis of each element.
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
