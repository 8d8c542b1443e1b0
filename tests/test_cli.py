"""The ``deepscf`` command line: run, cube, bench, train; bad files and options exit with 2."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from pyscf import dft, gto
from pyscf.tools import cubegen

from pyscf import deepscf
from pyscf.deepscf.cli import main

from conftest import requires


def exit_code(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code, capsys.readouterr().err


def test_python_m_help_lists_the_commands():
    out = subprocess.run([sys.executable, '-m', 'pyscf.deepscf', '--help'], capture_output=True,
                         text=True, check=True).stdout
    for command in ('run', 'cube', 'bench', 'data', 'train'):
        assert command in out


def test_run_guess_compare(water_xyz, capsys):
    assert main(['run', water_xyz, '--xc', 'pbe', '--basis', 'sto-3g', '--compare']) == 0
    out = capsys.readouterr().out
    energies = [float(line.split('E =')[1].split()[0]) for line in out.splitlines()
                if 'E =' in line]
    assert 'deepscf guess' in out and 'minao guess' in out and len(energies) == 2
    assert abs(energies[0] - energies[1]) < 1e-6               # same final state
    ref = dft.RKS(gto.M(atom=water_xyz, basis='sto-3g', verbose=0), xc='pbe').run()
    assert abs(energies[1] - ref.e_tot) < 1e-7


def test_run_nonscf(water_xyz, capsys):
    assert main(['run', water_xyz, '--xc', 'pbe', '--basis', 'sto-3g', '--nonscf',
                 '--compare']) == 0
    out = capsys.readouterr().out
    energies = {line.split('E =')[0].strip(): float(line.split('E =')[1].split()[0])
                for line in out.splitlines() if 'E =' in line}
    e_ks = float(re.search(r'E\(KS of the output\) = (-?\d+\.\d+)', out).group(1))
    difference = float(re.search(r'difference +([-+]\d+\.\d+) mHa', out).group(1))
    mol = gto.M(atom=water_xyz, basis='sto-3g', verbose=0)
    ns = deepscf.NonSCF(mol, xc='pbe').run()                   # what the command ran
    ref = dft.RKS(mol, xc='pbe').run()
    assert abs(energies['deepscf NonSCF'] - ns.e_tot) < 1e-7 and abs(e_ks - ns.e_ks) < 1e-7
    assert abs(energies['SCF, minao guess'] - ref.e_tot) < 1e-7
    assert e_ks > ref.e_tot                                      # variational
    assert abs(difference - 1e3 * (ns.e_tot - ref.e_tot)) < 1e-3


@requires('matplotlib')
def test_cube_matches_scf_density(water_xyz, tmp_path, capsys):
    """Predicted density cube against PySCF's cube of the SCF density (reference level):
    L1 difference over the points within 10 %; the network averaged over its box and
    the box's inversion."""
    out, png = str(tmp_path / 'w.cube'), str(tmp_path / 'w.png')
    assert main(['cube', water_xyz, '-o', out, '--png', png, '--points', '40',
                 '--mirrors', '2']) == 0
    assert 'wrote' in capsys.readouterr().out
    mol = gto.M(atom=water_xyz, basis='def2-svp', verbose=0)
    mf = dft.RKS(mol, xc='b3lyp').run()
    ref = str(tmp_path / 'ref.cube')
    cubegen.density(mol, ref, mf.make_rdm1(), nx=40, ny=40, nz=40, margin=3.0)
    pred, exact = cubegen.Cube(mol).read(out), cubegen.Cube(mol).read(ref)
    assert pred.shape == exact.shape == (40, 40, 40)
    l1 = np.abs(pred - exact).sum() / np.abs(exact).sum()
    assert l1 < 0.10, l1
    with open(png, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_cube_residual_integrates_to_zero(water_xyz, tmp_path):
    out = str(tmp_path / 'r.cube')
    assert main(['cube', water_xyz, '-o', out, '--residual', '--points', '60',
                 '--margin', '5']) == 0
    mol = gto.M(atom=water_xyz, basis='def2-svp', verbose=0)
    cube = cubegen.Cube(mol, 60, 60, 60, margin=5.0)
    values = cube.read(out)
    voxel = abs(np.linalg.det(cube.box)) / (59 ** 3)
    assert abs(values.sum() * voxel) < 0.05           # neutral molecule: residual charge ~0
    assert values.max() > 1e-3 and values.min() < -1e-3


@requires('matplotlib')
def test_bench_table_jsonl_png(water_xyz, tmp_path, capsys):
    out = str(tmp_path / 'bench')
    assert main(['bench', water_xyz, '--xc', 'pbe', '--basis', 'sto-3g', '--guesses',
                 'minao,atom,deepscf,deepscf/stand-in', '--out', out, '--no-progress']) == 0
    text = capsys.readouterr().out
    assert 'water' in text and 'deepscf' in text
    assert re.search(r'model load and first call \(once per process.*\): \d+\.\d s', text)
    rows = [json.loads(line) for line in open(os.path.join(out, 'bench_pbe_sto-3g.jsonl'))]
    assert [r['guess'] for r in rows] == ['minao', 'atom', 'deepscf', 'deepscf/stand-in']
    assert all(r['converged'] and abs(r['final_vs_minao']) < 1e-6 for r in rows)
    assert os.path.getsize(os.path.join(out, 'bench_pbe_sto-3g.png')) > 1000


def test_train_help():
    with pytest.raises(SystemExit) as exc:
        main(['train', '--help'])
    assert exc.value.code == 0


@pytest.mark.parametrize('case', ['no file', 'bad line', 'bad count', 'unsupported element',
                                  'bad option', 'bad guess', 'bad weights', 'no out folder',
                                  'empty folder', 'no data folder', 'bad mirrors',
                                  'no compact source', 'not a compact file',
                                  'negative threshold', 'bad crop', 'bad batch', 'bad rate'])
def test_bad_input_exits_2(case, water_xyz, tmp_path, capsys):
    bad = tmp_path / 'bad.xyz'
    argv, says = {
        'no file': (['run', str(tmp_path / 'none.xyz')], 'no such file'),
        'bad line': (['run', str(bad)], 'line 4'),
        'bad count': (['cube', str(bad), '-o', str(tmp_path / 'x.cube')], 'line 1'),
        'unsupported element': (['run', str(bad)], 'supported'),
        'bad option': (['run', water_xyz, '--spin', '-1'], 'spin'),
        'bad guess': (['bench', water_xyz, '--guesses', 'minao,magic'], 'magic'),
        'bad weights': (['run', water_xyz, '--weights', str(bad)], 'not a readable'),
        'no out folder': (['cube', water_xyz, '-o', str(tmp_path / 'no' / 'x.cube')], 'folder'),
        'empty folder': (['bench', str(tmp_path / 'empty')], 'no .xyz'),
        'no data folder': (['train', '--data', str(tmp_path / 'none'), '--out', 'x'], 'no data'),
        'bad mirrors': (['run', water_xyz, '--mirrors', '3'], 'mirrors'),
        'no compact source': (['data', 'compact', '--data', str(tmp_path), str(tmp_path / 'x.npz'),
                               '--out', str(tmp_path / 'set.npz')], 'no data folder or compact'),
        'not a compact file': (['data', 'compact', '--data', str(bad),
                                '--out', str(tmp_path / 'set.npz')], 'not a compact file'),
        'negative threshold': (['data', 'compact', '--data', str(tmp_path), '--out',
                                str(tmp_path / 'set.npz'), '--threshold=-1e-3'], '>= 0'),
        'bad crop': (['train', '--data', str(tmp_path), '--out', 'x', '--crop', '0'],
                     'argument --crop'),
        'bad batch': (['train', '--data', str(tmp_path), '--out', 'x', '--batch-size', '1.5'],
                      'argument --batch-size'),
        'bad rate': (['train', '--data', str(tmp_path), '--out', 'x', '--lr=-1e-3'],
                     'argument --lr'),
    }[case]
    if case == 'bad line':
        bad.write_text('3\n\nO 0 0 0\nH 0 0.7 x\nH 0 -0.7 0\n')
    elif case == 'bad count':
        bad.write_text('three\n\nO 0 0 0\n')
    elif case == 'unsupported element':
        bad.write_text('2\n\nSi 0 0 0\nH 0 0 1.5\n')
    elif case in ('bad weights', 'not a compact file'):
        bad.write_text('not a model')
    elif case == 'empty folder':
        os.makedirs(tmp_path / 'empty')
    code, err = exit_code(argv, capsys)
    assert code == 2 and 'error' in err and says in err, err
