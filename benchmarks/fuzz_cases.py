"""The fuzz campaign's cases (benchmarks/fuzz.py runs them): one generator per class of odd
input, each case a molecule builder and a method. Geometries in Angstrom."""
import os

import numpy as np
from pyscf import gto

from pyscf.deepscf.engine import model as nn_model
from pyscf.deepscf.training import export as weights_file
from pyscf.deepscf.reference_predictors import ZeroPredictor

from fuzz_judge import NONSCF_TOLERANCE_MHA

WATER = [('O', (0, 0, 0.1173)), ('H', (0, 0.7572, -0.4692)), ('H', (0, -0.7572, -0.4692))]
SMALL = {'methane': 'C', 'ammonia': 'N', 'methanol': 'CO', 'formaldehyde': 'C=O',
         'acetonitrile': 'CC#N', 'chloromethane': 'CCl', 'methanethiol': 'CS',
         'fluoroethene': 'C=CF', 'phosphine': 'P', 'formamide': 'NC=O'}
FRAGMENTS = ['C', 'CC', 'O', 'N', 'C(=O)', 'c1ccccc1', 'C#N', 'S', 'Cl', 'F', 'C=C', 'OC',
             'N(C)', 'C(F)(F)', 'P(=O)(O)', 'S(=O)(=O)', 'c1ccncc1', 'C1CC1', 'C(Cl)', 'OO']


def smiles_mol(smiles, basis='sto-3g', **kw):
    from pyscf.deepscf.training.geometries import smiles_geometry
    symbols, coords = smiles_geometry(smiles)
    return gto.M(atom=list(zip(symbols, coords)), basis=basis, verbose=0, **kw)


def random_smiles(rng):
    """A random valid SMILES of 2-4 fragments (RDKit-sanitized), up to 12 heavy atoms."""
    from rdkit import Chem, RDLogger
    RDLogger.DisableLog('rdApp.*')              # rejected random SMILES are expected
    while True:
        parts = rng.choice(FRAGMENTS, rng.integers(2, 5))
        mol = Chem.MolFromSmiles(''.join(parts))
        if mol is not None and mol.GetNumHeavyAtoms() <= 12:
            return Chem.MolToSmiles(mol)


def case(cls, name, build, method='rks', xc='pbe', nonscf=True, predictor=None, breaksym=None):
    """One case; ``breaksym`` sets UHF/UKS's init_guess_breaksym for every run of the case
    (None: PySCF's default)."""
    if cls not in NONSCF_TOLERANCE_MHA:            # every class states its NonSCF tolerance
        raise KeyError(f'no NonSCF tolerance for class {cls!r}')
    return {'class': cls, 'name': name, 'build': build, 'method': method, 'xc': xc,
            'nonscf': nonscf, 'predictor': predictor, 'breaksym': breaksym}


class BadPredictor(ZeroPredictor):
    """Free atoms plus a residual spoiled by NaN, Inf or a wrong shape."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def predict(self, mol):
        grid, residual = super().predict(mol)
        if self.kind == 'shape':
            return grid, residual[:-1]
        residual.flat[len(residual.flat) // 2] = {'nan': np.nan, 'inf': np.inf}[self.kind]
        return grid, residual


def bad_weights(kind, folder):
    """A weights file that must be refused: corrupt bytes, truncated, another format version."""
    path = os.path.join(folder, f'{kind}.pt')
    good = open(nn_model.DEFAULT_WEIGHTS, 'rb').read()
    if kind == 'corrupt':
        data = bytearray(good)
        data[len(data) // 3:len(data) // 3 + 4096] = os.urandom(4096)
        open(path, 'wb').write(bytes(data))
    elif kind == 'truncated':
        open(path, 'wb').write(good[:len(good) // 2])
    elif kind == 'empty':
        open(path, 'wb').close()
    else:                                                    # 'version' or 'elements'
        meta = {'format_version': 99} if kind == 'version' else {'elements': ['H', 'C']}
        weights_file.update_metadata(nn_model.DEFAULT_WEIGHTS, meta, out=path)
    return path


def ring(symbol, radius, n, z=0., phase=0.):
    """``n`` atoms on a circle of ``radius`` Å about the z axis at height ``z`` Å."""
    return [(symbol, (radius * np.cos(phase + 2 * np.pi * k / n),
                      radius * np.sin(phase + 2 * np.pi * k / n), z)) for k in range(n)]


def rotated(atoms, angles=(0.4, 0.7, 1.1)):
    """``atoms`` turned by Euler angles (rad) about z, y, z: symmetry elements off the axes."""
    a, b, c = angles
    rz = lambda t: np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0],  # noqa
                             [0, 0, 1]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    turn = rz(a) @ ry @ rz(c)
    return [(s, turn @ np.asarray(x, float)) for s, x in atoms]


# Geometries in Å, built exactly symmetric (the symmetric class and the singlets need it)
AMMONIA = [('N', (0, 0, 0))] + ring('H', 0.94, 3, z=-0.38)
METHANE = [('C', (0, 0, 0))] + [('H', (.63 * a, .63 * b, .63 * a * b))
                                 for a, b in ((1, 1), (-1, -1), (-1, 1), (1, -1))]
FORMALDEHYDE = [('C', (0, 0, 0)), ('O', (0, 0, 1.21)), ('H', (0, .94, -.59)),
                ('H', (0, -.94, -.59))]
ETHENE = [('C', (0, 0, .67)), ('C', (0, 0, -.67)), ('H', (0, .92, 1.23)), ('H', (0, -.92, 1.23)),
          ('H', (0, .92, -1.23)), ('H', (0, -.92, -1.23))]
TWISTED_ETHENE = ETHENE[:4] + [('H', (.92, 0, -1.23)), ('H', (-.92, 0, -1.23))]   # 90 degrees
CO2 = [('C', (0, 0, 0)), ('O', (0, 0, 1.16)), ('O', (0, 0, -1.16))]
CH2CL2 = [('C', (0, 0, 0)), ('Cl', (1.45, 0, .63)), ('Cl', (-1.45, 0, .63)),
          ('H', (0, .89, -.63)), ('H', (0, -.89, -.63))]
PHOSPHINE = [('P', (0, 0, 0))] + ring('H', 1.19, 3, z=-0.77)
SO3 = [('S', (0, 0, 0))] + ring('O', 1.42, 3)
BENZENE = ring('C', 1.39, 6) + ring('H', 2.47, 6)
SF6 = [('S', (0, 0, 0))] + [('F', tuple(1.56 * s * np.eye(3)[k])) for k in range(3)
                            for s in (1, -1)]
CH2_SINGLET = [('C', (0, 0, 0)), ('H', (0, .863, .699)), ('H', (0, -.863, .699))]
# ethane with its C-C bond at 2.4 Å (staggered)
STRETCHED_ETHANE = ([('C', (0, 0, 1.2)), ('C', (0, 0, -1.2))] + ring('H', 1.03, 3, z=1.56)
                    + ring('H', 1.03, 3, z=-1.56, phase=np.pi / 3))
# water with one O-H bond at 2.0 Å (104.5 degrees)
STRETCHED_WATER = [('O', (0, 0, 0)), ('H', (.96, 0, 0)),
                   ('H', (2.0 * np.cos(np.radians(104.5)), 2.0 * np.sin(np.radians(104.5)), 0))]


def generate(rng, folder):
    """Every class's cases, in a fixed order (a class's first cases are its smallest)."""
    cases = {}
    add = lambda c: cases.setdefault(c['class'], []).append(c)             # noqa: E731
    # smallest first (heavy atoms, then length), so that the test suite's first cases are quick
    smiles = sorted((random_smiles(rng) for _ in range(60)),
                    key=lambda s: (sum(c.isalpha() and c != 'H' for c in s), len(s)))
    for k, smi in enumerate(smiles):
        add(case('random organic (SMILES)', smi, lambda s=smi: smiles_mol(s),
                 nonscf=k % 3 == 0))
    for name, smi in SMALL.items():
        for charge in (1, -1):
            add(case('cations and anions', f'{name} {charge:+d}',
                     lambda s=smi, q=charge: smiles_mol(s, charge=q, spin=None),
                     method='uks' if name != 'methane' else 'rks', nonscf=charge > 0))
    for name, atom, spin in (('CH3 radical', 'C 0 0 0; H 1.08 0 0; H -.54 .94 0; H -.54 -.94 0', 1),
                             ('O2 triplet', 'O 0 0 0; O 0 0 1.21', 2),
                             ('CH2 triplet', 'C 0 0 0; H 0 .99 .6; H 0 -.99 .6', 2),
                             ('NO radical', 'N 0 0 0; O 0 0 1.15', 1),
                             ('OH radical', 'O 0 0 0; H 0 0 .97', 1)):
        for method in ('uks', 'roks', 'uhf'):
            add(case('radicals and triplets', f'{name} {method}',
                     lambda a=atom, s=spin: gto.M(atom=a, basis='6-31g', spin=s, verbose=0),
                     method=method, xc='b3lyp', nonscf=method != 'uhf'))
    dimer = WATER + [(s, (x + 2.9, y, z)) for s, (x, y, z) in WATER]
    for k, ghost in enumerate(([0, 1, 2], [3, 4, 5], [1], [0], [4, 5])):
        atoms = [(('ghost-' + s) if i in ghost else s, c) for i, (s, c) in enumerate(dimer)]
        for basis in ('sto-3g', 'def2-svp'):
            add(case('ghost atoms (BSSE)', f'water dimer, ghosts {ghost}, {basis}',
                     lambda a=atoms, b=basis: gto.M(atom=a, basis=b, verbose=0),
                     nonscf=basis == 'sto-3g'))
    for name, atom, basis in (('HBr', 'H 0 0 0; Br 0 0 1.41', 'def2-svp'),
                              ('CH3I (ECP)', 'C 0 0 0; I 0 0 2.14; H 1 0 -.36; H -.5 .87 -.36; '
                                             'H -.5 -.87 -.36', 'def2-svp'),
                              ('HI (ECP)', 'H 0 0 0; I 0 0 1.61', 'lanl2dz'),
                              ('NaCl', 'Na 0 0 0; Cl 0 0 2.36', 'def2-svp'),
                              ('SiH4', 'Si 0 0 0; H .85 .85 .85; H -.85 -.85 .85; '
                                       'H -.85 .85 -.85; H .85 -.85 -.85', 'sto-3g'),
                              ('water + Ar', 'O 0 0 0; H 0 .76 -.47; H 0 -.76 -.47; Ar 3 0 0',
                               'sto-3g'),
                              ('BH3', 'B 0 0 0; H 1.19 0 0; H -.6 1.03 0; H -.6 -1.03 0',
                               'sto-3g'),
                              ('He', 'He 0 0 0', 'sto-3g')):
        for method in ('rks', 'rhf'):
            add(case('ECPs and elements the model lacks', f'{name} {method}',
                     lambda a=atom, b=basis: gto.M(atom=a, basis=b, verbose=0),
                     method=method, nonscf=method == 'rks'))
    # ECPs on the model's own elements, from six ECP families of PySCF: lanl2dz puts one on
    # P, S, Cl only; sbkjc, crenbl, ccecp, bfd and stuttgart from C on (H stays all-electron)
    for name, atom, spin, families in (
            ('HCl', 'H 0 0 0; Cl 0 0 1.27', 0, ('lanl2dz', 'sbkjc', 'crenbl')),
            ('SH radical', 'S 0 0 0; H 0 0 1.34', 1, ('lanl2dz', 'sbkjc')),
            ('water', WATER, 0, ('sbkjc', 'ccecp', 'crenbl')),
            ('OH radical', 'O 0 0 0; H 0 0 .97', 1, ('ccecp',)),
            ('H2S', 'S 0 0 0; H 0 .96 .93; H 0 -.96 .93', 0, ('lanl2dz', 'ccecp', 'stuttgart')),
            ('PH3', PHOSPHINE, 0, ('lanl2dz', 'sbkjc')),
            ('CO2', CO2, 0, ('crenbl', 'stuttgart')),
            ('methanol', 'CO', 0, ('sbkjc', 'bfd')),
            ('CH3Cl', 'CCl', 0, ('lanl2dz', 'crenbl', 'bfd'))):
        for family in families:
            add(case('ECP atoms (H-Cl)', f'{name} {family}',
                     lambda a=atom, s=spin, f=family: _ecp_mol(a, f, s),
                     method='uks' if spin else 'rks'))
    # elements the model lacks, and symbols PySCF reads as ghosts (an 'X' that is not 'Xe')
    xe_def2 = dict(basis='def2-svp', ecp={'Xe': 'def2-svp'})     # def2: an ECP on Xe
    for name, build, method in (
            ('He atom', lambda: gto.M(atom='He 0 0 0', basis='sto-3g', verbose=0), 'rks'),
            ('XeH radical, def2 ECP', lambda: gto.M(atom='Xe 0 0 0; H 0 0 1.9', spin=1,
                                                    verbose=0, **xe_def2), 'uks'),
            ('water + ghost-O', lambda: _with_ghost('ghost-O'), 'rks'),
            ('water + GHOST-O', lambda: _with_ghost('GHOST-O'), 'rks'),
            ('water + X-O', lambda: _with_ghost('X-O'), 'rks'),
            ('water + X-O, def2-svp', lambda: _with_ghost('X-O', 'def2-svp'), 'rks'),
            ('BH3', lambda: gto.M(atom=[('B', (0, 0, 0))] + ring('H', 1.19, 3), basis='sto-3g',
                                  verbose=0), 'rks'),
            ('NaH', lambda: gto.M(atom='Na 0 0 0; H 0 0 1.89', basis='sto-3g', verbose=0),
             'rks'),
            ('SiH4', lambda: gto.M(atom=[('Si', (0, 0, 0))] + METHANE[1:], basis='sto-3g',
                                   verbose=0), 'rks'),
            ('Kr atom', lambda: gto.M(atom='Kr 0 0 0', basis='sto-3g', verbose=0), 'rks'),
            ('CH3Br', lambda: gto.M(atom=[('C', (0, 0, 0)), ('Br', (0, 0, 1.94))]
                                    + ring('H', 1.03, 3, z=-.36), basis='sto-3g', verbose=0),
             'rks'),
            ('XeF2, def2 ECP', lambda: gto.M(atom='F 0 0 -1.98; Xe 0 0 0; F 0 0 1.98',
                                             verbose=0, **xe_def2), 'rks')):
        add(case('unknown elements, X symbols', name, build, method=method))
    # UKS singlets whose lowest state breaks the spin symmetry, from both of PySCF's ways of
    # breaking it in the guess
    for name, atom in (('H2 2.5 Å', 'H 0 0 0; H 0 0 2.5'), ('CH2 singlet', CH2_SINGLET),
                       ('O2 singlet 1.21 Å', 'O 0 0 0; O 0 0 1.21'),
                       ('N2 2.2 Å singlet', 'N 0 0 0; N 0 0 2.2'),
                       ('ethylene twisted 90°', TWISTED_ETHENE)):
        for breaksym in (1, 'mix'):
            add(case('broken-symmetry singlets', f'{name}, breaksym={breaksym}',
                     lambda a=atom: gto.M(atom=a, basis='6-31g', verbose=0), method='uks',
                     xc='b3lyp', breaksym=breaksym, nonscf=breaksym == 1))
    for name, atom, spin, method in (('H2 2.5 Å', 'H 0 0 0; H 0 0 2.5', 0, 'rks'),
                                     ('HF 2.0 Å', 'H 0 0 0; F 0 0 2.0', 0, 'uks'),
                                     ('N2 2.2 Å triplet', 'N 0 0 0; N 0 0 2.2', 2, 'uks'),
                                     ('C2 2.0 Å triplet', 'C 0 0 0; C 0 0 2.0', 2, 'uks'),
                                     ('water, one O-H 2.0 Å', STRETCHED_WATER, 0, 'uks'),
                                     ('ethylene twisted 90°', TWISTED_ETHENE, 0, 'rks'),
                                     ('ethylene twisted 90° triplet', TWISTED_ETHENE, 2, 'uks'),
                                     ('ethane, C-C 2.4 Å', STRETCHED_ETHANE, 0, 'uks')):
        add(case('stretched and twisted bonds', f'{name} {method}',
                 lambda a=atom, s=spin: gto.M(atom=a, basis='6-31g', spin=s, verbose=0),
                 method=method))
    for name, atom, with_symmetry in (
            ('water', WATER, True), ('water, axes turned', rotated(WATER), False),
            ('ammonia', AMMONIA, True), ('methane', METHANE, False), ('CO2', CO2, False),
            ('formaldehyde', FORMALDEHYDE, False), ('ethene', ETHENE, False),
            ('phosphine', PHOSPHINE, False), ('SO3', SO3, True), ('CH2Cl2', CH2CL2, False),
            ('benzene', BENZENE, True), ('SF6', SF6, False)):
        for symmetry in (False, True) if with_symmetry else (False,):
            for method in ('rks', 'rhf'):
                add(case('symmetric molecules',
                         f'{name} {method}{" symmetry=True" if symmetry else ""}',
                         lambda a=atom, s=symmetry: gto.M(atom=a, basis='6-31g', symmetry=s,
                                                          verbose=0),
                         method=method, nonscf=method == 'rks' and not symmetry))
    for name, smi in list(SMALL.items())[:5]:
        for basis in ('sto-3g', 'def2-svp'):
            add(case('Cartesian functions (cart=True)', f'{name} {basis} cart=True',
                     lambda s=smi, b=basis: smiles_mol(s, b, cart=True), nonscf=basis == 'sto-3g'))
            add(case("unit='Bohr'", f'{name} {basis} in bohr',
                     lambda s=smi, b=basis: gto.M(atom=[(a, np.array(c) / 0.52917721092)
                                                        for a, c in _angstrom_atoms(s)],
                                                  unit='Bohr', basis=b, verbose=0),
                     nonscf=basis == 'sto-3g'))
    for name, atom in (('water', WATER), ('methane', 'C 0 0 0; H .63 .63 .63; H -.63 -.63 .63; '
                                          'H -.63 .63 -.63; H .63 -.63 -.63'),
                       ('ammonia', 'N 0 0 0; H 0 -.94 -.38; H .81 .47 -.38; H -.81 .47 -.38'),
                       ('benzene', '; '.join(f'C {1.39*np.cos(k*np.pi/3):.4f} '
                                             f'{1.39*np.sin(k*np.pi/3):.4f} 0' for k in range(6))
                        + '; ' + '; '.join(f'H {2.47*np.cos(k*np.pi/3):.4f} '
                                           f'{2.47*np.sin(k*np.pi/3):.4f} 0' for k in range(6))),
                       ('ethene', 'C 0 0 .67; C 0 0 -.67; H 0 .92 1.23; H 0 -.92 1.23; '
                                  'H 0 .92 -1.23; H 0 -.92 -1.23')):
        for method in ('rks', 'rhf'):
            add(case('symmetry on', f'{name} {method}',
                     lambda a=atom: gto.M(atom=a, basis='sto-3g', symmetry=True, verbose=0),
                     method=method, nonscf=method == 'rks'))
    for k in range(5):
        add(case('Gaussian nuclei, QM/MM point charges', f'water, Gaussian nuclear model {k}',
                 lambda: _gaussian_nuclei(), nonscf=k == 0))
        add(case('Gaussian nuclei, QM/MM point charges', f'water with {2 + 3 * k} MM charges',
                 lambda n=2 + 3 * k: gto.M(atom=WATER, basis='sto-3g', verbose=0),
                 method=('qmmm', 2 + 3 * k), nonscf=False))
    for k, (a, b) in enumerate((('O', 'C'), ('CO', 'N'), ('C=O', 'CCl'), ('S', 'F'))):
        for gap in (30., 60.):
            add(case('fragments far apart', f'{a} + {b} {gap:.0f} Å apart',
                     lambda a=a, b=b, g=gap: _far_pair(a, b, g), nonscf=gap == 30.))
    for name, smi in list(SMALL.items())[:5]:
        for label, scale in (('squeezed x0.8', 0.8), ('stretched x1.5', 1.5),
                             ('stretched x2.5 (UKS)', 2.5)):
            add(case('squeezed, stretched, near-coincident atoms', f'{name} {label}',
                     lambda s=smi, f=scale: _scaled(s, f), method='uks' if scale > 2 else 'rks',
                     nonscf=scale == 0.8))
    for d in (0.05, 0.2, 0.4):
        add(case('squeezed, stretched, near-coincident atoms', f'H...H {d} Å in water',
                 lambda d=d: gto.M(atom=WATER + [('H', (0, 0.7572, -0.4692 + d))],
                                   basis='sto-3g', spin=1, verbose=0),
                 method='uks', nonscf=False))
    for name, atom, spin in (('H atom', 'H 0 0 0', 1), ('C atom', 'C 0 0 0', 2),
                             ('O atom', 'O 0 0 0', 2), ('N atom', 'N 0 0 0', 3),
                             ('Cl atom', 'Cl 0 0 0', 1), ('H2', 'H 0 0 0; H 0 0 .74', 0),
                             ('CO2', 'C 0 0 0; O 0 0 1.16; O 0 0 -1.16', 0),
                             ('HCN', 'H 0 0 -1.07; C 0 0 0; N 0 0 1.16', 0),
                             ('C2H2', 'C 0 0 .6; C 0 0 -.6; H 0 0 1.66; H 0 0 -1.66', 0),
                             ('F2', 'F 0 0 0; F 0 0 1.41', 0)):
        for method in ('rks', 'uks') if spin == 0 else ('uks', 'roks'):
            add(case('single atoms, H2, linear molecules', f'{name} {method}',
                     lambda a=atom, s=spin: gto.M(atom=a, basis='6-31g', spin=s, verbose=0),
                     method=method, nonscf=method in ('rks', 'uks')))
    for delta, spin in ((-2, 0), (2, 0), (-1, 1), (1, 1)):
        for name in ('water', 'methanol'):
            add(case('mol.nelectron changed by hand', f'{name} nelectron {delta:+d}',
                     lambda n=name, d=delta, s=spin: _nelectron(n, d, s),
                     method='uks' if spin else 'rks', nonscf=True))
    for kind in ('corrupt', 'truncated', 'empty', 'version', 'elements'):
        add(case('broken weight files', f'{kind} weights',
                 lambda: gto.M(atom=WATER, basis='sto-3g', verbose=0),
                 predictor=('weights', bad_weights(kind, folder)), nonscf=True))
    for kind in ('nan', 'inf', 'shape'):
        for method in ('rks', 'uks', 'rhf'):
            add(case('predictor returning NaN / Inf / wrong grid', f'{kind} {method}',
                     lambda: gto.M(atom=WATER, basis='sto-3g', verbose=0), method=method,
                     predictor=('bad', kind), nonscf=method == 'rks'))
    return cases


def _angstrom_atoms(smiles):
    from pyscf.deepscf.training.geometries import smiles_geometry
    symbols, coords = smiles_geometry(smiles)
    return list(zip(symbols, coords))


def _ecp_mol(atom, family, spin):
    """``atom`` (a PySCF atom string, a list, or a SMILES) with the ECP ``family`` on every
    element that has one in it; the family's own basis (H from 6-31G for stuttgart, which has
    none for H)."""
    if isinstance(atom, str) and not any(ch.isdigit() for ch in atom):
        atom = _angstrom_atoms(atom)                                   # a SMILES
    mol = gto.M(atom=atom, spin=spin, verbose=0)                     # the elements only
    elements = {gto.mole._std_symbol(mol.atom_pure_symbol(i)) for i in range(mol.natm)}
    name = {'ccecp': 'ccecp-ccpvdz', 'bfd': 'bfd-vdz'}.get(family, family)
    basis = {e: '6-31g' if (e == 'H' and family == 'stuttgart') else name for e in elements}
    heavy = {e: family for e in elements if e != 'H' and (family != 'lanl2dz'
                                                         or e in ('P', 'S', 'Cl'))}
    return gto.M(atom=atom, basis=basis, ecp=heavy, spin=spin, verbose=0)


def _with_ghost(symbol, basis='sto-3g'):
    """Water with a ghost oxygen (no charge, no electrons, basis functions only) 2.5 Å away,
    spelled ``symbol``."""
    return gto.M(atom=WATER + [(symbol, (0, 0, 2.6))], basis=basis, verbose=0)


def _gaussian_nuclei():
    mol = gto.M(atom=WATER, basis='sto-3g', verbose=0)
    mol.nucmod = 'G'
    return mol.build()


def _far_pair(a, b, gap_ang):
    atoms = _angstrom_atoms(a) + [(s, np.array(c) + [gap_ang, 0, 0]) for s, c in
                                  _angstrom_atoms(b)]
    return gto.M(atom=atoms, basis='sto-3g', spin=None, verbose=0)


def _scaled(smiles, factor):
    atoms = _angstrom_atoms(smiles)
    center = np.mean([c for _, c in atoms], axis=0)
    return gto.M(atom=[(s, center + factor * (np.array(c) - center)) for s, c in atoms],
                 basis='sto-3g', spin=None, verbose=0)


def _nelectron(name, delta, spin):
    mol = gto.M(atom=WATER if name == 'water' else _angstrom_atoms('CO'), basis='sto-3g',
                verbose=0)
    mol.nelectron = mol.nelectron + delta
    mol.spin = spin
    return mol
