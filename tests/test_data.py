"""Training-data generation: records, resume, failures, Dask path, command line."""
import json
import os

import numpy as np
import pytest
from pyscf import lib

from pyscf.deepscf.training import data, geometries, records
from pyscf.deepscf.cli import main

from conftest import requires

needs_data_extra = requires('qm9pack', 'rdkit', 'dask', 'tqdm')

FAST = {'basis': 'sto-3g', 'grids_level': 0, 'conv_tol': 1e-9}


@needs_data_extra
def test_qm9_reader_and_smiles():
    mols = geometries.read_qm9([1, 4])
    assert mols[1][0] == ['C', 'H', 'H', 'H', 'H']
    symbols, xyz = mols[4]                               # acetylene, written with '0.' / '1.'
    assert symbols == ['C', 'C', 'H', 'H'] and xyz.shape == (4, 3)
    assert abs(np.linalg.norm(xyz[0] - xyz[1]) - 1.199) < 0.01
    symbols, xyz = geometries.smiles_geometry('CCl')
    assert sorted(symbols) == ['C', 'Cl', 'H', 'H', 'H']
    assert 1.7 < np.linalg.norm(xyz[symbols.index('C')] - xyz[symbols.index('Cl')]) < 1.85


@needs_data_extra
def test_deformation_is_reproducible():
    a = data.structure_jobs(qm9_index=[2], deformed=1, copies=2, amplitude_ang=0.1, seed=3)
    b = data.structure_jobs(qm9_index=[2], deformed=1, copies=2, amplitude_ang=0.1, seed=3)
    assert [j['id'] for j in a] == ['qm9_2_d0', 'qm9_2_d1', 'qm9_2_d2']
    assert all(np.array_equal(x['coords_ang'], y['coords_ang']) for x, y in zip(a, b))
    d0, d1, d2 = (np.array(j['coords_ang']) for j in a)
    assert 0.02 < np.std(d1 - d0) < 0.3 and not np.allclose(d1, d2)


@needs_data_extra
def test_records_round_trip(tmp_path):
    jobs = data.structure_jobs(qm9_index=[1, 3])
    summary = data.generate(jobs, str(tmp_path), FAST, workers=0, progress=False)
    assert summary['done'] == 2 and summary['failed'] == 0
    stored = {sid: records.load_record(path, sid) for path, sid in records.list_records(str(tmp_path))}
    assert set(stored) == {'qm9_1_d0', 'qm9_3_d0'}
    for job in jobs:
        rec = stored[job['id']]
        assert rec['symbols'] == job['symbols'] and rec['qm9_index'] == job['qm9_index']
        assert np.allclose(rec['coords_bohr'], np.array(job['coords_ang']) / lib.param.BOHR)
        assert rec['basis'] == 'sto-3g' and rec['xc'] == 'b3lyp' and rec['converged']
        assert rec['code_version'].startswith('pyscf-deepscf')
        mol = records.record_mole(rec)
        assert abs(np.einsum('ij,ji', rec['dm'], mol.intor('int1e_ovlp')) - mol.nelectron) < 1e-8
        mf = data.make_mf(mol, rec['xc'], rec['density_fit'], rec['conv_tol'], rec['grids_level'])
        assert abs(mf.energy_tot(rec['dm']) - rec['energy_hartree']) < 1e-7   # the stored state


@needs_data_extra
def test_resume_skips_finished(tmp_path):
    out = str(tmp_path)
    first = data.generate(data.structure_jobs(qm9_index=[1, 2]), out, FAST, workers=0,
                          shard_size=1, progress=False)
    assert first['done'] == 2 and len(records.shard_files(out)) == 2
    stamp = {p: os.stat(p).st_mtime_ns for p in records.shard_files(out)}
    again = data.generate(data.structure_jobs(qm9_index=[1, 2, 3]), out, FAST, workers=0,
                          shard_size=1, progress=False)
    assert again['skipped'] == 2 and again['done'] == 1
    assert sorted(sid for _, sid in records.list_records(out)) == ['qm9_1_d0', 'qm9_2_d0', 'qm9_3_d0']
    assert all(os.stat(p).st_mtime_ns == t for p, t in stamp.items())
    assert not [f for f in os.listdir(out) if f.endswith('.tmp')]
    with pytest.raises(ValueError, match='another --out'):             # other level, same folder
        data.generate(data.structure_jobs(qm9_index=[3]), out, {**FAST, 'basis': '6-31g'},
                      workers=0, progress=False)


@needs_data_extra
def test_failed_scf_is_recorded_not_lost(tmp_path):
    out = str(tmp_path)
    jobs = data.structure_jobs(qm9_index=[1, 3])
    summary = data.generate(jobs, out, {**FAST, 'max_cycle': 1}, workers=0, progress=False)
    assert summary['failed'] == 2 and summary['done'] == 0
    failed = records.read_failed(out)
    assert set(failed) == {'qm9_1_d0', 'qm9_3_d0'}
    assert failed['qm9_1_d0']['failed'] == 'not converged in 1 cycles'
    assert records.list_records(out) == []
    assert data.generate(jobs, out, FAST, workers=0, progress=False)['skipped'] == 2
    retry = data.generate(jobs, out, FAST, workers=0, progress=False, retry_failed=True)
    assert retry['done'] == 2
    summary = records.info(out)
    assert summary['done'] == 2 and summary['failed'] == 0


@needs_data_extra
def test_dask_local_cluster(tmp_path):
    jobs = data.structure_jobs(qm9_index=[2, 3], smiles=['S'])
    summary = data.generate(jobs, str(tmp_path), FAST, workers=1, progress=False)
    assert summary['done'] == 3
    summary = records.info(str(tmp_path))
    assert summary['structures_by_element'] == {'H': 3, 'N': 1, 'O': 1, 'S': 1}


@needs_data_extra
def test_cli_generate_and_info(tmp_path, capsys):
    out = str(tmp_path / 'd')
    assert main(['data', 'generate', '--qm9-index', '3', '--basis', 'sto-3g', '--grids-level',
                 '0', '--workers', '0', '--out', out, '--no-progress']) == 0
    capsys.readouterr()
    assert main(['data', 'info', '--out', out, '--json']) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary['done'] == 1 and summary['failed'] == 0
    assert summary['settings']['basis'] == 'sto-3g'
    assert main(['data', 'info', '--out', out]) == 0
    assert 'done 1 structures of 1 molecules' in capsys.readouterr().out


@needs_data_extra
def test_cli_generate_skips_a_compact_files_structures(tmp_path, capsys):
    """--skip-in: a new folder continues a list whose first structures survive only in a
    compact file of a kit folder; the two then merge.  A compact file of another level is
    refused."""
    from pyscf.deepscf.training import compact, compact_pyscf
    first, second, kit = str(tmp_path / 'a'), str(tmp_path / 'b'), tmp_path / 'kit'
    kit.mkdir()
    npz = str(kit / 'a.npz')
    level = ['--basis', 'sto-3g', '--grids-level', '0', '--workers', '0', '--no-progress']
    assert main(['data', 'generate', '--qm9-index', '1', '--out', first] + level) == 0
    compact_pyscf.write_compact(first, npz, progress=False)
    capsys.readouterr()
    assert main(['data', 'generate', '--qm9-index', '1', '3', '--skip-in', str(kit),
                 '--out', second] + level) == 0
    assert '1 stored elsewhere, 1 to compute' in capsys.readouterr().out
    assert [sid for _, sid in records.list_records(second)] == ['qm9_3_d0']
    # the new folder's own file beside the old one: the kit folder reads as one set
    assert main(['data', 'compact', '--data', second, '--out', str(kit / 'b.npz'),
                 '--threshold', '0', '--no-progress']) == 0
    assert 'threshold 0)' in capsys.readouterr().out
    both = compact.CompactSet(str(kit))
    assert sorted(both.ids) == ['qm9_1_d0', 'qm9_3_d0']
    assert both.settings['factor_threshold'] == compact_pyscf.SPARSE_THRESHOLD     # a.npz's, the larger
    with pytest.raises(SystemExit) as exc:                     # 6-31g data is not sto-3g's
        main(['data', 'generate', '--qm9-index', '1', '--skip-in', npz, '--basis', '6-31g',
              '--out', str(tmp_path / 'c'), '--workers', '0', '--no-progress'])
    assert exc.value.code == 2 and 'other settings' in capsys.readouterr().err


@pytest.mark.parametrize('argv', [
    ['data', 'generate', '--qm9', '1', '--skip-in', '/no/such.npz'],
    ['data', 'generate', '--qm9', '1', '--skip-in', '/'],      # a folder without .npz files
    ['data', 'generate', '--workers', '-1'],
    ['data', 'generate', '--qm9', 'many'],
    ['data', 'generate', '--amplitude', '-0.1', '--qm9', '1'],
    ['data', 'generate', '--bogus'],
    ['data', 'generate'],                                      # nothing to do
    ['data', 'generate', '--smiles', '/no/such/file'],
    ['data'],
])
def test_cli_bad_options_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert 'error' in capsys.readouterr().err


@needs_data_extra
def test_existing_scheduler(tmp_path):
    from dask.distributed import LocalCluster
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=':0') as cluster:
        summary = data.generate(data.structure_jobs(qm9_index=[3]), str(tmp_path), FAST,
                                scheduler=cluster.scheduler_address, progress=False)
    assert summary['done'] == 1


@needs_data_extra
def test_drug_like_smiles():
    """The packaged drug-like list: >= 500 valid SMILES of 20-50 atoms, a third or more with S,
    P or Cl; their ids ('drug_k') cannot collide with the builtin list's ('smi_k')."""
    from rdkit import Chem
    smiles = geometries.read_smiles_file(geometries.DRUGS)
    assert len(smiles) >= 500 and len(set(smiles)) == len(smiles)
    natm = [Chem.AddHs(Chem.MolFromSmiles(s)).GetNumAtoms() for s in smiles]
    assert min(natm) >= 20 and max(natm) <= 50
    assert sum(any(e in s for e in ('S', 'P', 'Cl')) for s in smiles) > len(smiles) / 3
    jobs = data.structure_jobs(smiles=smiles[:1], smiles_prefix='drug')
    assert jobs[0]['id'] == 'drug_0_d0' and 20 <= len(jobs[0]['symbols']) <= 50
