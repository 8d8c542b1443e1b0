"""The molecule's point group on its atomic orbitals, to keep a Fock matrix of the predicted
density as symmetric as the molecule.

The network sees the molecule on a uniform grid that does not share its symmetry, so the
predicted density breaks the point group slightly; minao's guess does not, and an SCF started
from a symmetric density matrix stays symmetric.  Averaging the Fock matrix over the group,
F -> 1/|G| sum_g U_g^T F U_g, restores it (U_g: the group element on the AO basis).

The group is PySCF's (symm.geom.detect_symm, its tolerance): its largest Abelian subgroup, which
PySCF's own symmetry-adapted SCF uses, and the rotations about the main axis and the cube's
diagonals that complete Cnv, Dnh, Dnd, Td, Oh and the like (icosahedral groups keep a
subgroup: no C5 is tried); every element is checked to map each atom onto an atom of the same
label (element, basis and ghost status), and to leave the one-electron Hamiltonian unchanged.
"""
import numpy as np
import scipy.sparse

MAX_ORDER = 120
LINEAR_SUBGROUP = {'Dooh': 'D2h', 'Coov': 'C2v', 'SO3': 'D2h'}


def _frame_operations(gpname, axes):
    """Candidate operations (3x3, in the molecule's frame) generating the point group."""
    from pyscf.symm import geom, param
    if gpname in LINEAR_SUBGROUP:       # infinite groups: the subgroup PySCF's SCF uses
        subgroup, sub_axes = LINEAR_SUBGROUP[gpname], axes
    else:
        subgroup, sub_axes = geom.as_subgroup(gpname, axes)
    ops = [sub_axes.T @ np.asarray(param.D2H_OPS[op], dtype=float) @ sub_axes
           for op in param.OPERATOR_TABLE[subgroup]]
    digits = ''.join(c for c in gpname if c.isdigit())
    if digits and int(digits) >= 2 and gpname not in LINEAR_SUBGROUP:   # S4 of D2d too
        n = int(digits)
        for angle in (2 * np.pi / n, np.pi / n):          # C_n, and S_2n for Dnd and S2n
            c, s = np.cos(angle), np.sin(angle)
            rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.]])
            ops.append(axes.T @ rot @ axes)
            ops.append(axes.T @ (rot @ np.diag([1., 1., -1.])) @ axes)
    if gpname[0] in 'TOI':      # C3 about the cube's body diagonal, C4 and S4 about z
        c3 = np.array([[0, 0, 1.], [1, 0, 0], [0, 1, 0]])
        c4 = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.]])
        for op in (c3, c4, c4 @ np.diag([1., 1., -1.])):
            ops.append(axes.T @ op @ axes)
    return ops


def _atom_map(op, centre, coords, labels, tol):
    """perm[a] = the atom that ``op`` (about ``centre``) moves atom a onto, or None."""
    moved = (coords - centre) @ op.T + centre
    dist = np.linalg.norm(moved[:, None] - coords[None], axis=-1)
    perm = dist.argmin(axis=1)
    if (dist[np.arange(len(coords)), perm] > tol).any() \
            or any(labels[a] != labels[b] for a, b in enumerate(perm)) \
            or len(set(perm.tolist())) != len(perm):
        return None
    return perm


def point_group(mol, tol=None):
    """(name, [(op 3x3, atom map)]) of the molecule's point group, identity first; the
    operations act on positions about the group's origin (bohr)."""
    from pyscf.symm import geom
    if tol is None:
        tol = geom.TOLERANCE
    labels = [mol.atom_symbol(i) for i in range(mol.natm)]
    coords = mol.atom_coords()
    trivial = 'C1', [(np.eye(3), np.arange(mol.natm))]
    try:
        gpname, centre, axes = geom.detect_symm(mol._atom, mol._basis)
        candidates = _frame_operations(gpname, np.asarray(axes, dtype=float))
    except Exception:        # a group PySCF cannot name: no averaging, as for C1
        return trivial
    if gpname == 'C1':
        return trivial
    group = [np.eye(3)]
    for op in candidates:
        if _atom_map(op, centre, coords, labels, 10 * tol) is None:
            continue
        # close the group under products with this generator
        frontier = [op]
        while frontier and len(group) <= MAX_ORDER:
            new = []
            for a in frontier:
                for b in list(group):
                    for prod in (a @ b, b @ a):
                        if not any(np.abs(prod - g).max() < 1e-8 for g in group + new):
                            new.append(prod)
            group.extend(new)
            frontier = new
    elements = []
    for op in group:
        perm = _atom_map(op, centre, coords, labels, 10 * tol)
        if perm is None:               # a product that is no symmetry: the candidates were wrong
            return trivial
        elements.append((op, perm))
    return gpname, elements


def ao_representation(mol, op, perm):
    """U (nao, nao) sparse: g chi_mu = sum_nu chi_nu U[nu, mu] for the operation ``op`` (3x3
    orthogonal) that moves atom a onto atom perm[a]."""
    from pyscf.symm.basis import _momentum_rotation_matrices
    det = np.linalg.det(op)
    proper = op * det                  # an improper operation is a rotation times inversion
    ds = _momentum_rotation_matrices(mol, proper.T)
    aoslice = mol.aoslice_by_atom()
    ao_loc = mol.ao_loc_nr()
    rows, cols, vals = [], [], []
    for a in range(mol.natm):
        b = perm[a]
        sa0, sa1 = aoslice[a, :2]
        sb0 = aoslice[b, 0]
        for k, ish in enumerate(range(sa0, sa1)):
            jsh = sb0 + k
            l = mol.bas_angular(ish)
            d = np.asarray(ds[l]) * (det ** l)
            n = d.shape[0]
            for c in range(mol.bas_nctr(ish)):
                i0 = ao_loc[ish] + c * n
                j0 = ao_loc[jsh] + c * n
                r, q = np.nonzero(np.abs(d) > 1e-14)
                rows.extend(j0 + r)
                cols.extend(i0 + q)
                vals.extend(d[r, q])
    return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(mol.nao, mol.nao))


def ao_group(mol, h1e=None):
    """The point group of ``mol`` on its AOs: a list of sparse U_g, or [] for C1 (nothing to
    average).  With ``h1e`` (nao, nao), the method's one-electron Hamiltonian: only the
    elements that leave its difference from the molecule's own (an applied field, QM/MM
    charges) unchanged, to a thousandth of that difference (the atoms themselves are
    symmetric only to PySCF's tolerance, 1e-5 bohr); the elements kept still form a group."""
    name, elements = point_group(mol)
    if len(elements) < 2:
        return []
    group = [ao_representation(mol, op, perm) for op, perm in elements]
    if h1e is not None:
        from pyscf import scf
        external = np.asarray(h1e) - scf.hf.get_hcore(mol)
        size = np.abs(external).max()
        if size > 1e-10:
            group = [u for u in group
                     if np.abs(_transform(external, u) - external).max() <= 1e-3 * size]
    return group if len(group) > 1 else []


def _transform(matrix, u):
    """U^T M U for a sparse U."""
    return (u.T @ (u.T @ matrix.T).T)


def symmetrize_fock(fock, group):
    """1/|G| sum_g U_g^T F U_g of a restricted Fock matrix (nao, nao); ``fock`` unchanged for
    an empty group."""
    if not group:
        return fock
    out = np.zeros_like(fock)
    for u in group:
        out += _transform(fock, u)
    return out / len(group)
