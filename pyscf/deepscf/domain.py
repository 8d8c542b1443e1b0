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
    makes PySCF import all its modules."""
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


def bond_graph(mol, factor=BONDED_FACTOR):
    """(real atom indices, boolean matrix): atoms within ``factor`` times the sum of their
    covalent radii are bonded."""
    idx = atoms.real_atoms(mol)
    radii = np.array([COVALENT_RADIUS_ANGSTROM.get(s, 1.5) for s in atoms.atom_symbols(mol)])
    radii = radii / 0.52917721092
    xyz = mol.atom_coords()[idx]
    dist = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    return idx, dist < factor * (radii[:, None] + radii[None])


def unbonded_atoms(mol, factor=BONDED_FACTOR):
    """Indices of the real atoms with no other real atom bonded to them (bond_graph): a lone
    atom, or one end of a stretched or broken bond."""
    idx, bonded = bond_graph(mol, factor)
    return [i for i, b in zip(idx, bonded.any(axis=1)) if not b]


def radical_fragments(mol, factor=BONDED_FACTOR):
    """The fragments (lists of atom indices, connected in bond_graph) whose neutral atoms hold
    an odd number of electrons: more than one means a bond broken into radicals."""
    idx, bonded = bond_graph(mol, factor)
    seen, fragments = set(), []
    for start in range(len(idx)):
        if start in seen:
            continue
        stack, fragment = [start], []
        seen.add(start)
        while stack:
            a = stack.pop()
            fragment.append(a)
            for b in np.nonzero(bonded[a])[0]:
                if b not in seen:
                    seen.add(b)
                    stack.append(b)
        fragments.append(sorted(idx[a] for a in fragment))
    from pyscf import gto
    return [f for f in fragments      # nuclear charges: an ECP's atom_charge leaves out its core
            if sum(gto.charge(mol.atom_pure_symbol(i)) for i in f) % 2]


def geometry_gaps(mol):
    """Reasons, from the coordinates alone, why the network has not seen such a density: atoms
    without a bonding partner (stretched or broken bonds, lone atoms), and molecules that fall
    apart into two or more radical fragments (a bond broken in the middle)."""
    gaps = []
    lone = unbonded_atoms(mol)
    if lone:
        names = ', '.join(f'{mol.atom_pure_symbol(i)}{i}' for i in lone[:6])
        gaps.append(f'atom(s) {names}{" ..." if len(lone) > 6 else ""} without a bonding '
                    'partner (a stretched bond or a lone atom)')
    radicals = radical_fragments(mol)
    if len(radicals) > 1:
        gaps.append(f'{len(radicals)} fragments with an odd electron count (a broken bond)')
    return gaps


def guess_gaps(mol):
    """Reasons why the deepscf guess of ``mol`` would be out of its depth: model_gaps, then
    geometry_gaps (there its guess measured more SCF cycles than minao, or another final
    state; docs/reliability.md)."""
    return model_gaps(mol) + geometry_gaps(mol)


def net_charge(mol):
    """The molecule's charge from its electron count (a hand-set ``mol.nelectron`` included)."""
    return int(round(float(mol.atom_charges().sum()) - mol.nelectron))


# NonSCF refuses ions of this charge or more: the network's density is the neutral molecule's
# (docs/reliability.md gives the errors of dications)
MAX_NONSCF_CHARGE = 2


def nonscf_gaps(mol):
    """Reasons why NonSCF's energy of ``mol`` would be wrong beyond its stated tolerances
    (docs/reliability.md): model_gaps, geometry_gaps and a charge of MAX_NONSCF_CHARGE or
    more."""
    gaps = guess_gaps(mol)
    charge = net_charge(mol)
    if abs(charge) >= MAX_NONSCF_CHARGE:
        gaps.append(f'charge {charge:+d}: the network predicts the neutral molecule\'s density')
    return gaps


# Orbital energies closer than this (Hartree) count as one degenerate level.
DEGENERATE_HARTREE = 1e-3


def unsupported_method(mf):
    """Reasons why the engine cannot build a Fock matrix for the method ``mf`` at all."""
    numint = getattr(mf, '_numint', None)
    if numint is not None and type(numint).__name__ == 'NumInt2C':
        return ['generalized Kohn-Sham (GKS, two-component V_xc) is not supported']
    return []


def broken_spin_symmetry(mf):
    """Reasons why the state ``mf`` converges to may break the alpha/beta symmetry that the
    predicted density keeps: a spin-0 UHF/UKS with ``init_guess_breaksym``, whose guesses
    PySCF makes unequal in alpha and beta (uhf._break_dm_spin_symm).

    The same breaking applied to the deepscf guess left some molecules in a closed-shell state
    above the broken-symmetry one, and NonSCF's output keeps alpha = beta
    (docs/reliability.md).  ``init_guess_breaksym = False`` says the state is a closed shell.
    """
    from pyscf import scf
    if isinstance(mf, scf.uhf.UHF) and mf.mol.spin == 0 and mf.init_guess_breaksym:
        return [f'spin 0 with init_guess_breaksym={mf.init_guess_breaksym!r}: PySCF breaks the '
                'alpha/beta symmetry of its own guess (init_guess_breaksym=False for a closed '
                'shell)']
    return []


def method_gaps(mf):
    """Reasons why the deepscf guess would not serve the method ``mf`` as PySCF's guesses do:
    unsupported_method, broken_spin_symmetry, and GHF, whose guesses PySCF tilts off
    collinear (ghf._from_rhf_init_dm; the same tilt on the deepscf guess can leave a
    collinear state above the one minao reaches: docs/reliability.md)."""
    from pyscf import scf
    gaps = unsupported_method(mf)
    if gaps:
        return gaps
    if isinstance(mf, scf.ghf.GHF):
        return ['GHF: PySCF tilts the spins of its own guesses off collinear']
    return broken_spin_symmetry(mf)


def output_gaps(mo_energy, mo_occ, tol=DEGENERATE_HARTREE):
    """Reasons, from the guess's own orbitals, why it would be arbitrary: a degenerate level
    partly filled (an open shell of a symmetric molecule, e.g. the methane cation), where
    which orbitals are occupied is a choice the predicted density cannot make.

    mo_energy, mo_occ: (n,) or (2, n) as the method's diagonalization gives them.
    """
    energies = np.atleast_2d(np.asarray(mo_energy, dtype=float))
    occupations = np.atleast_2d(np.asarray(mo_occ, dtype=float))
    for e, n in zip(energies, occupations):
        order = np.argsort(e, kind='stable')
        e, n = e[order], n[order]
        split = (np.diff(e) < tol) & (np.diff(n) != 0)
        if split.any():
            k = int(np.nonzero(split)[0][0])
            return [f'a degenerate level at {e[k]:.4f} Ha partly filled (an open shell of a '
                    'symmetric molecule)']
    return []


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
