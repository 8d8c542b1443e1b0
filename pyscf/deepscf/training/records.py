"""The data folder: HDF5 shards of converged density matrices, written by data.generate::

    OUT/settings.json         level of theory and SCF settings (fixed for the folder)
    OUT/shard_00001.h5 ...    one group per structure, named by its id
    OUT/failed.jsonl          one JSON line per structure whose SCF failed (never in a shard)

Group contents (bohr and hartree inside, Å only where the name says so):
    atomic_numbers (natm,) int, coords_bohr (natm, 3), dm_tril (ntril,) or (2, ntril) float64
    (lower triangle of the converged density matrix, ``pyscf.lib.unpack_tril``); attrs: id,
    charge, spin, basis, xc, density_fit, conv_tol, grids_level, energy_hartree, cycles,
    converged, qm9_index (-1 if none), smiles ('' if none), amplitude_ang, seed, code_version,
    nao, wall_s.  h5py is imported only where a shard is read or written.
"""
import glob
import json
import os

from pyscf import gto, lib

LEVEL_KEYS = ('xc', 'basis', 'density_fit', 'conv_tol', 'grids_level')   # fixed per folder
SETTINGS_FILE = 'settings.json'
FAILED_FILE = 'failed.jsonl'
SHARD_PATTERN = 'shard_{:05d}.h5'


def write_shard(path, records, version=''):
    """Write records to an HDF5 file atomically (``path + '.tmp'``, then rename)."""
    import h5py
    tmp = path + '.tmp'
    with h5py.File(tmp, 'w') as f:
        for rec in records:
            g = f.create_group(rec['id'])
            g['atomic_numbers'] = rec['atomic_numbers']
            g['coords_bohr'] = rec['coords_bohr']
            g['dm_tril'] = lib.pack_tril(rec['dm'])
            for k in ('id', 'charge', 'spin', 'basis', 'xc', 'density_fit', 'conv_tol',
                      'grids_level', 'energy_hartree', 'cycles', 'converged', 'qm9_index',
                      'smiles', 'amplitude_ang', 'seed', 'nao', 'wall_s'):
                g.attrs[k] = rec[k]
            g.attrs['code_version'] = rec.get('code_version', version)
    with open(tmp, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def shard_files(folder):
    return sorted(glob.glob(os.path.join(folder, 'shard_*.h5')))


def list_records(folder):
    """[(shard_path, id), ...] of every stored structure in ``folder``."""
    import h5py
    out = []
    for path in shard_files(folder):
        with h5py.File(path, 'r') as f:
            out += [(path, key) for key in f.keys()]
    return out


def load_record(path, structure_id):
    """One stored structure as a dict; 'dm' is the full (nao, nao) or (2, nao, nao) matrix."""
    import h5py
    with h5py.File(path, 'r') as f:
        g = f[structure_id]
        rec = {k: (v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, 'item') else v)
               for k, v in g.attrs.items()}
        rec['atomic_numbers'] = g['atomic_numbers'][()]
        rec['coords_bohr'] = g['coords_bohr'][()]
        rec['dm'] = lib.unpack_tril(g['dm_tril'][()])
    rec['symbols'] = [gto.mole._symbol(int(z)) for z in rec['atomic_numbers']]
    return rec


def record_mole(rec, basis=None):
    """The PySCF Mole of a stored record (its own basis unless ``basis`` is given)."""
    return gto.M(atom=list(zip(rec['symbols'], rec['coords_bohr'])), unit='Bohr',
                 basis=basis or rec['basis'], charge=int(rec['charge']), spin=int(rec['spin']),
                 verbose=0)


def read_failed(folder):
    """{id: failure dict} from failed.jsonl (a torn last line, from a kill, is ignored)."""
    out = {}
    path = os.path.join(folder, FAILED_FILE)
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                    out[rec['id']] = rec
                except (ValueError, KeyError):
                    pass
    return out


def append_failed(folder, rec):
    with open(os.path.join(folder, FAILED_FILE), 'a') as f:
        f.write(json.dumps(rec) + '\n')
        f.flush()
        os.fsync(f.fileno())


def info(folder):
    """Counts of a data folder: done, failed, distinct molecules, structures per element."""
    done, by_element, atoms_by_element, molecules, amplitudes = 0, {}, {}, set(), {}
    import h5py
    for path in shard_files(folder):
        with h5py.File(path, 'r') as f:
            for sid, g in f.items():
                done += 1
                molecules.add(sid.rsplit('_d', 1)[0])
                amp = round(float(g.attrs['amplitude_ang']), 4)
                amplitudes[amp] = amplitudes.get(amp, 0) + 1
                zs = g['atomic_numbers'][()]
                for z in set(zs.tolist()):
                    sym = gto.mole._symbol(int(z))
                    by_element[sym] = by_element.get(sym, 0) + 1
                    atoms_by_element[sym] = atoms_by_element.get(sym, 0) + int((zs == z).sum())
    stored = {sid for _, sid in list_records(folder)}
    failed = {k: v for k, v in read_failed(folder).items() if k not in stored}
    settings = {}
    if os.path.exists(os.path.join(folder, SETTINGS_FILE)):
        with open(os.path.join(folder, SETTINGS_FILE)) as f:
            settings = json.load(f)
    return {'folder': folder, 'settings': settings, 'done': done, 'failed': len(failed),
            'failed_reasons': sorted({v['failed'] for v in failed.values()}),
            'molecules': len(molecules), 'shards': len(shard_files(folder)),
            'structures_by_element': dict(sorted(by_element.items())),
            'atoms_by_element': dict(sorted(atoms_by_element.items())),
            'structures_by_amplitude_ang': dict(sorted(amplitudes.items()))}


def data_settings(folder):
    """The settings.json of a data folder ({} when it has none)."""
    try:
        with open(os.path.join(folder, SETTINGS_FILE)) as f:
            return json.load(f)
    except OSError:
        return {}
