"""Where the predicted density can be trusted: one check for the guess, NonSCF and
predict_density, made from the molecule alone, before the network runs.

The network learnt all-electron densities of neutral, closed-shell molecules of the elements in
the free-atom table, near their equilibrium geometry.  ``model_gaps`` names what it cannot
describe at all (elements it lacks, atoms whose core electrons an ECP replaces: the free atoms
and the residual count those electrons, the molecule does not); ``guess_gaps`` adds what it was
not trained for and where its guess measured worse than minao's (docs/reliability.md).
"""
import numpy as np

from pyscf.deepscf.engine import atoms

# Covalent radii (Angstrom; Cordero et al., Dalton Trans. 2008) of the model's elements.
COVALENT_RADIUS_ANGSTROM = {'H': 0.31, 'C': 0.76, 'N': 0.71, 'O': 0.66, 'F': 0.57, 'P': 1.07,
                            'S': 1.05, 'Cl': 1.02}
# An atom is bonded to another within this factor of their covalent radii (the longest bond
# of the training set, QM9 and its deformations, is below 1.2 of them).
BONDED_FACTOR = 1.3


def is_periodic(mol):
    """True for a pbc.gto.Cell.  Asked of the class: an unknown attribute of a Mole instance
    makes PySCF import all its modules (~0.1 s)."""
    return hasattr(type(mol), 'lattice_vectors')


def check_molecule(mol):
    """Raise ValueError for inputs deepscf cannot take at all: a periodic cell, no real atom."""
    if is_periodic(mol):
        raise ValueError('deepscf works for molecules (gto.Mole); periodic cells '
                         '(pbc.gto.Cell) are not supported')
    if not atoms.real_atoms(mol):
        raise ValueError('deepscf needs at least one real atom; this molecule has none '
                         '(ghost atoms carry no density)')


def unsupported_elements(mol):
    """Sorted element symbols of the real atoms that have no free-atom density (no model)."""
    known = set(atoms.supported_elements())
    return sorted({s for s in atoms.atom_symbols(mol) if s not in known})


def ecp_atoms(mol):
    """Indices of the real atoms whose core electrons an ECP replaces."""
    return [i for i in atoms.real_atoms(mol) if mol.atom_nelec_core(i) > 0]


def model_gaps(mol):
    """Reasons (strings, empty when none) why the model cannot describe ``mol``'s density."""
    check_molecule(mol)
    gaps = []
    missing = unsupported_elements(mol)
    if missing:
        gaps.append(f'no model for element(s) {", ".join(missing)} (supported: '
                    f'{", ".join(atoms.supported_elements())})')
    ecp = ecp_atoms(mol)
    if ecp:
        labels = sorted({mol.atom_pure_symbol(i) for i in ecp})
        gaps.append(f'an ECP replaces the core electrons of {", ".join(labels)}; the model '
                    'predicts all-electron densities')
    return gaps


def unbonded_atoms(mol, factor=BONDED_FACTOR):
    """Indices of the real atoms with no other real atom within ``factor`` times the sum of
    their covalent radii: a lone atom, or one end of a stretched or broken bond."""
    idx = atoms.real_atoms(mol)
    if len(idx) < 2:
        return list(idx)
    symbols = atoms.atom_symbols(mol)
    radii = np.array([COVALENT_RADIUS_ANGSTROM.get(s, 1.5) for s in symbols]) / 0.52917721092
    xyz = mol.atom_coords()[idx]
    dist = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    bonded = dist < factor * (radii[:, None] + radii[None])
    return [i for i, b in zip(idx, bonded.any(axis=1)) if not b]


def guess_gaps(mol):
    """Reasons why the deepscf guess of ``mol`` would be out of its depth; model_gaps first.

    Besides what the model cannot describe: atoms without a bonding partner (stretched or
    broken bonds, lone atoms), where the network has seen no such density and the guess
    measured more SCF cycles than minao, or another final state (docs/reliability.md).
    """
    gaps = model_gaps(mol)
    lone = unbonded_atoms(mol)
    if lone:
        names = ', '.join(f'{mol.atom_pure_symbol(i)}{i}' for i in lone[:6])
        gaps.append(f'atom(s) {names}{" ..." if len(lone) > 6 else ""} without a bonding '
                    'partner (a stretched bond or a lone atom)')
    return gaps


def calibration_domain(xc, basis):
    """The domain NonSCF energy weights calibrated with ``xc``/``basis`` on neutral closed-shell
    molecules hold in: dict(xc_type, exact_exchange, basis_family, spin, charge)."""
    from pyscf import dft
    ni = dft.numint.NumInt()
    omega, alpha, hyb = ni.rsh_and_hybrid_coeff(xc)
    return {'xc_type': ni._xc_type(xc), 'exact_exchange': bool(hyb or alpha),
            'basis_family': basis_family(basis), 'spin': 0, 'charge': 0}


def basis_family(basis):
    """'def2' of 'def2-SVP', 'cc-p' of 'cc-pVDZ', '6-31' of '6-31G*': a basis name up to its
    size; None for a basis given per element or as data."""
    if not isinstance(basis, str):
        return None
    name = basis.lower().replace('_', '-')
    for family in ('def2', 'aug-cc-p', 'cc-p', 'pc', 'sto', '6-311', '6-31', 'ano', 'ma-def2'):
        if name.startswith(family):
            return family
    return name
