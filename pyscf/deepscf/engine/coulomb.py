"""The Coulomb matrix and energy of a predicted density (Hartree; the density in
e/bohr^3 as auxiliary-basis coefficients: density.PredictedDensity's auxmol and coeff)."""
import numpy as np
import scipy.linalg
from pyscf import df, gto, lib


def coulomb_matrix(mol, density, block_mb=200):
    """J_{mu nu} = (mu nu | rho) in the basis of ``mol`` (Hartree).

    Three-centre integrals in blocks of auxiliary shells of at most ``block_mb`` megabytes
    (one block for small molecules).
    """
    nao = mol.nao
    vj = np.zeros(nao * (nao + 1) // 2)
    auxmol, coeff = density.auxmol, density.coeff
    if mol.cart and not auxmol.cart:     # libcint pairs Cartesian functions only alike
        coeff = auxmol.cart2sph_coeff() @ coeff
        auxmol = auxmol.copy(deep=False)
        auxmol.cart = True
    ao_loc = auxmol.ao_loc_nr()
    per_block = max(1, int(block_mb * 1e6 / 8 / len(vj)))      # auxiliary functions
    b0 = 0
    while b0 < auxmol.nbas:
        b1 = max(b0 + 1, int(np.searchsorted(ao_loc, ao_loc[b0] + per_block, 'right')) - 1)
        b1 = min(b1, auxmol.nbas)
        int3c = df.incore.aux_e2(mol, auxmol, 'int3c2e', aosym='s2ij',
                                 shls_slice=(0, mol.nbas, 0, mol.nbas, b0, b1))
        vj += int3c @ coeff[ao_loc[b0]:ao_loc[b1]]
        b0 = b1
    return lib.unpack_tril(vj)


def coulomb_matrix_df(with_df, density):
    """J_{mu nu} = (mu nu|P) (P|Q)^-1 (Q|rho) through a density-fitting object (``mf.with_df``
    of a density-fitted SCF; Hartree), or None where that is not possible: Cartesian and
    spherical functions mixed, or a tensor made with a metric this cannot reproduce (a custom
    ``decompose_j2c``, a ``_cderi`` file of another fitting basis).

    The SCF's own DF tensor B = T (P|mu nu), T a factor of the inverse metric (the inverse
    Cholesky factor, or PySCF's eigen-decomposition where Cholesky fails), gives
    J = B^T T (Q|rho) for the cost of a contraction: no three-centre integrals with the ~100
    fit functions per atom, and the tensor, built here if needed, is the one the SCF then
    reuses.  Which T made the tensor is not recorded, so each candidate is checked against
    three-centre integrals of two shell pairs before it is used.
    """
    if with_df._cderi is None:
        with_df.build()
    auxmol = with_df.auxmol
    if auxmol is None or auxmol.cart != density.auxmol.cart:
        return None
    mol = with_df.mol
    j2c = auxmol.intor('int2c2e', hermi=1)
    q_rho = gto.intor_cross('int2c2e', auxmol, density.auxmol) @ density.coeff     # (Q|rho)
    pairs, exact = _sample_three_centre(mol, auxmol)
    b_sample = None
    for factor in _inverse_metric_factors(auxmol, j2c):
        d = factor(q_rho[:, None])[:, 0]
        vj, sample, p0 = 0, [], 0
        for cderi in with_df.loop():      # J and the sample of the tensor in one pass
            vj = vj + d[p0:p0 + len(cderi)] @ cderi
            if b_sample is None:
                sample.append(cderi[:, pairs])
            p0 += len(cderi)
        if b_sample is None:
            b_sample = np.vstack(sample)
        if p0 == len(d) and np.abs(factor(exact) - b_sample).max() \
                <= 1e-6 * max(np.abs(b_sample).max(), 1e-12):
            return lib.unpack_tril(vj)
    return None


def coulomb_energy(density):
    """E_J = 1/2 (rho | rho) in Hartree."""
    return 0.5 * density.coeff @ density.auxmol.intor('int2c2e') @ density.coeff


def _inverse_metric_factors(auxmol, j2c):
    """Functions x -> T x for the factors T of the inverse metric (T^T T = (P|Q)^-1) that PySCF
    builds DF tensors with (df.incore): the inverse Cholesky factor where the metric allows
    one, then its eigen-decomposition (made only when asked for: an eigh of the metric)."""
    try:
        low = scipy.linalg.cholesky(j2c, lower=True)
        yield lambda x: scipy.linalg.solve_triangular(low, x, lower=True)
    except scipy.linalg.LinAlgError:
        pass
    eig = df.incore._eig_decompose(auxmol, j2c, df.incore.LINEAR_DEP_THR)
    yield lambda x: eig @ x


def _sample_three_centre(mol, auxmol):
    """(pair indices in PySCF's packed lower triangle, (P|pair) (naux, n)) of the first shell
    with itself and with the last: a check of a DF tensor's metric."""
    ao_loc = mol.ao_loc_nr()
    pairs, cols = [], []
    for ish in sorted({0, mol.nbas - 1}):
        block = df.incore.aux_e2(mol, auxmol, 'int3c2e', aosym='s1',
                                 shls_slice=(ish, ish + 1, 0, 1, 0, auxmol.nbas))
        block = np.asarray(block).reshape(ao_loc[ish + 1] - ao_loc[ish], ao_loc[1], auxmol.nao)
        for i in range(ao_loc[ish], ao_loc[ish + 1]):
            for j in range(0, min(ao_loc[1], i + 1)):
                pairs.append(i * (i + 1) // 2 + j)
                cols.append(block[i - ao_loc[ish], j])
    return np.array(pairs), np.array(cols).T
