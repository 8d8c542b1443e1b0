"""Build the large-molecule benchmark set: one 3D conformer per row of molecules.csv.

    python scripts/make_large_set.py [--out DIR] [--only NAME ...] [--force]

Reads benchmarks/large/molecules.csv (name, smiles, kind, note) and writes DIR/<name>.xyz
(default DIR: benchmarks/large; Angstrom; comment line: name, SMILES, method).  RDKit only, no
quantum chemistry.  By kind:

* drug, peptide, macrocycle, graphene: RDKit ETKDGv3 (random seed 0; random starting coordinates
  for molecules over 100 atoms) then MMFF94, at most 2000 iterations.
* alkane: the all-trans zig-zag chain, hydrogens added by RDKit, then MMFF94.
* stack: the dot-separated SMILES is a Watson-Crick G.C pair (9-methylguanine, 1-methylcytosine):
  each base ETKDGv3+MMFF94 alone, both laid on one plane with the three hydrogen-bond heavy-atom
  distances fitted (O6..N4 2.91, N1..N3 2.95, N2..O2 2.86 A), then MMFF94 of the pair with those
  distances and the planar dihedrals held; the second pair is the first turned 36 degrees about
  the pair's normal through its centroid and shifted 3.4 A along it (B-DNA-like stacking).

Existing xyz files are kept (a rerun is cheap) unless --force.  Every xyz, new or kept, is then
checked: atom count and elements against the SMILES, no two non-bonded atoms closer than 1.0 A
(and for the stack: near-planar pairs, hydrogen bonds within 0.1 A of target).
"""
import argparse
import csv
import os
import sys
import time

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem
from rdkit.Chem.rdMolDescriptors import CalcMolFormula

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.path.normpath(os.path.join(HERE, '..', 'benchmarks', 'large'))
ELEMENTS = {'H', 'C', 'N', 'O', 'F', 'P', 'S', 'Cl'}
SEED = 0
METHOD = f'RDKit ETKDGv3+MMFF94 seed {SEED}'
MIN_DIST = 1.0

# Watson-Crick hydrogen bonds of G.C, heavy atoms: (guanine atom, cytosine atom, distance / A)
GUANINE = Chem.MolFromSmarts('Cn1cnc2c1nc([NX3:3])[nX3:2]c2=[O:1]')
CYTOSINE = Chem.MolFromSmarts('Cn1ccc([NX3:1])[nX2:2]c1=[O:3]')
WC_BONDS = {1: 2.91, 2: 2.95, 3: 2.86}     # map number -> O6..N4, N1..N3, N2..O2
TWIST, RISE = 36.0, 3.4


def read_rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def molecule(row):
    """The RDKit molecule of a row, hydrogens explicit; the stack is two copies of the pair."""
    mol = Chem.AddHs(Chem.MolFromSmiles(row['smiles']))
    bad = {a.GetSymbol() for a in mol.GetAtoms()} - ELEMENTS
    if bad:
        raise ValueError(f"{row['name']}: elements {sorted(bad)} not allowed")
    if row['kind'] == 'stack':
        mol = Chem.CombineMols(mol, mol)
    return mol


def mmff(mol, ff=None):
    """MMFF94 minimization (2000 iterations at most); True when converged."""
    if ff is None:
        props = AllChem.MMFFGetMoleculeProperties(mol)
        ff = AllChem.MMFFGetMoleculeForceField(mol, props, ignoreInterfragInteractions=False)
    return ff.Minimize(maxIts=2000) == 0


def embed(mol):
    params = AllChem.ETKDGv3()
    params.randomSeed = SEED
    params.useRandomCoords = mol.GetNumAtoms() > 100
    if AllChem.EmbedMolecule(mol, params) != 0:
        raise RuntimeError(f'ETKDGv3 embedding failed ({mol.GetNumAtoms()} atoms)')
    return mol


def zigzag_alkane(smiles):
    """All-trans chain: carbons 1.53 A apart, C-C-C 112 degrees, in the xy plane."""
    heavy = Chem.MolFromSmiles(smiles)
    half = np.radians(112.0) / 2
    dx, dy = 1.53 * np.sin(half), 1.53 * np.cos(half) / 2
    conf = Chem.Conformer(heavy.GetNumAtoms())
    for i in range(heavy.GetNumAtoms()):
        conf.SetAtomPosition(i, (i * dx, dy if i % 2 else -dy, 0.0))
    heavy.AddConformer(conf)
    return Chem.AddHs(heavy, addCoords=True)


def hbond_pairs(pair):
    """[(i, j, target)]: the Watson-Crick heavy-atom pairs of one G.C pair."""
    g, c = pair.GetSubstructMatch(GUANINE), pair.GetSubstructMatch(CYTOSINE)
    if not g or not c:
        raise ValueError('stack: expected 9-methylguanine and 1-methylcytosine')
    gmap = {GUANINE.GetAtomWithIdx(k).GetAtomMapNum(): i for k, i in enumerate(g)}
    cmap = {CYTOSINE.GetAtomWithIdx(k).GetAtomMapNum(): i for k, i in enumerate(c)}
    return [(gmap[k], cmap[k], d) for k, d in WC_BONDS.items()]


def best_plane(xyz):
    """(centroid, unit normal) of the least-squares plane."""
    centre = xyz.mean(axis=0)
    return centre, np.linalg.svd(xyz - centre)[2][2]


def in_plane_atoms(mol):
    """All atoms but methyl hydrogens."""
    return [a.GetIdx() for a in mol.GetAtoms()
            if not (a.GetAtomicNum() == 1
                    and a.GetNeighbors()[0].GetTotalNumHs(includeNeighbors=True) == 3)]


def planar_torsions(pair, hbonds, flat):
    """Dihedrals that keep a flat pair flat: all bonded ones among the in-plane atoms, and
    one across each hydrogen bond (against propeller twist and buckle)."""
    def heavy_neighbour(i):
        return next(n.GetIdx() for n in pair.GetAtomWithIdx(i).GetNeighbors()
                    if n.GetAtomicNum() > 1)

    flat = set(flat)
    quads = [(heavy_neighbour(i), i, j, heavy_neighbour(j)) for i, j, _ in hbonds]
    for b in pair.GetBonds():
        j, k = b.GetBeginAtom(), b.GetEndAtom()
        quads += [(i.GetIdx(), j.GetIdx(), k.GetIdx(), l.GetIdx())
                  for i in j.GetNeighbors() for l in k.GetNeighbors()
                  if i.GetIdx() != k.GetIdx() and l.GetIdx() != j.GetIdx()
                  and i.GetIdx() != l.GetIdx() and {i.GetIdx(), l.GetIdx()} <= flat]
    return quads


def held_mmff(pair, hbonds, torsions=()):
    """MMFF94 minimization of a G.C pair, its Watson-Crick distances (and torsions) held."""
    props = AllChem.MMFFGetMoleculeProperties(pair)
    ff = AllChem.MMFFGetMoleculeForceField(pair, props, ignoreInterfragInteractions=False)
    for i, j, d in hbonds:
        ff.MMFFAddDistanceConstraint(i, j, False, d, d, 1000.0)
    for i, j, k, l in torsions:
        ff.MMFFAddTorsionConstraint(i, j, k, l, True, -1.0, 1.0, 100.0)
    return mmff(pair, ff)


def on_xy(xyz):
    """Coordinates turned so that the best plane is z = 0, centroid at the origin."""
    centre = xyz.mean(axis=0)
    return (xyz - centre) @ np.linalg.svd(xyz - centre)[2].T


def dock(g, c, hbonds):
    """c (flat, on xy) moved in the plane so that the hbonds (i in g, j in c, distance) fit:
    least squares over the turn, the shift and the flip; the fit that keeps the bases apart."""
    from scipy.optimize import minimize
    i, j, d = (np.array(v) for v in zip(*hbonds))

    def moved(p, flip):
        a = p[0]
        turn = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        if flip:                                    # half a turn about x
            turn = turn @ np.diag([1, -1, -1])
        return c @ turn.T + (p[1], p[2], 0)

    def loss(p, flip):
        return ((np.linalg.norm(g[i] - moved(p, flip)[j], axis=1) - d)**2).sum()

    shift = g[i].mean(axis=0) - c[j].mean(axis=0)
    best = None
    for flip in (False, True):
        for a in np.radians(np.arange(0, 360, 30)):
            fit = minimize(loss, (a, shift[0], shift[1]), args=(flip,))
            apart = np.linalg.norm(g[:, None] - moved(fit.x, flip)[None], axis=-1).min()
            if apart > 1.5 and (best is None or fit.fun < best[0]):
                best = fit.fun, moved(fit.x, flip)
    return best[1]


def wc_pair(smiles):
    """A planar Watson-Crick G.C pair: each base embedded and MMFF94-optimized alone, laid on
    one plane with the hydrogen-bond distances fitted, then optimized together with the
    distances and the flat dihedrals held."""
    pair = Chem.AddHs(Chem.MolFromSmiles(smiles))
    hbonds, flat = hbond_pairs(pair), in_plane_atoms(pair)   # MMFF re-perceives aromaticity
    index = []
    bases = Chem.GetMolFrags(pair, asMols=True, fragsMolAtomMapping=index)
    xyz = []
    for base in bases:
        mmff(embed(base))
        xyz.append(on_xy(base.GetConformer().GetPositions()))
    local = [(index[0].index(i), index[1].index(j), d) for i, j, d in hbonds]
    xyz[1] = dock(xyz[0], xyz[1], local)
    conf = Chem.Conformer(pair.GetNumAtoms())
    for base, sub in zip(index, xyz):
        for k, p in zip(base, sub):
            conf.SetAtomPosition(k, (p[0], p[1], 0.0) if k in flat else p.tolist())
    pair.AddConformer(conf)
    return pair, held_mmff(pair, hbonds, planar_torsions(pair, hbonds, flat))


def rotation(axis, degrees):
    """Rotation matrix about a unit axis (Rodrigues)."""
    a = np.radians(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def stacked_pairs(smiles):
    """Two G.C pairs: the second turned TWIST degrees about the normal and raised RISE A."""
    pair, converged = wc_pair(smiles)
    xyz = pair.GetConformer().GetPositions()
    centre, normal = best_plane(xyz[in_plane_atoms(pair)])
    upper = centre + (xyz - centre) @ rotation(normal, TWIST).T + RISE * normal
    return np.vstack([xyz, upper]), converged


def build(row):
    """(coordinates in Angstrom, method, MMFF converged) of one row."""
    kind, smiles = row['kind'], row['smiles']
    if kind == 'stack':
        xyz, converged = stacked_pairs(smiles)
        return xyz, (f'{METHOD}, Watson-Crick distances held, 2nd pair turned {TWIST:g} deg '
                     f'and raised {RISE:g} A'), converged
    if kind == 'alkane':
        mol = zigzag_alkane(smiles)
        method = 'all-trans zig-zag + MMFF94'
    else:
        mol = embed(Chem.AddHs(Chem.MolFromSmiles(smiles)))
        method = METHOD
    converged = mmff(mol)
    return mol.GetConformer().GetPositions(), method, converged


def write_xyz(path, symbols, xyz, comment):
    with open(path, 'w') as f:
        f.write(f'{len(symbols)}\n{comment}\n')
        for s, (x, y, z) in zip(symbols, xyz):
            f.write(f'{s:<2s} {x:14.8f} {y:14.8f} {z:14.8f}\n')


def read_xyz(path):
    with open(path) as f:
        lines = f.read().splitlines()
    natm = int(lines[0])
    fields = [line.split() for line in lines[2:2 + natm]]
    return [f[0] for f in fields], np.array([[float(v) for v in f[1:4]] for f in fields])


def closest_nonbonded(mol, xyz):
    """The shortest distance between two atoms not bonded to each other."""
    d = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
    d[np.diag_indices_from(d)] = np.inf
    i, j = np.array([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]).T
    d[i, j] = d[j, i] = np.inf
    return d.min()


def stereo_kept(mol, xyz, smiles):
    """Whether the stereo read from the coordinates is that of the SMILES."""
    mol = Chem.Mol(mol)
    conf = Chem.Conformer(mol.GetNumAtoms())
    for k, p in enumerate(xyz):
        conf.SetAtomPosition(k, p.tolist())
    mol.AddConformer(conf)
    Chem.AssignStereochemistryFrom3D(mol)
    return Chem.CanonSmiles(Chem.MolToSmiles(Chem.RemoveHs(mol))) == Chem.CanonSmiles(smiles)


def check_stack(smiles, xyz):
    """Problems of the G.C stack: hydrogen bonds off target, pairs not planar."""
    pair = Chem.AddHs(Chem.MolFromSmiles(smiles))
    n, flat = pair.GetNumAtoms(), in_plane_atoms(pair)
    problems = []
    for half in (xyz[:n], xyz[n:]):
        for i, j, target in hbond_pairs(pair):
            if abs(np.linalg.norm(half[i] - half[j]) - target) > 0.1:
                problems.append(f'H-bond {i}-{j} {np.linalg.norm(half[i] - half[j]):.2f} A')
        centre, normal = best_plane(half[flat])
        if np.abs((half[flat] - centre) @ normal).max() > 0.3:
            problems.append('pair not planar')
    return problems


def check(row, path):
    """(formula, atoms, closest non-bonded distance, problems) of one xyz file."""
    mol = molecule(row)
    symbols, xyz = read_xyz(path)
    problems = []
    if symbols != [a.GetSymbol() for a in mol.GetAtoms()]:
        problems.append(f'{len(symbols)} atoms or their order differ from the SMILES '
                        f'({mol.GetNumAtoms()} atoms)')
        return CalcMolFormula(mol), len(symbols), float('nan'), problems
    dmin = closest_nonbonded(mol, xyz)
    if dmin < MIN_DIST:
        problems.append(f'non-bonded atoms {dmin:.2f} A apart')
    smiles = row['smiles']
    if row['kind'] == 'stack':
        problems += check_stack(smiles, xyz)
        smiles = f'{smiles}.{smiles}'
    if not stereo_kept(mol, xyz, smiles):
        problems.append('stereo of the coordinates differs from the SMILES')
    return CalcMolFormula(mol), len(symbols), dmin, problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=DEFAULT_DIR, help='folder of the xyz files')
    parser.add_argument('--only', nargs='+', metavar='NAME', help='build only these molecules')
    parser.add_argument('--force', action='store_true', help='rebuild existing xyz files')
    args = parser.parse_args(argv)
    RDLogger.DisableLog('rdApp.*')

    rows = read_rows(os.path.join(DEFAULT_DIR, 'molecules.csv'))
    if args.only:
        unknown = set(args.only) - {r['name'] for r in rows}
        if unknown:
            parser.error(f'unknown molecules: {", ".join(sorted(unknown))}')
        rows = [r for r in rows if r['name'] in args.only]
    os.makedirs(args.out, exist_ok=True)

    for row in rows:
        path = os.path.join(args.out, row['name'] + '.xyz')
        if os.path.exists(path) and not args.force:
            print(f"{row['name']:20s} kept {path}")
            continue
        t0 = time.perf_counter()
        xyz, method, converged = build(row)
        symbols = [a.GetSymbol() for a in molecule(row).GetAtoms()]
        write_xyz(path, symbols, xyz, f"{row['name']} {row['smiles']} {method}")
        print(f"{row['name']:20s} {len(symbols):4d} atoms {time.perf_counter() - t0:7.1f} s"
              + ('' if converged else '  (MMFF94 not converged in 2000 iterations)'), flush=True)

    print(f"\n{'name':20s} {'kind':10s} {'atoms':>5s}  {'formula':16s} {'min d/A':>7s}  problems")
    failed = 0
    for row in rows:
        formula, natm, dmin, problems = check(row, os.path.join(args.out, row['name'] + '.xyz'))
        failed += bool(problems)
        print(f"{row['name']:20s} {row['kind']:10s} {natm:5d}  {formula:16s} {dmin:7.2f}  "
              + ('; '.join(problems) or 'ok'))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
