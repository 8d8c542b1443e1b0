"""Every example runs (smoke tests, with small molecules and bases so that CI stays short)."""
import os
import subprocess
import sys

from conftest import requires


EXAMPLES = os.path.join(os.path.dirname(__file__), '..', 'examples')


def run_example(name, *args):
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *args],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_guess_example(water_xyz):
    out = run_example('01_guess.py', water_xyz, 'sto-3g')
    assert out.startswith('model load (once per process)')      # timed apart from the guess
    energies = [float(line.split('E =')[1].split()[0]) for line in out.splitlines()
                if 'E =' in line]
    assert len(energies) == 2 and abs(energies[0] - energies[1]) < 1e-6


def test_nonscf_example(water_xyz):
    out = run_example('02_nonscf.py', water_xyz, 'sto-3g')
    nonscf, scf = (float(line.split('E =')[1].split()[0]) for line in out.splitlines()
                   if 'E =' in line)
    error = float(next(line for line in out.splitlines() if line.startswith('error')).split()[1])
    assert abs(error - 1e3 * (nonscf - scf)) < 1e-3
    assert abs(nonscf - scf) < 0.05                     # an estimate of the SCF energy
    alpha = [float(v) for v in out.split('polarizability (a.u.)')[1].split()[1::2][:2]]
    assert abs(alpha[0] - alpha[1]) < 0.2 * abs(alpha[1])


@requires('matplotlib')
def test_larger_molecule_example(tmp_path):
    """The example's code path on glycine, minimal basis (its default, the 41-atom penicillin G
    in def2-SVP, takes minutes on two cores)."""
    out = run_example('03_larger_molecule.py', os.path.join(EXAMPLES, 'molecules',
                                                            'glycine.xyz'),
                      'sto-3g', str(tmp_path))
    assert '10 atoms' in out and os.path.exists(tmp_path / 'glycine_residual.png')
    assert os.path.exists(tmp_path / 'glycine_residual.cube')
    energies = [float(line.split('E =')[1].split()[0]) for line in out.splitlines()
                if 'E =' in line]
    assert len(energies) == 2 and abs(energies[0] - energies[1]) < 1e-6


@requires('qm9pack', 'tqdm')
def test_train_small_example(tmp_path):
    # a step count, not minutes: the example must finish the same on a slow or busy machine
    out = run_example('04_train_small.py', '--molecules', '3', '--minutes', '30', '--steps', '3', '--basis',
                      'sto-3g', '--out', str(tmp_path))
    assert os.path.exists(tmp_path / 'small.pt') and 'water with' in out
