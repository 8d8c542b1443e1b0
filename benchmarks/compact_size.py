"""What the GPU kit's compact set pays in density for its size: float16 and sparse factors.

    python benchmarks/compact_size.py SOURCE [SOURCE ...] [--n 10] [--out benchmarks/results]

SOURCE: a data folder (HDF5 records: the reference is the exact factor of each stored density
matrix, float64) or a compact file (the reference is its stored factor).  For the ``--n``
largest structures of each source, every variant is written as the compact set would store it
(float16, then compressed as ``np.savez_compressed`` does) and its density compared with the
reference's on PySCF's grid (level 2): density NMAE % (∫|ρ − ρ_ref| / N) and bytes per
structure.  Variants: ``eigen`` (the factor of the eigenvectors, as before the sparse factors)
and ``sparse T`` (compact_pyscf.sparse_factor at threshold T; T = 0: the exact Cholesky factor).
The 64 MiB that travel to a GPU machine decide how many structures one run can train on.
Prints a table, writes compact_size.{txt,jsonl,png}.
"""
import argparse
import os
import tempfile
import zlib

import numpy as np
import torch
from pyscf import dft, gto

from report import write
from pyscf.deepscf.training import compact, compact_pyscf

THRESHOLDS = (0., 3e-4, 1e-3, 3e-3)


def reference_set(source):
    """CompactSet of a compact file, or of a data folder's exact (float64) factors."""
    if os.path.isfile(source):
        return compact.CompactSet(source)
    path = os.path.join(tempfile.mkdtemp(), 'exact.npz')
    compact_pyscf.write_compact(source, path, dtype='float64', progress=False, threshold=0)
    return compact.CompactSet(path)


def variants(factor):
    """{name: the factor as the compact set would store it (float16)}."""
    out = {'eigen': factor}
    out.update({f'sparse {t:g}': compact_pyscf.sparse_factor(factor, t) for t in THRESHOLDS})
    return {name: f.astype(np.float16) for name, f in out.items()}


def structure_rows(store, i):
    structure = store.structure(i)
    symbols = structure.symbols
    mol = gto.M(atom=list(zip(symbols, structure.coords_np)), unit='bohr', basis='sto-3g',
                spin=None, verbose=0)
    grids = dft.gen_grid.Grids(mol)
    grids.level = 2
    grids.build()
    points = torch.tensor(grids.coords)
    reference = structure.density(points).numpy()
    n_elec = float(reference @ grids.weights)
    factor = structure.factor.numpy()
    row = {'molecule': store.ids[i], 'natm': len(symbols), 'source': store.path,
           'electrons': n_elec}
    for name, stored in variants(factor).items():
        structure.factor = torch.tensor(stored.astype(np.float64))
        rho = structure.density(points).numpy()
        row[f'{name} nmae'] = 100 * float(np.abs(rho - reference) @ grids.weights) / n_elec
        row[f'{name} bytes'] = len(zlib.compress(stored.tobytes()))
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('sources', nargs='+', help='data folders and/or compact files')
    p.add_argument('--n', type=int, default=10, help='largest structures per source')
    p.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results'))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    names = ['eigen'] + [f'sparse {t:g}' for t in THRESHOLDS]
    rows = []
    for source in args.sources:
        store = reference_set(source)
        natm = np.diff(store.arrays['atom_start'])
        for i in np.argsort(-natm, kind='stable')[:args.n]:
            rows.append(dict(structure_rows(store, int(i)), source=source))
            print(rows[-1]['molecule'], rows[-1]['natm'],
                  ' '.join(f'{rows[-1][n + " nmae"]:.4f}' for n in names), flush=True)
    lines = ['# python benchmarks/compact_size.py ' + ' '.join(args.sources),
             '# per source: mean density NMAE % against the reference, and bytes per structure '
             '(compressed float16) relative to the eigen factor\'s',
             f'{"source":40s} {"n":>3s} {"atoms":>5s} ' +
             ' '.join(f'{n + " %":>13s} {"size":>5s}' for n in names)]
    for source in args.sources:
        sel = [r for r in rows if r['source'] == source]
        eigen = sum(r['eigen bytes'] for r in sel)
        lines.append(f'{source[-40:]:40s} {len(sel):3d} {np.mean([r["natm"] for r in sel]):5.1f} ' +
                     ' '.join(f'{np.mean([r[n + " nmae"] for r in sel]):13.4f} '
                              f'{sum(r[n + " bytes"] for r in sel) / eigen:5.2f}' for n in names))
        lines.append(f'{"":40s} eigen factor: {eigen / len(sel) / 1024:.1f} kB per structure')
    text = '\n'.join(lines) + '\n'
    print(text, end='')
    write(rows, args.out, 'compact_size', [n + ' nmae' for n in names], 'density NMAE %')
    with open(os.path.join(args.out, 'compact_size.txt'), 'w') as f:
        f.write(text)


if __name__ == '__main__':
    main()
