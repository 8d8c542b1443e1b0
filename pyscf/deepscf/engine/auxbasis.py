"""The auxiliary basis of the residual density: atom-centred even-tempered Gaussians (bohr).

The measurements behind the shells (f functions, tight exponents, lean hydrogen) are in
docs/how_it_works.md and docs/experiments.md.
"""
import numpy as np
import scipy.special
from pyscf import gto

from pyscf.deepscf.engine import atoms as atoms_mod


def even_tempered_shells(max_exponent, min_exponent=0.12, ratio=2.0, lmax=2):
    """Even-tempered uncontracted shells, exponents in [min_exponent, max_exponent] bohr^-2."""
    shells = []
    for l in range(lmax + 1):
        top = max_exponent / (2.0 ** l)          # higher l: more diffuse is enough
        n = max(1, int(np.floor(np.log(top / min_exponent) / np.log(ratio))) + 1)
        for a in min_exponent * ratio ** np.arange(n):
            shells.append([l, [a, 1.0]])
    return shells


def residual_auxmol(mol, max_exponent=50., ratio=2.0, lmax=3, hydrogen_max_exponent=12.5,
                    hydrogen_lmax=2):
    """Auxiliary basis (a gto.Mole in bohr) for the residual density on the real atoms of
    ``mol``.

    Heavy atoms get s, p, d and f shells up to ``max_exponent`` (bohr^-2): the f shells carry
    the angular shape of the bonding density, the tight functions absorb the near-nucleus part
    of the residual that the grid samples only at a few points.  Hydrogen, which has no core,
    gets s, p, d up to ``hydrogen_max_exponent``.
    """
    idx = atoms_mod.real_atoms(mol)
    symbols = atoms_mod.atom_symbols(mol)
    basis = {s: even_tempered_shells(max_exponent, ratio=ratio, lmax=lmax) for s in set(symbols)}
    if 'H' in basis:
        basis['H'] = even_tempered_shells(hydrogen_max_exponent, ratio=ratio, lmax=hydrogen_lmax)
    auxmol = gto.Mole(atom=[[s, mol.atom_coord(i)] for i, s in zip(idx, symbols)],
                      basis=basis, unit='Bohr', spin=None, verbose=0)
    auxmol.build(False, False)
    return auxmol


def gto_norms(l, exponent):
    """gto.gto_norm for arrays of angular momenta and exponents (bohr^-2): 1 / sqrt(int_0^inf
    r^(2l+2) exp(-2 a r^2) dr) = sqrt(2 (2a)^(l+3/2) / Gamma(l+3/2))."""
    return np.sqrt(2 * (2 * exponent) ** (l + 1.5) / scipy.special.gamma(l + 1.5))


def smoothed_auxmol(auxmol, smoothing_bohr):
    """(smoothed, scale): each function of ``auxmol`` convolved with a normalized Gaussian of
    standard deviation ``smoothing_bohr``, as a basis of the same shape.

    A solid-harmonic Gaussian r^l Y_lm exp(-a r^2) convolved with (b/pi)^(3/2) exp(-b r^2),
    b = 1 / (2 sigma^2), is (a'/a)^(l+3/2) r^l Y_lm exp(-a' r^2) with 1/a' = 1/a + 1/b (a
    product of Gaussians in Fourier space).  ``smoothed`` holds the normalized functions of
    exponent a'; chi_P convolved = scale[P] * smoothed_P, and integrals are unchanged.
    """
    b = 1. / (2. * smoothing_bohr ** 2)
    smoothed = auxmol.copy(deep=False)
    smoothed._env = auxmol._env.copy()
    l = auxmol._bas[:, gto.ANG_OF]
    exp_ptr, coeff_ptr = auxmol._bas[:, gto.PTR_EXP], auxmol._bas[:, gto.PTR_COEFF]
    a = auxmol._env[exp_ptr]
    a_smooth = a * b / (a + b)
    norm, norm_smooth = gto_norms(l, a), gto_norms(l, a_smooth)
    smoothed._env[exp_ptr] = a_smooth
    smoothed._env[coeff_ptr] = norm_smooth
    scale = (a_smooth / a) ** (l + 1.5) * norm / norm_smooth
    return smoothed, np.repeat(scale, 2 * l + 1)
