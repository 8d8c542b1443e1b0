"""Regenerate pyscf/deepscf/engine/data/free_atoms.json: spherical free-atom densities as s-type Gaussians.

Each element's density is the spherically averaged, fractionally occupied restricted Kohn-Sham
atom (PySCF's ``atom_ks``) at the reference level (B3LYP/def2-SVP, the level the training data
use), fitted on a radial grid by a sum of s Gaussians  rho(r) = sum_k c_k exp(-a_k r^2)
(r in bohr, rho in electrons/bohr^3) whose integral is exactly Z.

Why the reference basis: in def2-SVP the 1s core is a single contraction, so the molecular core
density is nearly that of the free atom in the same basis; atoms from a larger basis would leave a
sharp core part in the residual density that no uniform grid resolves.

    python scripts/make_free_atoms.py
"""
import json
import os
import numpy as np
from pyscf import gto
from pyscf.scf import atom_ks

ELEMENTS = ['H', 'C', 'N', 'O', 'F', 'P', 'S', 'Cl']
BASIS = 'def2-svp'
XC = 'b3lyp'
OUT = os.path.join(os.path.dirname(__file__), '..', 'pyscf', 'deepscf', 'engine', 'data',
                   'free_atoms.json')


def radial_density(symbol, r):
    z = gto.charge(symbol)
    mol = gto.M(atom=f'{symbol} 0 0 0', basis=BASIS, spin=z % 2, verbose=0)
    e, mo_e, mo_c, mo_occ = atom_ks.get_atm_nrks(mol, xc=XC)[symbol]
    dm = (mo_c * mo_occ) @ mo_c.T
    # spherically averaged: sample along a few directions and average (the averaged dm is
    # already spherical; averaging removes round-off anisotropy)
    dirs = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1] / np.sqrt(3)])
    rho = 0
    for d in dirs:
        ao = mol.eval_gto('GTOval_sph', r[:, None] * d)
        rho = rho + np.einsum('gi,ij,gj->g', ao, dm, ao)
    return rho / len(dirs), mol


def fit_gaussians(r, rho, z, exponents):
    """Least squares of r*rho on the radial grid (weight 4 pi r^2 dr), integral fixed to z.

    Solved on the design matrix itself (not normal equations, whose conditioning is the
    square); the constraint is a row with a large weight.
    """
    w = 4 * np.pi * r**2 * np.gradient(r)
    norms = (np.pi / exponents)**1.5          # integral of exp(-a r^2) over space
    g = np.exp(-np.outer(r**2, exponents)) / norms   # unit-charge Gaussians
    sw = np.sqrt(w)
    a = np.vstack([g * sw[:, None], 1e4 * np.ones(len(exponents))])
    b = np.append(rho * sw, 1e4 * z)
    c = np.linalg.lstsq(a, b, rcond=None)[0]
    return c / norms


def main():
    r = np.exp(np.linspace(np.log(1e-4), np.log(30.), 3000))
    out = {'level': f'{XC}/{BASIS} spherically averaged restricted KS atom (pyscf atom_ks)',
           'units': 'rho(r) = sum_k coef_k exp(-exponent_k r^2); r in bohr, rho in e/bohr^3',
           'elements': {}}
    for sym in ELEMENTS:
        rho, mol = radial_density(sym, r)
        z = mol.atom_charge(0)
        amax = 2 * max(np.max(mol.bas_exp(i)) for i in range(mol.nbas))
        exps = np.geomspace(0.05, amax, int(np.ceil(np.log(amax / 0.05) / np.log(1.35))) + 1)
        c = fit_gaussians(r, rho, z, exps)
        fit = np.exp(-np.outer(r**2, exps)) @ c
        w = 4 * np.pi * r**2 * np.gradient(r)
        l1 = np.sum(np.abs(fit - rho) * w)
        print(f'{sym:2s} Z={z:2d} n_gauss={len(exps):2d} N={np.sum(rho*w):.6f} '
              f'fit L1 error={l1:.2e} e  min rho_fit={fit.min():.1e}')
        out['elements'][sym] = {'Z': int(z), 'exponents': exps.tolist(), 'coefs': c.tolist()}
    with open(OUT, 'w') as f:
        json.dump(out, f, indent=1)


if __name__ == '__main__':
    main()
