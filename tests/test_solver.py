import numpy as np
from pyscf import dft

from pyscf.deepscf import solver


def test_exchange_density_matrix_tagged_with_natural_orbitals(water):
    """The tags that make density-fitted K fast describe the same matrix and the same K."""
    mf = dft.RKS(water, xc='b3lyp').density_fit()
    dm = mf.init_guess_by_minao()
    tagged = solver.with_natural_orbitals(dm, mf.get_ovlp())
    assert np.allclose((tagged.mo_coeff * tagged.mo_occ) @ tagged.mo_coeff.T, dm, atol=1e-10)
    assert np.allclose(mf.get_k(water, tagged), mf.get_k(water, np.asarray(dm)), atol=1e-10)
