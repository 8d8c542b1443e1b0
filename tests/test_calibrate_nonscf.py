"""scripts/calibrate_nonscf.py: the validation structures it calibrates on, from a data folder
or, where the folder is gone, from the compact set."""
import numpy as np

from pyscf.deepscf.training import compact_pyscf, data

from conftest import load_script, requires

calibrate_nonscf = load_script('scripts', 'calibrate_nonscf.py')


@requires('qm9pack', 'tqdm')
def test_validation_molecules_from_folder_or_compact_set(tmp_path):
    """Methane, water (train) and ethane (val): ethane alone, the same molecule either way, in
    the basis asked for."""
    folder = str(tmp_path / 'data')
    data.generate(data.structure_jobs(qm9_index=[1, 3, 7]), folder, {'grids_level': 0},
                  workers=0, progress=False)
    kit = tmp_path / 'kit'
    kit.mkdir()
    compact_pyscf.write_compact(folder, str(kit / 'set.npz'), progress=False)
    from_folder = calibrate_nonscf.validation_molecules(folder, 30, 'sto-3g')
    from_kit = calibrate_nonscf.validation_molecules(str(kit), 30, 'sto-3g')
    assert [sid for sid, _ in from_folder] == [sid for sid, _ in from_kit] == ['qm9_7_d0']
    (_, a), (_, b) = from_folder[0], from_kit[0]
    assert a.basis == b.basis == 'sto-3g' and a.charge == b.charge == 0 and b.spin == 0
    assert a.elements == b.elements and np.allclose(a.atom_coords(), b.atom_coords())
