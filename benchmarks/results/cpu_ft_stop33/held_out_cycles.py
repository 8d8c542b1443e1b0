"""Session script: SCF cycles (B3LYP/def2-SVP, as deepscf bench: no fitting, default grid) on the
first N structures of the kit's QM9-level test split, minao and deepscf with each weights file."""
import json, sys
from pyscf import lib
from pyscf.deepscf import bench, predict
from pyscf.deepscf.engine.model import NetworkPredictor
from pyscf.deepscf.training import compact, data, dataset
n, out, weights = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
lib.num_threads(1)
store = compact.CompactSet('kit/compact.npz')
recs = dataset.compact_records(store, store.indices('test')[:n])
preds = {w: NetworkPredictor(w) for w in weights}   # keys: the weights paths (renamed in the saved jsonl)
with open(out, 'w') as f:
    for rec in recs:
        mol = data.record_mole(rec)
        row = {'id': str(rec['id']), 'natm': mol.natm}
        r = bench.run_guess(mol, 'b3lyp', 'minao'); row['minao'] = [r['cycles'], r['e_tot']]
        for w, p in preds.items():
            with predict.using_predictor(p):
                r = bench.run_guess(mol, 'b3lyp', 'deepscf')
            row[w] = [r['cycles'], r['e_tot']]
        f.write(json.dumps(row) + '\n'); f.flush()
