from setuptools import setup, find_namespace_packages

setup(
    name='pyscf-deepscf',
    version='0.1.0',
    description='DeepSCF for PySCF: a 3D CNN predicts the SCF electron density; use it as an '
                'initial guess or for non-self-consistent energies',
    long_description=open('README.md').read() if __import__('os').path.exists('README.md') else '',
    long_description_content_type='text/markdown',
    # the bundled weights live in the repository's top-level weights/ and install as
    # pyscf/deepscf/weights/ (engine/model.py finds them in either place)
    packages=find_namespace_packages(include=['pyscf.deepscf', 'pyscf.deepscf.*'])
    + ['pyscf.deepscf.weights'],
    package_dir={'pyscf.deepscf.weights': 'weights'},
    package_data={'pyscf.deepscf.engine': ['data/*.json'],
                  'pyscf.deepscf.training': ['*.txt'],
                  'pyscf.deepscf.weights': ['*.pt', '*.json', '*.md']},
    python_requires='>=3.9',
    # pyscf-properties: the polarizabilities of NonSCF's output (README), a small pure package
    install_requires=['pyscf>=2.5', 'numpy', 'scipy', 'threadpoolctl', 'torch>=2.1',
                      'pyscf-properties'],
    # the runtime tests need pytest alone; tests of an extra's code skip, naming it, without it
    extras_require={
        'data': ['h5py', 'dask[distributed]', 'tqdm', 'rdkit', 'qm9pack'],
        'train': ['h5py', 'tqdm'],
        'plot': ['matplotlib'],
        'test': ['pytest', 'h5py', 'dask[distributed]', 'tqdm', 'matplotlib', 'rdkit',
                 'qm9pack'],
    },
    entry_points={'console_scripts': ['deepscf = pyscf.deepscf.cli:main']},
)
