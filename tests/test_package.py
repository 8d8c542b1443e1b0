"""The package as installed and imported: a built wheel ships the weights and runs a guess; the
guess imports no training code; no module import circle."""
import ast
import glob
import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
PACKAGE = os.path.join(ROOT, 'pyscf', 'deepscf')
# a guess on water with the bundled network, in a subprocess; prints where things came from
GUESS = """
import sys
{prelude}
from pyscf import gto, dft
import pyscf.deepscf
from pyscf.deepscf.engine import model
mol = gto.M(atom='O 0 0 0.12; H 0 0.76 -0.47; H 0 -0.76 -0.47', basis='sto-3g', verbose=0)
mf = dft.RKS(mol, xc='pbe'); mf.init_guess = 'deepscf'; mf.kernel()
ref = dft.RKS(mol, xc='pbe').run()
assert mf.converged and abs(mf.e_tot - ref.e_tot) < 1e-6 and mf.cycles <= ref.cycles
print(pyscf.deepscf.__file__); print(model.DEFAULT_WEIGHTS)
print(' '.join(sorted(m for m, v in sys.modules.items() if v is not None and (
    m.split('.')[0] in ('tqdm', 'dask', 'rdkit') or '.training' in m))))
"""


def run_guess(prelude='', env=None):
    proc = subprocess.run([sys.executable, '-c', GUESS.format(prelude=prelude)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.splitlines()


def test_wheel_ships_the_weights_and_runs_a_guess(tmp_path):
    """``pip wheel .`` holds the top-level weights/ as pyscf/deepscf/weights/; the package
    unpacked from it (PySCF's PYSCF_EXT_PATH, the editable finder switched off) finds them."""
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                    '--no-build-isolation', '-w', str(tmp_path), ROOT], check=True,
                   capture_output=True, timeout=300)
    wheel = glob.glob(str(tmp_path / '*.whl'))[0]
    names = zipfile.ZipFile(wheel).namelist()
    for name in ('pyscf/deepscf/weights/deepscf_default.pt',
                 'pyscf/deepscf/weights/deepscf_default.json',
                 'pyscf/deepscf/weights/deepscf_default.md',
                 'pyscf/deepscf/engine/data/free_atoms.json',
                 'pyscf/deepscf/training/compact.py'):
        assert name in names
    assert not [n for n in names if n.startswith(('kit/', 'weights/', 'tests/'))]
    site = tmp_path / 'site'
    zipfile.ZipFile(wheel).extractall(site)
    prelude = "sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f)]"
    env = {**os.environ, 'PYSCF_EXT_PATH': str(site)}
    package, weights = run_guess(prelude, env)[:2]
    assert package.startswith(str(site)) and weights.startswith(str(site))


def test_guess_imports_no_training_code():
    """With dask, rdkit and tqdm unimportable the guess runs and no training module loads.
    h5py is PySCF's own import (pyscf.lib.misc), so no PySCF user is without it."""
    prelude = "for m in ('dask', 'rdkit', 'tqdm'): sys.modules[m] = None"
    lines = run_guess(prelude)
    loaded = lines[2].split() if len(lines) > 2 else []
    assert loaded == []
    proc = subprocess.run([sys.executable, '-c', 'import sys, pyscf.lib; print("h5py" in '
                           'sys.modules)'], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == 'True'


def package_imports():
    """{module: set of pyscf.deepscf modules it imports, at any depth of its code}."""
    graph = {}
    for path in glob.glob(os.path.join(PACKAGE, '**', '*.py'), recursive=True):
        rel = os.path.relpath(path, os.path.join(ROOT))[:-3].replace(os.sep, '.')
        name = rel[:-len('.__init__')] if rel.endswith('.__init__') else rel
        deps = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.startswith('pyscf.deepscf'):
                for alias in node.names:
                    sub = f'{node.module}.{alias.name}'
                    deps.add(sub if os.path.exists(os.path.join(ROOT, *sub.split('.')) + '.py')
                             else node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith('pyscf.deepscf')}
        graph[name] = deps - {name}
    return graph


def test_no_import_circle():
    graph = package_imports()
    assert 'pyscf.deepscf.engine.solver' in graph['pyscf.deepscf.nonscf']

    def visit(module, stack):
        if module in stack:
            pytest.fail('import circle: ' + ' -> '.join(stack[stack.index(module):] + [module]))
        for dep in graph.get(module, ()):
            if dep != 'pyscf.deepscf':           # the package itself: bench registers the key
                visit(dep, stack + [module])
    for module in graph:
        visit(module, [])
    # the engine never reaches into training
    for module, deps in graph.items():
        if module.startswith('pyscf.deepscf.engine'):
            assert not [d for d in deps if '.training' in d], module
