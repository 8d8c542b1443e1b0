"""Drug-like molecules for the training data: SMILES of 20-50 atoms, rich in S, P and Cl.

    python scripts/make_drug_smiles.py [--n 600] [--seed 0] [--out pyscf/deepscf/training/drug_smiles.txt]

Each molecule joins a ring scaffold through a linker (amide, sulfonamide, ether, thioether,
urea, phosphonate ester, ...) to a ring or methyl group and carries up to three substituents; the choices are
drawn with a fixed seed, sanitized by RDKit, kept when the molecule (hydrogens included) has
20-50 atoms and is new, and written one canonical SMILES per line.  Half the molecules are
drawn so that they contain S, P or Cl.  None of the dev-set molecules can appear: they have
fewer than 20 atoms or a single ring and no linker.  `deepscf data generate --smiles drugs`
reads the file.
"""
import argparse
import os

import numpy as np

SCAFFOLDS = ['c1ccc({})cc1', 'c1cc({})ccn1', 'c1cc({})sc1', 'c1cc({})oc1', 'c1cnc({})nc1',
             'c1csc({})n1', 'c1c[nH]c({})n1', 'C1CCN({})CC1', 'C1CCC({})CC1',
             'c1ccc2[nH]c({})cc2c1', 'c1ccc2sc({})nc2c1', 'c1ccc2cc({})ccc2c1', 'N1({})CCSCC1',
             'c1cnn({})c1', 'C1CC({})C1']
GROUPS = ['c1ccccc1', 'c1ccncc1', 'c1ccsc1', 'c1ccoc1', 'c1ncccn1', 'c1nccs1', 'C1CCNCC1',
          'N1CCOCC1', 'N1CCSCC1', 'C1CCCCC1', 'c1ccc2ccccc2c1', 'c1nc2ccccc2s1', 'C1CC1',
          'n1ccnc1', 'C']
LINKERS = ['C(=O)N', 'NC(=O)', 'S(=O)(=O)N', 'NS(=O)(=O)', 'O', 'S', 'C', 'CC', 'NC(=O)N',
           'OP(=O)(OC)O', 'P(=O)(OC)', 'C(=O)O', 'CS(=O)(=O)', 'N', 'OC', 'C(=O)', 'SC']
SUBSTITUENTS = ['Cl', 'F', 'C', 'OC', 'SC', 'C(F)(F)F', 'S(N)(=O)=O', 'S(C)(=O)=O', 'C#N',
                'C(N)=O', 'C(=O)O', 'NC(C)=O', 'P(=O)(OC)OC', 'O', 'N', 'CCl', 'Cl', 'SC(F)(F)F']
HEAVY = ('S', 'P', 'Cl')


def decorate(smiles, rng, n_sub):
    """``smiles`` with up to n_sub substituents on carbons that carry hydrogen (None if RDKit
    rejects it)."""
    from rdkit import Chem
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    rw = Chem.RWMol(mol)
    sites = [a.GetIdx() for a in mol.GetAtoms() if a.GetSymbol() == 'C' and a.GetTotalNumHs() > 0]
    for site in rng.permutation(sites)[:n_sub]:
        sub = Chem.MolFromSmiles(str(rng.choice(SUBSTITUENTS)))
        offset = rw.GetNumAtoms()
        for atom in sub.GetAtoms():
            rw.AddAtom(atom)
        for bond in sub.GetBonds():
            rw.AddBond(offset + bond.GetBeginAtomIdx(), offset + bond.GetEndAtomIdx(),
                       bond.GetBondType())
        rw.AddBond(int(site), offset, Chem.BondType.SINGLE)
    return Chem.MolToSmiles(rw)


def candidate(rng):
    """Scaffold + linker + group, then 0-3 substituents."""
    group = str(rng.choice(GROUPS)).replace('1', '3').replace('2', '4')  # the scaffold has 1, 2
    core = str(rng.choice(SCAFFOLDS)).format(str(rng.choice(LINKERS)) + group)
    return decorate(core, rng, int(rng.integers(0, 4)))


def generate(n, seed=0):
    from rdkit import Chem, RDLogger
    RDLogger.DisableLog('rdApp.*')
    rng = np.random.default_rng(seed)
    out, seen = [], set()
    while len(out) < n:
        want_heavy = len(out) % 2 == 0
        smi = candidate(rng)
        mol = Chem.MolFromSmiles(smi) if smi else None
        if mol is None:
            continue
        smi = Chem.MolToSmiles(mol)
        natm = Chem.AddHs(mol).GetNumAtoms()
        has_heavy = any(a.GetSymbol() in HEAVY for a in mol.GetAtoms())
        if 20 <= natm <= 50 and smi not in seen and (has_heavy or not want_heavy):
            seen.add(smi)
            out.append(smi)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--n', type=int, default=600)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', 'pyscf',
                                                 'deepscf', 'training', 'drug_smiles.txt'))
    args = p.parse_args(argv)
    smiles = generate(args.n, args.seed)
    with open(args.out, 'w') as f:
        f.write(f'# {len(smiles)} drug-like SMILES, 20-50 atoms: python '
                f'scripts/make_drug_smiles.py --n {args.n} --seed {args.seed}\n')
        f.write('\n'.join(smiles) + '\n')
    counts = {e: sum(e in s for s in smiles) for e in HEAVY}
    print(f'wrote {len(smiles)} SMILES to {args.out}; containing S {counts["S"]}, '
          f'P {counts["P"]}, Cl {counts["Cl"]}')


if __name__ == '__main__':
    main()
