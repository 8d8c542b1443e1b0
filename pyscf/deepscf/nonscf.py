"""NonSCF: energies, orbitals and properties from one Fock build on the predicted density.

``NonSCF(mol, xc='pbe')`` or ``NonSCF(mf)`` returns a real PySCF mean-field object (its class is
the user's method class with the NonSCF mixin in front), so PySCF's analysis, properties and
``density_fit()`` work on it.  ``kernel(mf)`` predicts the density, builds the Fock matrix from
it, diagonalizes (the orbitals, mo_energy and the density matrix are that diagonalization's),
and reports four energies (Hartree):

* ``e_harris``: the Harris-Foulkes functional of the predicted density;
* ``e_ks``: the Kohn-Sham (or HF) energy of the output density matrix (one more Fock build);
* ``e_harris_output``: the Harris functional of the output density matrix, from the eigenvalues
  of the Fock matrix that e_ks built (no further Fock build);
* ``e_extrapolated``: a e_ks + b e_harris + c e_harris_output (a + b + c = 1), the weights the
  predictor's ``energy_weights`` (None where the predictor has none).

All three errors are second order in a density error, e_ks above the SCF energy and the Harris
energies mostly below, in ratios that the weights calibrate (scripts/calibrate_nonscf.py;
docs/measurements.md gives the reasoning and the figures).

``e_tot`` follows ``energy``: 'auto' (default) is e_extrapolated inside the domain the
predictor's weights were calibrated on (its functional type, basis family, closed shells, neutral
molecules: ``calibration_gaps``), else e_ks with a logged note; or 'ks', 'harris',
'extrapolated'.  Open shells have no e_harris (None): the network predicts the total density,
not the spin density a spin-polarized Harris functional needs; their e_harris_output and e_ks
are the spin-polarized method's own.  ``converged`` stays False: no SCF was run.
"""
import numpy as np
from pyscf import dft, gto, lib, scf
from pyscf.lib import logger

from pyscf.deepscf import domain
from pyscf.deepscf.engine import fock as fock_mod, memory, solver
from pyscf.deepscf.predict import default_predictor, predict_density

ENERGIES = ('auto', 'ks', 'harris', 'extrapolated')


class _NonSCF:
    __name_mixin__ = 'NonSCF'
    _keys = {'predictor', 'e_harris', 'e_ks', 'e_harris_output', 'e_extrapolated', 'density',
             'fock_grids_level', 'energy'}

    def __init__(self, mf, predictor=None, energy='auto'):
        self.__dict__.update(mf.__dict__)
        self.predictor = predictor
        self.energy = energy
        # V_xc of the prediction on a level-1 DFT grid, as accurate as level 3 for it
        # (fock.fock_grids; None: mf.grids)
        self.fock_grids_level = 1
        self.e_harris = None
        self.e_ks = None
        self.e_harris_output = None
        self.e_extrapolated = None
        self.density = None

    def _is_mem_enough(self):
        # PySCF keeps all two-electron integrals in memory when they fit, which pays off over
        # SCF cycles; NonSCF builds one or two matrices, so it computes them directly
        return False

    def dump_flags(self, verbose=None):
        super().dump_flags(verbose)
        log = logger.new_logger(self, verbose)
        log.info('******** deepscf NonSCF: one Fock build on the predicted density ********')
        log.info('predictor = %s', self.predictor or 'bundled model')
        log.info('V_xc of the prediction on grids of level %s', self.fock_grids_level)
        log.info('e_tot = %s energy', self.energy)
        return self

    def kernel(self, dm0=None, **kwargs):
        """Predict, build, diagonalize; returns e_tot (Hartree). dm0 is ignored (no SCF)."""
        if self.verbose >= logger.WARN:
            self.check_sanity()
        self.dump_flags()
        self.build(self.mol)
        return kernel(self)

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


def kernel(mf):
    """The NonSCF computation of a mean-field object carrying the _NonSCF mixin: predict the
    density, build its Fock matrix, diagonalize, and set mo_*, e_harris, e_ks,
    e_harris_output, e_extrapolated and e_tot (Hartree) on ``mf``; returns e_tot."""
    mol = mf.mol
    log = logger.new_logger(mf)
    t0 = (logger.process_clock(), logger.perf_counter())
    check_input(mf)                     # before the network is loaded: the reason comes first
    predictor = mf.predictor if mf.predictor is not None else default_predictor()
    weights = energy_weights(mf, predictor)
    if domain.net_charge(mol) or mol.spin:
        log.warn('deepscf NonSCF: the network was trained on neutral closed-shell molecules '
                 'and is given no charge or spin; energies of ions and open-shell molecules '
                 'are rougher (docs/reliability.md gives the measured errors)')
    with memory.limit(mf.max_memory):
        mf.density = predict_density(mol, predictor, verbose=mf.verbose, stdout=mf.stdout,
                                     max_memory=mf.max_memory)
        h1e = mf.get_hcore(mol)
        s1e = mf.get_ovlp(mol)
        solution = solver.solve(mf, mf.density, h1e=h1e, s1e=s1e,
                                grids_level=mf.fock_grids_level)
    mf.mo_energy, mf.mo_coeff, mf.mo_occ = solution.mo_energy, solution.mo_coeff, solution.mo_occ
    dm = solution.dm
    vhf = mf.get_veff(mol, dm)
    mf.e_ks = mf.energy_tot(dm, h1e, vhf)
    mf.e_harris, mf.e_harris_output = harris_energies(mf, dm, vhf, h1e, s1e, mf.density,
                                                      solution.fock)
    mf.e_extrapolated = (None if weights is None else
                         weights['ks'] * mf.e_ks + weights['harris'] * mf.e_harris
                         + weights['harris_output'] * mf.e_harris_output)
    mf.e_tot = mf._chosen_energy()
    energies = {'e_ks': mf.e_ks, 'e_harris': mf.e_harris, 'e_harris_output': mf.e_harris_output}
    bad = [k for k, v in energies.items() if v is not None and not np.isfinite(v)]
    if bad or not np.all(np.isfinite(mf.mo_energy)):
        raise RuntimeError(f'deepscf NonSCF: non-finite {", ".join(bad) or "orbital energies"}'
                           ' from the predicted density')
    mf.converged = False
    mf.cycles = 0
    log.note('deepscf NonSCF  E(Harris) = %s  E(KS of output density) = %.12g  '
             'E(Harris of output density) = %.12g',
             'none (open shell)' if mf.e_harris is None else '%.12g' % mf.e_harris,
             mf.e_ks, mf.e_harris_output)
    if weights is not None:
        log.note('deepscf NonSCF  E(extrapolated, weights KS %.3f Harris %.3f output '
                 'Harris %.3f) = %.12g', weights['ks'], weights['harris'],
                 weights['harris_output'], mf.e_extrapolated)
    log.timer('deepscf NonSCF', *t0)
    mf._finalize()
    return mf.e_tot


def check_input(mf):
    """ValueError for an ``mf.energy`` NonSCF does not know, or a molecule or method it
    refuses (domain.nonscf_gaps, unsupported_method, broken_spin_symmetry)."""
    if mf.energy not in ENERGIES:
        raise ValueError(f'energy={mf.energy!r}; choose one of {ENERGIES}')
    gaps = (domain.nonscf_gaps(mf.mol) + domain.unsupported_method(mf)
            + domain.broken_spin_symmetry(mf))
    if gaps:
        raise ValueError('deepscf NonSCF: ' + '; '.join(gaps) + ' (run the SCF, e.g. with '
                         "init_guess='deepscf')")


def energy_weights(mf, predictor):
    """The predictor's NonSCF energy weights that apply to ``mf`` (None: e_tot is e_ks), for an
    ``mf`` check_input has passed; ValueError for an ``mf.energy`` the predictor or the state
    cannot give."""
    weights = getattr(predictor, 'energy_weights', None)
    open_shell = is_open_shell(mf)
    if mf.energy == 'extrapolated' and weights is None:
        raise ValueError("energy='extrapolated' needs a predictor with energy_weights "
                         '(calibrated weights; see scripts/calibrate_nonscf.py)')
    if mf.energy in ('harris', 'extrapolated') and open_shell:
        raise ValueError(f"energy={mf.energy!r} needs the Harris energy of the input density, "
                         'which open shells do not have (the network predicts no spin '
                         "density); use energy='ks'")
    outside = calibration_gaps(mf, getattr(predictor, 'energy_domain', None))
    if open_shell and 'an open shell' not in outside:      # no e_harris to mix
        outside.append('an open shell')
    if weights is not None and outside:
        logger.note(mf, 'deepscf NonSCF: outside the domain the energy weights were calibrated '
                    'on (%s); e_tot is e_ks', '; '.join(outside))
        if mf.energy == 'extrapolated':
            raise ValueError('deepscf NonSCF: energy=\'extrapolated\' outside the calibrated '
                             'domain: ' + '; '.join(outside))
        return None
    return weights


def harris_energies(mf, dm, vhf, h1e=None, s1e=None, density=None, fock=None):
    """(e_harris, e_harris_output) in Hartree: the Harris-Foulkes functional
    E[in -> out] = Tr(D_out F_in) - E_J[rho_in] - int v_xc rho_in + E_xc[rho_in]
    - E_K[D_x] + E_nuc at two inputs.

    e_harris: the input is the predicted ``density`` with its restricted Fock matrix ``fock``
    (solver.solve's, tagged with exc, vxc_rho and ek: fock.with_energy_tags) and the output
    ``dm``, that matrix's density matrix; None without them, or for open shells (the
    network predicts no spin density).

    e_harris_output: the input is ``dm`` itself, with its Fock matrix h1e + ``vhf``
    (mf.get_veff of dm), as E[D] + Tr(F[D] (D' - D)), D' the density matrix of the method's
    next diagonalization of F[D] (its own eig and occupation: per spin for UHF, the effective
    Fock matrix for ROHF); no further Fock build.

    At a converged density both are E(SCF).
    """
    mol = mf.mol
    if h1e is None:
        h1e = mf.get_hcore(mol)
    if s1e is None:
        s1e = mf.get_ovlp(mol)
    e_harris = None
    if density is not None and fock is not None and not is_open_shell(mf):
        e_band = np.einsum('ij,ji->', fock_mod.total_dm(dm, mol.nao), fock).real
        e_harris = float(e_band - density.coulomb_energy() - fock.vxc_rho + fock.exc - fock.ek
                         + mf.energy_nuc())
    f_dm = mf.get_fock(h1e, s1e, vhf, dm)          # no cycle, no DIIS: h1e + vhf (ROHF: its
    mo_energy, mo_coeff = mf.eig(f_dm, s1e)        # effective Fock matrix)
    dm_next = mf.make_rdm1(mo_coeff, mf.get_occ(mo_energy, mo_coeff))
    f_spin = np.asarray(h1e + vhf)                 # per spin where dm has two
    if np.asarray(dm).ndim == 3 and f_spin.ndim == 2:
        f_spin = np.asarray((f_spin, f_spin))
    change = np.asarray(dm_next) - np.asarray(dm)
    e_dm = mf.energy_tot(dm, h1e, vhf)
    e_harris_output = float(e_dm + np.einsum('...ij,...ji', f_spin, change).sum().real)
    return e_harris, e_harris_output


def is_open_shell(mf):
    """True where alpha and beta electrons differ in number (mol.spin != 0): the restricted
    Fock matrix of the predicted density then misses the spin density."""
    return bool(mf.mol.spin)


def calibration_gaps(mf, calibration):
    """Reasons why ``mf`` lies outside the calibration domain (domain.calibration_domain), or
    [] inside; a predictor without one is not judged ([])."""
    if not calibration:
        return []
    mol = mf.mol
    gaps = []
    if mol.spin != calibration['spin']:
        gaps.append('an open shell')
    if domain.net_charge(mol) != calibration['charge']:
        gaps.append('an ion')
    if fock_mod.is_kohn_sham(mf):
        xc_type = mf._numint._xc_type(mf.xc)
        omega, alpha, hyb = fock_mod.exchange_coefficients(mf)
        exact = bool(hyb or alpha)
    else:
        xc_type, exact = 'HF', True
    if xc_type != calibration['xc_type'] or exact != calibration['exact_exchange']:
        gaps.append(f'a {"hybrid " if exact else ""}{xc_type} method, calibrated on '
                    f'{"hybrid " if calibration["exact_exchange"] else ""}'
                    f'{calibration["xc_type"]}')
    family = domain.basis_family(mol.basis)
    if family != calibration['basis_family']:
        gaps.append(f'basis family {family}, calibrated on {calibration["basis_family"]}')
    return gaps


def NonSCF(mol_or_mf, xc=None, predictor=None, energy='auto'):
    """Non-self-consistent mean-field object on the predicted density.

    Args:
        mol_or_mf : gto.Mole (then RKS/UKS by spin, or RHF/UHF for xc='hf') or a PySCF
            mean-field object (its class, grids, density fitting and settings are kept)
        xc : functional; required with a Mole, overrides mf.xc with a mean-field object
        predictor : density predictor (None: the bundled model)
        energy : what e_tot holds: 'auto' (e_extrapolated where the predictor is calibrated,
            else e_ks), 'ks', 'harris' or 'extrapolated'
    """
    if isinstance(mol_or_mf, gto.MoleBase):
        mol = mol_or_mf
        if domain.is_periodic(mol):
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
    domain.check_molecule(mf.mol)
    if isinstance(mf, _NonSCF):
        return mf
    return lib.set_class(_NonSCF(mf, predictor, energy), (_NonSCF, mf.__class__))
