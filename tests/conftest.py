import importlib.util
import os

import pytest
from pyscf import gto

# optional packages and the setup.py extra that installs each (PySCF brings h5py)
EXTRA_OF = {'qm9pack': 'data', 'rdkit': 'data', 'dask': 'data', 'distributed': 'data',
            'tqdm': 'data', 'matplotlib': 'plot'}


def missing_reason(*modules):
    """Why a test that needs ``modules`` cannot run here (a skip reason naming what is missing
    and the extra that installs it), or None when all are importable."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return None
    extras = ','.join(sorted({EXTRA_OF.get(m, 'test') for m in missing}))
    return f'needs {", ".join(missing)}: pip install -e ".[{extras}]"'


def requires(*modules):
    """Skip marker for a test (or, as ``pytestmark``, a module) that needs optional packages."""
    reason = missing_reason(*modules)
    return pytest.mark.skipif(reason is not None, reason=reason or '')


def skip_without(*modules):
    """Skip the calling test or fixture unless ``modules`` are installed."""
    reason = missing_reason(*modules)
    if reason:
        pytest.skip(reason)


DEV = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'molecules', 'dev')
WATER = 'O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692'


def load_script(*path):
    """A script of the repository (not a package module) as a module: ``path`` relative to the
    repository root, e.g. ('benchmarks', 'model.py')."""
    full = os.path.join(os.path.dirname(__file__), '..', *path)
    spec = importlib.util.spec_from_file_location(os.path.splitext(path[-1])[0], full)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dev_molecule(name, basis='def2-svp', **kwargs):
    """A molecule of ../shared/molecules/dev when present, else None (tests then skip)."""
    path = os.path.join(DEV, name + '.xyz')
    if not os.path.exists(path):
        pytest.skip(f'{path} not found')
    return gto.M(atom=path, basis=basis, verbose=0, **kwargs)


@pytest.fixture(scope='session')
def water():
    return gto.M(atom=WATER, basis='def2-svp', verbose=0)


@pytest.fixture
def water_xyz(tmp_path):
    """The water molecule as an xyz file (Angstrom), for the command line and the examples."""
    path = tmp_path / 'water.xyz'
    lines = [a.split() for a in WATER.split(';')]
    path.write_text(f'{len(lines)}\nwater\n' + ''.join(' '.join(a) + '\n' for a in lines))
    return str(path)


@pytest.fixture(scope='session')
def tiny_kit(tmp_path_factory):
    """(data folder, kit folder): methane and water (train) and ethane (val), B3LYP/def2-SVP at
    grid level 0, and their compact file in a kit folder, as the GPU kit's --data kit reads."""
    skip_without('qm9pack', 'tqdm')
    from pyscf.deepscf.training import compact_pyscf, data
    out = str(tmp_path_factory.mktemp('data'))
    data.generate(data.structure_jobs(qm9_index=[1, 3, 7]), out, {'grids_level': 0}, workers=0,
                  progress=False)
    kit = os.path.join(out, 'kit')
    os.makedirs(kit)
    compact_pyscf.write_compact(out, os.path.join(kit, 'set.npz'), progress=False)
    return out, kit
