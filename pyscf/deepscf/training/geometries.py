"""Where the training structures come from: QM9 molecules (the ``qm9pack`` PyPI package's
csv files) and RDKit conformers of SMILES (a built-in list for P, S and Cl, and a drug-like
list), in Angstrom.  PySCF-free; RDKit is imported only for SMILES.
"""
import ast
import csv
import glob
import importlib.util
import os

import numpy as np

BUILTIN = 'builtin'
# 600 drug-like molecules of 20-50 atoms rich in S, P, Cl (scripts/make_drug_smiles.py)
DRUGS = 'drugs'
DRUG_SMILES_FILE = os.path.join(os.path.dirname(__file__), 'drug_smiles.txt')

# Small molecules with P, S and Cl (plus a few F/N/O neighbours) for the extra elements.
BUILTIN_SMILES = (
    'c1ccsc1', 'CSC', 'CS', 'CCS', 'CS(C)=O', 'CS(C)(=O)=O', 'c1cscn1', 'S', 'S=C=S',
    'CC(N)=S', 'Sc1ccccc1', 'CN=C=S', 'CSSC', 'CS(=O)(=O)O', 'NC(N)=S', 'OCCS', 'C1CCSC1',
    'NC(CS)C(=O)O', 'Clc1ccccc1', 'ClC(Cl)Cl', 'ClCCl', 'CCl', 'ClC(Cl)(Cl)Cl', 'CC(Cl)=O',
    'C=CCl', 'Clc1ccccn1', 'OC(=O)CCl', 'ClCCCl', 'Oc1ccc(Cl)cc1', 'N#CCCl', 'OCCCl',
    'COP(=O)(OC)OC', 'P', 'CP(C)C', 'OP(O)(O)=O', 'COP(C)(=O)OC', 'ClP(Cl)Cl', 'CP(O)(O)=O',
    'CP(C)(C)=O', 'ClP(Cl)(Cl)=O', 'Pc1ccccc1', 'CS(=O)(=O)Cl', 'O=S(Cl)Cl', 'Clc1cccs1',
    'FC(F)(F)S', 'CP(=O)(F)OC',
)


def qm9_csv_files():
    """The QM9 csv files shipped in the ``qm9pack`` package (found without importing it)."""
    spec = importlib.util.find_spec('qm9pack')
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError('QM9 geometries need the qm9pack package: pip install qm9pack')
    folder = os.path.join(list(spec.submodule_search_locations)[0], 'data')
    files = sorted(glob.glob(os.path.join(folder, 'qm9_part*.csv')))
    if not files:
        raise RuntimeError(f'no qm9_part*.csv in {folder}')
    return files


def read_qm9(indices=None):
    """QM9 molecules as {index: (symbols, coords_ang)}; all of them or only ``indices``.

    Reads the csv columns Index, Elements (e.g. "['C','H']") and XYZ_Ang ("[[x,y,z],...]" in Å,
    numbers sometimes written '0.' as in the original QM9 files).
    """
    wanted = None if indices is None else {int(i) for i in indices}
    out = {}
    csv.field_size_limit(1 << 30)
    for path in qm9_csv_files():
        with open(path, newline='') as f:
            rows = csv.reader(f)
            head = next(rows)
            i_idx, i_el, i_xyz = (head.index(k) for k in ('Index', 'Elements', 'XYZ_Ang'))
            for row in rows:
                index = int(row[i_idx])
                if wanted is not None and index not in wanted:
                    continue
                symbols = ast.literal_eval(row[i_el])          # "['C','H']"
                coords = ast.literal_eval(row[i_xyz])          # "[[0.5,0.,1.],...]"
                out[index] = (symbols, np.array(coords, dtype=float).reshape(-1, 3))
                if wanted is not None and len(out) == len(wanted):
                    return out
    if wanted is not None and len(out) < len(wanted):
        raise KeyError(f'QM9 has no molecule with index {sorted(wanted - set(out))[:10]}')
    return out


def qm9_indices():
    """All QM9 indices present in the csv files (sorted)."""
    out = []
    csv.field_size_limit(1 << 30)
    for path in qm9_csv_files():
        with open(path, newline='') as f:
            rows = csv.reader(f)
            i_idx = next(rows).index('Index')
            out.extend(int(row[i_idx]) for row in rows)
    return sorted(out)


def sample_qm9_indices(n, seed=0):
    """``n`` QM9 indices from a seeded permutation: a larger ``n`` extends a smaller one."""
    perm = np.random.default_rng(seed).permutation(qm9_indices())
    return [int(i) for i in perm[:n]]


def read_smiles_file(path):
    """SMILES strings of a file, one per line (first column; '#' comments and blanks skipped)."""
    if path == BUILTIN:
        return list(BUILTIN_SMILES)
    if path == DRUGS:
        path = DRUG_SMILES_FILE
    with open(path) as f:
        return [line.split()[0] for line in f if line.strip() and not line.startswith('#')]


def smiles_geometry(smiles, seed=0xdeeb):
    """(symbols, coords_ang) of an RDKit ETKDG conformer (fixed seed), MMFF-optimised (UFF if
    MMFF has no parameters)."""
    from rdkit import Chem
    from rdkit.Chem import AllChem
    rdmol = Chem.MolFromSmiles(smiles)
    if rdmol is None:
        raise ValueError(f'RDKit cannot parse SMILES {smiles!r}')
    rdmol = Chem.AddHs(rdmol)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    if AllChem.EmbedMolecule(rdmol, params) != 0:
        raise ValueError(f'RDKit could not embed {smiles!r}')
    if AllChem.MMFFHasAllMoleculeParams(rdmol):
        AllChem.MMFFOptimizeMolecule(rdmol, maxIters=2000)
    else:
        AllChem.UFFOptimizeMolecule(rdmol, maxIters=2000)
    symbols = [a.GetSymbol() for a in rdmol.GetAtoms()]
    return symbols, rdmol.GetConformer().GetPositions()
