"""Molecules in: xyz files (Angstrom) read into PySCF Moles with errors that name the line, and
built test geometries (alkane chains).

PySCF is imported where a Mole is made: ``alkane`` serves the GPU training kit without PySCF.
"""
import os

import numpy as np

ANGSTROM_PER_BOHR = 0.52917721092           # pyscf.lib.param.BOHR


class MoleculeFileError(ValueError):
    """A molecule file that cannot be read; the message names the file and the line."""


def read_xyz(path):
    """[(symbol, (x, y, z))] in Angstrom from a standard xyz file (count, comment, atoms)."""
    if not os.path.isfile(path):
        raise MoleculeFileError(f'{path}: no such file')
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines or not lines[0].strip():
        raise MoleculeFileError(f'{path}: line 1: expected the number of atoms, found nothing')
    try:
        natm = int(lines[0].split()[0])
    except ValueError:
        raise MoleculeFileError(f'{path}: line 1: expected the number of atoms, '
                                f'found {lines[0].strip()!r}') from None
    atoms = []
    for n, line in enumerate(lines[2:2 + natm], start=3):
        fields = line.split()
        if len(fields) < 4:
            raise MoleculeFileError(f'{path}: line {n}: expected "symbol x y z", found {line!r}')
        symbol = fields[0]
        from pyscf import gto
        from pyscf.data import elements
        if gto.mole._std_symbol(symbol).capitalize() not in elements.ELEMENTS_PROTON:
            raise MoleculeFileError(f'{path}: line {n}: unknown element {symbol!r}')
        try:
            xyz = tuple(float(v) for v in fields[1:4])
        except ValueError:
            raise MoleculeFileError(f'{path}: line {n}: coordinates are not numbers: '
                                    f'{line!r}') from None
        atoms.append((symbol, xyz))
    if len(atoms) != natm:
        raise MoleculeFileError(f'{path}: line 1 announces {natm} atoms, the file has '
                                f'{len(atoms)}')
    return atoms


def load_molecule(path, basis='def2-svp', charge=0, spin=None, verbose=0):
    """A built gto.Mole from an xyz file (Angstrom); spin None: 0 or 1 by electron parity."""
    from pyscf import gto
    atoms = read_xyz(path)
    mol = gto.Mole(atom=atoms, basis=basis, charge=charge, unit='Angstrom', verbose=verbose)
    if spin is None:
        mol.spin = (sum(gto.charge(s) for s, _ in atoms) - charge) % 2
    else:
        mol.spin = spin
    try:
        return mol.build()
    except (RuntimeError, KeyError) as err:
        raise MoleculeFileError(f'{path}: {err}') from None


def alkane(n_carbon):
    """Linear all-trans alkane C_nH_(2n+2): (symbols, coordinates (3n+2, 3) in Angstrom)."""
    cc, ch, half = 1.53, 1.09, np.radians(109.47) / 2
    symbols, coords = [], []
    for i in range(n_carbon):
        c = np.array([i * cc * np.sin(half), (i % 2) * cc * np.cos(half), 0.0])
        up = 1 if i % 2 else -1
        symbols += ['C', 'H', 'H']
        coords += [c] + [c + ch * np.array([0, up * 0.5, z * 0.866]) for z in (1, -1)]
    symbols += ['H', 'H']
    coords += [coords[0] + np.array([-ch, 0, 0]), coords[-3] + np.array([ch, 0, 0])]
    return symbols, np.array(coords)
