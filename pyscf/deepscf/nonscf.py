"""NonSCF: energies, orbitals and properties from one Fock build on the predicted density.

``NonSCF(mol, xc='pbe')`` or ``NonSCF(mf)`` returns a real PySCF mean-field object (its class is
the user's method class with the NonSCF mixin in front), so PySCF's analysis, properties and
``density_fit()`` work on it.  ``kernel()`` predicts the density, builds the Fock matrix from it,
diagonalizes (the orbitals, mo_energy and the density matrix are that diagonalization's), and
reports four energies:

* ``e_harris``: the Harris-Foulkes functional of the predicted density;
* ``e_ks``: the Kohn-Sham (or HF) energy of the output density matrix (one more Fock build);
* ``e_harris_output``: the Harris functional of the output density matrix, from the eigenvalues
  of the Fock matrix that e_ks built (no further Fock build);
* ``e_extrapolated``: a e_ks + b e_harris + c e_harris_output (a + b + c = 1), the weights the
  predictor's ``energy_weights`` (None where the predictor has none).

All three errors are second order in a density error, e_ks above the SCF energy and the Harris
energies mostly below: for one response mode of the density, e_ks - E = -r (e_harris - E), r the
ratio of the Hartree-xc kernel to the kinetic stiffness.  The network's error has short- and
long-wavelength parts with different r; the diagonalization filters the short ones, so the
output's pair (e_ks, e_harris_output) sees mostly the long ones.  The bundled network's weights
are fitted on validation molecules of its data set (scripts/calibrate_nonscf.py), not on the
benchmark set.

``e_tot`` follows ``energy``: 'auto' (default) is e_extrapolated where the predictor is
calibrated, else e_ks; or 'ks', 'harris', 'extrapolated'.  Measured (PBE/def2-SVP, six dev
molecules, exact residual smoothed on the 0.3 bohr grid): e_ks within 0.001 mHa of the SCF
energy, e_harris within 0.53 mHa.  With the bundled network (20 dev molecules) e_ks is 0.3-21
mHa above and e_harris -8.7 to +2.0 mHa off; see the README for e_extrapolated.
``converged`` stays False: no SCF was run.
"""
import numpy as np
from pyscf import dft, gto, lib, scf
from pyscf.lib import logger

from pyscf.deepscf.engine import fock as fock_mod, solver
from pyscf.deepscf.predict import default_predictor, predict_density

ENERGIES = ('auto', 'ks', 'harris', 'extrapolated')


class _NonSCF:
    __name_mixin__ = 'NonSCF'
    _keys = {'predictor', 'exchange', 'e_harris', 'e_ks', 'e_harris_output', 'e_extrapolated',
             'density', 'fock_grids_level', 'energy'}

    def __init__(self, mf, predictor=None, exchange='semilocal', energy='auto'):
        self.__dict__.update(mf.__dict__)
        self.predictor = predictor
        self.exchange = exchange
        self.energy = energy
        # V_xc of the prediction on a level-1 DFT grid: as accurate as level 3 in the
        # measurement of fock.fock_grids, a third of the cost (None: mf.grids)
        self.fock_grids_level = 1
        self.e_harris = None
        self.e_ks = None
        self.e_harris_output = None
        self.e_extrapolated = None
        self.density = None

    def _is_mem_enough(self):
        # PySCF keeps all two-electron integrals in memory when they fit, which pays off over
        # SCF cycles; NonSCF builds one or two matrices, so it computes them directly
        # (naphthalene PBE/def2-SVP: J 3.2 s direct against 3.5 s and 1 GB kept in memory)
        return False

    def undo_nonscf(self):
        """The underlying SCF object (same attributes, SCF kernel)."""
        return lib.view(self, lib.drop_class(self.__class__, _NonSCF))

    def dump_flags(self, verbose=None):
        super().dump_flags(verbose)
        log = logger.new_logger(self, verbose)
        log.info('******** deepscf NonSCF: one Fock build on the predicted density ********')
        log.info('predictor = %s', self.predictor or 'bundled model')
        log.info('exact exchange from = %s', self.exchange)
        log.info('V_xc of the prediction on grids of level %s', self.fock_grids_level)
        log.info('e_tot = %s energy', self.energy)
        return self

    def kernel(self, dm0=None, **kwargs):
        """Predict, build, diagonalize; returns e_tot (Hartree). dm0 is ignored (no SCF)."""
        mol = self.mol
        log = logger.new_logger(self)
        t0 = (logger.process_clock(), logger.perf_counter())
        if self.energy not in ENERGIES:
            raise ValueError(f'energy={self.energy!r}; choose one of {ENERGIES}')
        if self.exchange == 'stand-in':     # its Fock matrix has no exact exchange to count
            raise ValueError("exchange='stand-in' is for the guess only; NonSCF energies need "
                             "'semilocal', 'two-step' or 'minao'")
        if self.verbose >= logger.WARN:
            self.check_sanity()
        self.dump_flags()
        self.build(mol)
        unsupported = solver.check_molecule(mol)
        if unsupported:
            raise ValueError(f'deepscf NonSCF: no model for element(s) {", ".join(unsupported)}')
        predictor = self.predictor if self.predictor is not None else default_predictor()
        weights = getattr(predictor, 'energy_weights', None)
        if self.energy == 'extrapolated' and weights is None:     # before the work, not after
            raise ValueError("energy='extrapolated' needs a predictor with energy_weights "
                             '(calibrated weights; see scripts/calibrate_nonscf.py)')
        if mol.spin or abs(mol.atom_charges().sum() - mol.nelectron) > 0:     # ion or open shell
            log.warn('deepscf NonSCF: the network was trained on neutral closed-shell molecules '
                     'and is given no charge or spin; energies of ions and open-shell molecules '
                     'can be tens of mHa off (use the SCF with init_guess="deepscf")')
        self.density = predict_density(mol, predictor, verbose=self.verbose, stdout=self.stdout)
        h1e = self.get_hcore(mol)
        s1e = self.get_ovlp(mol)
        result = solver.solve(self, self.density, self.exchange, h1e=h1e, s1e=s1e,
                              grids_level=self.fock_grids_level)
        self.mo_energy = result['mo_energy']
        self.mo_coeff = result['mo_coeff']
        self.mo_occ = result['mo_occ']
        dm = result['dm']
        self.e_harris = fock_mod.harris_energy(self, self.density, result['fock'],
                                               result['terms'], dm)
        vhf = self.get_veff(mol, dm)
        self.e_ks = self.energy_tot(dm, h1e, vhf)
        self.e_harris_output = output_harris_energy(self, h1e, s1e, vhf, dm, self.e_ks)
        self.e_extrapolated = (None if weights is None else
                               weights['ks'] * self.e_ks + weights['harris'] * self.e_harris
                               + weights['harris_output'] * self.e_harris_output)
        self.e_tot = self._chosen_energy()
        energies = {'e_ks': self.e_ks, 'e_harris': self.e_harris,
                    'e_harris_output': self.e_harris_output}
        bad = [k for k, v in energies.items() if not np.isfinite(v)]
        if bad or not np.all(np.isfinite(self.mo_energy)):
            raise RuntimeError(f'deepscf NonSCF: non-finite {", ".join(bad) or "orbital energies"}'
                               ' from the predicted density')
        self.converged = False
        self.cycles = 0
        log.note('deepscf NonSCF  E(Harris) = %.12g  E(KS of output density) = %.12g  '
                 'E(Harris of output density) = %.12g', self.e_harris, self.e_ks,
                 self.e_harris_output)
        if weights is not None:
            log.note('deepscf NonSCF  E(extrapolated, weights KS %.3f Harris %.3f output '
                     'Harris %.3f) = %.12g', weights['ks'], weights['harris'],
                     weights['harris_output'], self.e_extrapolated)
        log.timer('deepscf NonSCF', *t0)
        self._finalize()
        return self.e_tot

    def _chosen_energy(self):
        if self.energy == 'ks' or (self.energy == 'auto' and self.e_extrapolated is None):
            return self.e_ks
        if self.energy == 'harris':
            return self.e_harris
        return self.e_extrapolated

    def _finalize(self):
        log = logger.new_logger(self)
        log.note('deepscf NonSCF E_tot = %.15g  (not self-consistent)', self.e_tot)
        return self

    def nuc_grad_method(self):
        raise NotImplementedError('gradients need a self-consistent density: run the SCF, '
                                  'e.g. with init_guess="deepscf"')

    Gradients = nuc_grad_method


def output_harris_energy(mf, h1e, s1e, vhf, dm, e_ks):
    """Harris energy (Hartree) of the density matrix ``dm`` whose Fock matrix h1e + vhf and
    energy ``e_ks`` are known: E_KS[D] + sum_i n_i eps_i - Tr(F[D] D), eps the eigenvalues of
    F[D] occupied as the method does (a diagonalization, no Fock build)."""
    fock = mf.get_fock(h1e, s1e, vhf, dm)          # no cycle, no DIIS: h1e + vhf
    mo_energy, mo_coeff = mf.eig(fock, s1e)
    mo_occ = mf.get_occ(mo_energy, mo_coeff)
    e_fd = np.einsum('...ij,...ji', h1e + vhf, dm).sum().real     # both spins where dm has two
    return float(e_ks + np.sum(mo_occ * mo_energy) - e_fd)


def NonSCF(mol_or_mf, xc=None, predictor=None, exchange='semilocal', energy='auto'):
    """Non-self-consistent mean-field object on the predicted density.

    Args:
        mol_or_mf : gto.Mole (then RKS/UKS by spin, or RHF/UHF for xc='hf') or a PySCF
            mean-field object (its class, grids, density fitting and settings are kept)
        xc : functional; required with a Mole, overrides mf.xc with a mean-field object
        predictor : density predictor (None: the bundled model)
        exchange : 'semilocal', 'two-step' or 'minao', the density matrix exact exchange is taken
            from (solver.solve)
        energy : what e_tot holds: 'auto' (e_extrapolated where the predictor is calibrated,
            else e_ks), 'ks', 'harris' or 'extrapolated'
    """
    if isinstance(mol_or_mf, gto.MoleBase):
        mol = mol_or_mf
        if solver.is_periodic(mol):
            raise ValueError('deepscf NonSCF works for molecules, not periodic cells')
        if xc is None:
            raise ValueError("NonSCF(mol) needs a functional, e.g. NonSCF(mol, xc='pbe'), "
                             "or xc='hf'")
        if xc.strip().upper() == 'HF':
            mf = scf.HF(mol)
        else:
            mf = dft.KS(mol, xc=xc)
    elif isinstance(mol_or_mf, scf.hf.SCF):
        mf = mol_or_mf
        if xc is not None:
            if not fock_mod.is_kohn_sham(mf):
                raise ValueError('xc= given with a Hartree-Fock object; pass a KS object')
            mf.xc = xc
    else:
        raise TypeError(f'NonSCF takes a gto.Mole or a PySCF mean-field object, '
                        f'not {type(mol_or_mf).__name__}')
    solver.check_molecule(mf.mol)
    if isinstance(mf, _NonSCF):
        return mf
    return lib.set_class(_NonSCF(mf, predictor, exchange, energy), (_NonSCF, mf.__class__))
