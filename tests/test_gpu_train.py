"""The GPU training kit (scripts/gpu_train.py), run on the CPU: it trains from a compact set
without PySCF, writes checkpoints, validation lines and TorchScript weights that load here,
and ``finish`` evaluates them and runs the guess from the saved prediction.  Runs are bounded
by steps, never by the clock: the same steps on a slow or busy machine."""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from pyscf.deepscf.engine import model as nn_model

SCRIPT = os.path.join(os.path.dirname(__file__), '..', 'scripts', 'gpu_train.py')
# the GPU machine has torch and numpy but no PySCF: the kit runs here with PySCF blocked
WITHOUT_PYSCF = ("import sys, runpy\n"
                 "for m in ('pyscf.gto', 'pyscf.lib', 'pyscf.scf', 'pyscf.dft', 'h5py'):\n"
                 "    sys.modules[m] = None\n"
                 "sys.argv = ['gpu_train.py'] + sys.argv[1:]\n"
                 "runpy.run_path({!r}, run_name='__main__')\n").format(SCRIPT)


def test_kit_trains_without_pyscf_and_finish_evaluates(tiny_kit, tmp_path):
    out_folder, compact_path = tiny_kit
    run = str(tmp_path / 'run')
    cmd = [sys.executable, '-c', WITHOUT_PYSCF, 'train', '--data', compact_path, '--out', run,
           '--max-steps', '6', '--val-every', '2', '--checkpoint-minutes', '1e6',
           '--init', nn_model.DEFAULT_WEIGHTS, '--batch-size', '2', '--crop', '16',
           '--threads', '1', '--timing-sizes', '8', '--time-every', '3']
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = sorted(os.listdir(run))
    snapshots = [f for f in files if f.startswith('weights_step')]
    assert [f for f in files if f not in snapshots] == [
        'best.pt', 'checkpoint.pt', 'guess_residual.npz', 'metrics.jsonl', 'report.json',
        'weights.pt']
    lines = [json.loads(line) for line in open(os.path.join(run, 'metrics.jsonl'))]
    validations = [line for line in lines if 'val' in line]
    # the starting weights, every 2nd step, and the last state
    assert [v['step'] for v in validations] == [0, 2, 4, 6, 6]
    # a snapshot of the weights at each validation, for finish to judge by the guess
    assert snapshots == [f'weights_step{v["step"]:06d}.pt' for v in validations
                         if v['step'] not in {w['step'] for w in validations[:validations.index(v)]}]
    report = json.load(open(os.path.join(run, 'report.json')))
    assert report['steps'] == report['batches_drawn'] == 6
    assert report['structures'] == {'train': 2, 'val': 1}
    # every 3rd batch drawn (--time-every) is timed in two parts (what bounds the rate on the GPU)
    timed = [line for line in lines if 'sample_s' in line]
    assert [line['step'] for line in timed] == [3, 6]
    assert all(line['sample_s'] > 0 and line['step_s'] > 0 for line in timed)
    assert report['seconds_per_step']['sample_s'] == pytest.approx(
        np.mean([line['sample_s'] for line in timed]), abs=1e-4)
    # --sample-group auto: each way of grouping the batch's crops timed, the fastest used
    group = [line for line in lines if line.get('event') == 'sample_group'][0]
    assert sorted(group['seconds_per_batch']) == ['1', '2']               # batch size 2
    assert report['sample_group'] == group['chosen'] == min(
        (1, 2), key=lambda g: group['seconds_per_batch'][str(g)])
    assert report['inference'][1]['natm'] == 8 and report['guess']['id'] == 'qm9_7_d0'
    # the exported weights load in this PyTorch with their metadata and predict
    predictor = nn_model.NetworkPredictor(os.path.join(run, 'weights.pt'), device='cpu')
    assert predictor.metadata['training']['kit'] == 'scripts/gpu_train.py'
    assert predictor.metadata['dataset']['validation_structures'] == ['qm9_7_d0']
    grid, residual = predictor.predict_atoms(['O', 'H', 'H'], np.eye(3))
    assert residual.shape == grid.shape and np.isfinite(residual).all()
    # a snapshot's metadata describes that snapshot: its own step and validation
    _, snap = nn_model.load(os.path.join(run, snapshots[-1]))
    assert snap['training']['steps'] == validations[-1]['step'] > 0
    assert snap['validation'] == validations[-1]['val']
    assert snap['training']['samples'] == validations[-1]['samples'] == 6 * 2
    assert snap['training']['init'] == os.path.basename(nn_model.DEFAULT_WEIGHTS)
    # a second run resumes from the checkpoint
    resumed = str(tmp_path / 'resumed')
    cmd2 = cmd[:cmd.index('--init')] + ['--resume', os.path.join(run, 'checkpoint.pt'),
                                        '--no-timing', '--keep-snapshots', '1',
                                        '--crop-reuse', '3'] + cmd[cmd.index('--batch-size'):]
    cmd2 += ['--time-every', '1000']                         # no batch timed: see below
    cmd2[cmd2.index('--out') + 1] = resumed
    cmd2[cmd2.index('--max-steps') + 1] = '12'               # a resumed run counts on
    proc = subprocess.run(cmd2, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = [line for line in map(json.loads, open(os.path.join(resumed, 'metrics.jsonl')))
             if 'val' in line][0]
    assert first['step'] == report['steps']                          # continued, not restarted
    # --crop-reuse 3: three steps on each batch drawn
    again = json.load(open(os.path.join(resumed, 'report.json')))
    assert again['crop_reuse'] == 3 and (again['batches_drawn'], again['steps']) == (2, 6)
    # fewer batches drawn than --time-every: the split of a step is unknown, not zero
    assert again['seconds_per_step'] is None and 'not timed' in proc.stdout
    last = [line for line in map(json.loads, open(os.path.join(resumed, 'metrics.jsonl')))
            if 'val' in line][-1]
    assert sorted(f for f in os.listdir(resumed) if f.startswith('weights_step')) == [
        f'weights_step{last["step"]:06d}.pt']              # --keep-snapshots 1: the latest only
    # the weights the run started from are still named after the resume
    _, snap = nn_model.load(os.path.join(resumed, f'weights_step{last["step"]:06d}.pt'))
    assert snap['training']['init'] == os.path.basename(nn_model.DEFAULT_WEIGHTS)
    assert snap['training']['steps'] == last['step'] and snap['training']['resume']
    # no training: --export-only exports best.pt again, --evaluate figures on the compact set
    base = [sys.executable, '-c', WITHOUT_PYSCF, 'train', '--data', compact_path]
    again = str(tmp_path / 'again.pt')
    proc = subprocess.run(base + ['--out', run, '--export-only', '--export', again],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert nn_model.load(again)[1]['validation'] == report['best']['val']
    proc = subprocess.run(base + ['--out', str(tmp_path / 'eval'), '--evaluate', again,
                                  '--threads', '1'], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    evaluation = json.load(open(tmp_path / 'eval' / 'evaluation.json'))
    assert (evaluation['structures'], evaluation['crops']) == (1, 2)
    assert evaluation['nmae_rho_percent'] == pytest.approx(
        report['best']['val']['nmae_rho_percent'], rel=1e-2)
    # finish, where PySCF is: both sets of targets on the same crops, and the guess
    finish = str(tmp_path / 'finish.json')
    proc = subprocess.run([sys.executable, SCRIPT, 'finish', '--run', run, '--data', out_folder,
                           '--compact', compact_path, '--report', finish, '--val-guess', '1'],
                          capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.load(open(finish))
    for name in ('run', 'bundled'):
        figures = result[name]
        assert figures['structures'] == 1
        assert abs(figures['hdf5_nmae_rho_percent'] - figures['compact_nmae_rho_percent']) < 0.05
    guess = result['guess']
    assert guess['minao']['converged'] and guess['deepscf']['converged']
    assert abs(guess['minao']['e_tot'] - guess['deepscf']['e_tot']) < 1e-6
    assert guess['max_abs_cuda_minus_cpu'] < 1e-5 and not result['bundled_now']
    # the weights are chosen by the guess among weights.pt and at most 6 snapshots, the last
    # included, and set against the bundled weights' guess on the same structure
    figures = result['guess_validation']
    assert 'bundled' in figures and 'weights.pt' in figures and snapshots[-1] in figures
    assert len(figures) <= 8 and all(f['guess_structures'] == 1 for f in figures.values())
    assert result['chosen'] == min((k for k in figures if k != 'bundled'),
                                   key=lambda k: figures[k]['guess_nmae_percent'])
    # without the data folder (a lost one): the compact set's validation structures
    # stand in, for the targets and for the guess, and give the same figures to its precision;
    # and without the GPU's guess prediction (a run with --no-timing), whose check is skipped
    os.remove(os.path.join(run, 'guess_residual.npz'))
    alone = str(tmp_path / 'finish_alone.json')
    proc = subprocess.run([sys.executable, SCRIPT, 'finish', '--run', run, '--compact',
                           compact_path, '--report', alone, '--val-guess', '1'],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    without = json.load(open(alone))
    assert (without['data'] is None and 'guess' not in without
            and 'hdf5_nmae_rho_percent' not in without['run'])
    assert without['run']['compact_nmae_rho_percent'] == result['run']['compact_nmae_rho_percent']
    assert without['chosen'] in figures
    for name, f in without['guess_validation'].items():
        assert abs(f['guess_nmae_percent'] - figures[name]['guess_nmae_percent']) < 0.05


@pytest.mark.parametrize('option, value, message', [
    ('--sample-group', '0', 'at least 1'), ('--sample-group', '-2', 'at least 1'),
    ('--sample-group', 'all', 'at least 1'), ('--crop-reuse', '0', 'positive integer'),
    ('--crop-reuse', '1.5', 'positive integer'), ('--batch-size', '0', 'positive integer'),
    ('--crop', '-8', 'positive integer'), ('--time-every', '0', 'positive integer'),
    ('--minutes', '0', 'a number > 0'), ('--lr', 'nan', 'a number > 0'),
    ('--warmup-steps', '-1', 'an integer >= 0'), ('--val-structures', '0', 'positive integer')])
def test_bad_counts_are_refused_by_name(option, value, message, tmp_path):
    """Counts, rates and minutes out of their range (--sample-group: 'auto' or a whole number
    >= 1) stop the command line with a message naming the option, before any data is read."""
    proc = subprocess.run([sys.executable, SCRIPT, 'train', '--data', str(tmp_path), '--out',
                           str(tmp_path / 'run'), '--minutes', '1', option, value],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    refusal = [line for line in proc.stderr.splitlines() if 'argument' in line][0]
    assert option in refusal and message in refusal


def test_a_crop_the_network_cannot_take_is_refused_by_name(tiny_kit, tmp_path):
    """The bundled U-Net halves the cube twice: --crop 30 stops with a message naming --crop
    and the multiple it needs, not deep in the decoder."""
    _, compact_path = tiny_kit
    proc = subprocess.run([sys.executable, SCRIPT, 'train', '--data', compact_path, '--out',
                           str(tmp_path / 'run'), '--minutes', '1', '--init',
                           nn_model.DEFAULT_WEIGHTS, '--crop', '30', '--batch-size', '2',
                           '--sample-group', '1', '--threads', '1', '--no-timing'],
                          capture_output=True, text=True, timeout=300)
    factor = nn_model.load(nn_model.DEFAULT_WEIGHTS)[1]['factor']
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert proc.stderr.startswith('--crop:') and f'not a multiple of {factor}' in proc.stderr


def test_a_resume_takes_back_the_options_given_not_the_defaults():
    """A resumed run takes back the options its run was given (a value given anew wins, also
    one equal to the default), not that run's defaults: a kit checkpoint resumed by `deepscf
    train` validates and stops by deepscf train's defaults.  --init and --resume exclude each
    other."""
    from pyscf.deepscf import cli
    from pyscf.deepscf.training.options import continue_run
    spec = importlib.util.spec_from_file_location('gpu_train_kit', SCRIPT)
    kit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kit)
    kit_args = kit.build_parser().parse_args(['train', '--data', 'kit', '--out', 'run',
                                              '--minutes', '8', '--coulomb-loss', '30'])
    assert kit_args.given == ['coulomb_loss', 'data', 'max_minutes', 'out']
    saved = {k: v for k, v in vars(kit_args).items() if k not in ('func', 'given')}
    args = cli.build_parser().parse_args(['train', '--data', 'kit', '--out', 'run', '--resume',
                                          '--coulomb-loss', '0'])    # the default, given anew
    continue_run(args, saved, kit_args.given)
    assert (args.coulomb_loss, args.val_every, args.epochs, args.lr, args.batch_size) == (
        0.0, 200, 100, 2e-3, 2)
    args = cli.build_parser().parse_args(['train', '--data', 'kit', '--out', 'run', '--resume'])
    continue_run(args, saved, kit_args.given)
    assert args.coulomb_loss == 30 and 'coulomb_loss' in args.given     # and on to the next
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(['train', '--data', 'kit', '--out', 'run', '--resume',
                                       '--init', nn_model.DEFAULT_WEIGHTS])


def test_a_run_without_a_finite_validation_reports_no_best(tmp_path, capsys):
    """A diverged run (no validation ever finite, so no best) still writes its report."""
    from pyscf.deepscf.training import train
    args = argparse.Namespace(device_name='cpu', bf16=False, batch_size=2, crop=16,
                              sample_group=1, crop_reuse=1, time_every=50, out=str(tmp_path))
    source = types.SimpleNamespace(structures=lambda: {'train': 2, 'val': 1})
    history = [{'step': 3, 'samples': 6, 'elapsed_s': 1.0,
                'val': {'nmae_rho_percent': float('nan')}}]
    report = train.write_report(args, source, {'step': 3, 'best': {}}, history, 0, 3, 1.0,
                                {'sample_s': 0.0, 'step_s': 0.0, 'timed_steps': 0})
    assert report['best'] == {} and json.load(open(tmp_path / 'report.json'))['steps'] == 3
    assert 'no finite validation' in capsys.readouterr().out
