"""The point group on the AOs (engine/symmetry.py) against AO values at moved points."""
import numpy as np
import pytest
from pyscf import gto
from pyscf.symm import geom

from pyscf.deepscf.engine import symmetry

ROT = np.linalg.qr(np.random.default_rng(5).normal(size=(3, 3)))[0]
MOLECULES = {   # name: (atoms in Angstrom, the group's order)
    'water': ('O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692', 4),
    'methane': ('C 0 0 0; H .63 .63 .63; H -.63 -.63 .63; H -.63 .63 -.63; H .63 -.63 -.63',
                24),
    'allene': ('C 0 0 0; C 0 0 1.31; C 0 0 -1.31; H 0 .93 1.87; H 0 -.93 1.87; '
               'H .93 0 -1.87; H -.93 0 -1.87', 8),
    'benzene': ([(s, (r * np.cos(k * np.pi / 3), r * np.sin(k * np.pi / 3), 0.))
                 for s, r in (('C', 1.39), ('H', 2.47)) for k in range(6)], 24),
    'carbon dioxide': ('C 0 0 0; O 0 0 1.16; O 0 0 -1.16', 8),
}


def turned(atom):
    """The molecule turned off the axes and moved off the origin (no symmetry of the frame)."""
    if isinstance(atom, str):
        atom = [(a.split()[0], a.split()[1:]) for a in atom.split(';')]
    return [(s, np.array(c, dtype=float) @ ROT.T + [0.3, -0.2, 0.4]) for s, c in atom]


@pytest.mark.parametrize('name', list(MOLECULES))
@pytest.mark.parametrize('basis,cart', [('cc-pvdz', False), ('6-31g*', True)])
def test_each_element_moves_the_aos_as_it_moves_space(name, basis, cart):
    atom, order = MOLECULES[name]
    mol = gto.M(atom=turned(atom), basis=basis, cart=cart, verbose=0)
    centre = geom.detect_symm(mol._atom, mol._basis)[1]
    gpname, elements = symmetry.point_group(mol)
    group = symmetry.ao_group(mol)
    assert len(elements) == len(group) == order
    rng = np.random.default_rng(0)
    x = mol.atom_coords()[rng.integers(mol.natm, size=300)] + rng.normal(size=(300, 3))
    ao = mol.eval_gto('GTOval', x)
    s = mol.intor('int1e_ovlp')
    for (op, perm), u in zip(elements, group):
        # (g chi)(x) = chi(g^-1 x): the AOs at the moved-back points are the AOs times U
        moved = mol.eval_gto('GTOval', (x - centre) @ op + centre)
        assert np.abs(moved - ao @ u.toarray()).max() < 1e-10
        assert np.abs(u.T @ (u.T @ s).T - s).max() < 1e-10


def test_averaged_fock_is_invariant_and_a_field_lowers_the_group():
    mol = gto.M(atom=turned(MOLECULES['water'][0]), basis='6-31g', verbose=0)
    group = symmetry.ao_group(mol)
    f = np.random.default_rng(1).normal(size=(mol.nao, mol.nao))
    f = f + f.T
    fs = symmetry.symmetrize_fock(f, group)
    for u in group:
        assert np.abs(u.T @ (u.T @ fs).T - fs).max() < 1e-12
    h1e = mol.intor('int1e_kin') + mol.intor('int1e_nuc')
    assert len(symmetry.ao_group(mol, h1e)) == 4
    # a field along the H-H axis leaves only the identity and the molecular plane's mirror
    hh = mol.atom_coord(1) - mol.atom_coord(2)
    field = np.einsum('xij,x->ij', mol.intor('int1e_r'), hh / np.linalg.norm(hh))
    assert len(symmetry.ao_group(mol, h1e + 0.02 * field)) == 2


def test_no_symmetry_no_group():
    mol = gto.M(atom='C 0 0 0; H 1.09 0 0; F -.3 1.3 0; Cl -.5 -.8 1.4; O .2 .3 -1.5',
                verbose=0, spin=None)
    assert symmetry.ao_group(mol) == []
