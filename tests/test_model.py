"""The network: shapes, export/load round trip, clear errors, tiling, predictor."""
import json

import numpy as np
import pytest
import torch
from pyscf import gto

from pyscf.deepscf.engine import model
from pyscf.deepscf.training import export as weights_file
from pyscf.deepscf.engine.fingerprints import N_CHANNELS

from conftest import requires

TINY = {'widths': [4, 8, 8], 'blocks_per_level': 1, 'groups': 2, 'out_scale': 0.1}


@pytest.fixture(scope='module')
def tiny():
    torch.manual_seed(0)
    net = model.UNet3D(TINY).eval()
    with torch.no_grad():                  # non-trivial output
        net.head.bias.fill_(0.3)
    return net


@pytest.fixture(scope='module')
def weights(tiny, tmp_path_factory):
    path = str(tmp_path_factory.mktemp('w') / 'tiny.pt')
    weights_file.export(tiny, path, weights_file.make_metadata(TINY, 0.5, 3.0, validation={}))
    return path


@pytest.mark.parametrize('shape', [(8, 8, 8), (12, 16, 20)])
def test_output_shape_equals_input_shape(tiny, shape):
    assert tiny.factor == 4
    with torch.no_grad():
        y = tiny(torch.randn(1, N_CHANNELS, *shape))
    assert y.shape == (1, 1) + shape


def test_check_crop_refuses_what_the_decoder_cannot_take_back(tiny):
    """A crop edge the U-Net cannot halve log2(factor) times and restore is refused by name
    (without the check the decoder's concatenation fails on 15 against 14 voxels)."""
    model.check_crop(12, tiny.factor)                      # a multiple of 4: accepted
    for edge in (10, 30):
        with pytest.raises(ValueError, match=f'{edge} voxels is not a multiple of 4'):
            model.check_crop(edge, tiny.factor)
    with pytest.raises(RuntimeError):                     # what it stands in front of
        with torch.no_grad():
            tiny(torch.randn(1, N_CHANNELS, 10, 10, 10))


def test_receptive_radius_bounds_the_influence(tiny):
    """Changing the input at one voxel changes the output only within receptive_radius."""
    x = torch.randn(1, N_CHANNELS, 48, 8, 8)
    x2 = x.clone()
    x2[0, :, 0] += 1
    with torch.no_grad():
        diff = (tiny(x2) - tiny(x)).abs()[0, 0].amax(dim=(1, 2))
    reach = int(torch.nonzero(diff > 0).max())
    assert 0 < reach <= tiny.receptive_radius


def test_export_load_round_trip(tiny, weights):
    """The file holds float16 parameters (half the size); loaded, the network computes in
    float32 with exactly those values."""
    module, meta = model.load(weights)
    assert {p.dtype for p in module.parameters()} == {torch.float32}
    rounded = model.UNet3D(TINY).eval()
    rounded.load_state_dict({k: v.half().float() for k, v in tiny.state_dict().items()})
    x = torch.randn(1, N_CHANNELS, 8, 12, 8)
    with torch.no_grad():
        assert torch.equal(module(x), rounded(x))
        assert not torch.equal(module(x), tiny(x))       # the rounding is real
        # on average close (this tiny net's 2-channel groups amplify rounding at voxels where
        # both channels nearly agree)
        assert (module(x) - tiny(x)).abs().mean() < 0.05 * tiny(x).abs().mean()
    assert meta['parameter_dtype'] == 'float16'
    assert all(p.dtype == torch.float32 for p in tiny.parameters())      # export copied it
    assert meta['spacing_bohr'] == 0.5 and meta['factor'] == 4
    assert meta['receptive_radius'] == tiny.receptive_radius


def test_update_metadata_keeps_the_network(tiny, weights, tmp_path):
    """A calibration written into the metadata: same outputs, the predictor reads it."""
    out = str(tmp_path / 'calibrated.pt')
    weights3 = {'ks': 0.4, 'harris': 0.5, 'harris_output': 0.1}
    weights_file.update_metadata(weights, {'nonscf': {'energy_weights': weights3}}, out=out)
    module, meta = model.load(out)
    before, _ = model.load(weights)
    x = torch.randn(1, N_CHANNELS, 8, 8, 8)
    with torch.no_grad():
        assert torch.equal(module(x), before(x))
    assert meta['nonscf']['energy_weights'] == weights3 and meta['spacing_bohr'] == 0.5
    assert model.NetworkPredictor(out, device='cpu').energy_weights == weights3
    assert model.NetworkPredictor(weights, device='cpu').energy_weights is None
    assert not (tmp_path / 'calibrated.json').exists()     # no readable copy made up
    # where a readable copy sits beside the file (the bundled weights), it follows
    (tmp_path / 'calibrated.json').write_text('{}')
    weights_file.update_metadata(out, {'note': 'x'})
    assert json.loads((tmp_path / 'calibrated.json').read_text()) == model.load(out)[1]


def test_missing_file_is_named(tmp_path):
    path = str(tmp_path / 'nope.pt')
    with pytest.raises(FileNotFoundError, match='nope.pt'):
        model.NetworkPredictor(path)


def test_corrupt_file_is_named(tmp_path, weights):
    path = tmp_path / 'corrupt.pt'
    path.write_bytes(open(weights, 'rb').read()[:500])
    with pytest.raises(ValueError, match='corrupt.pt'):
        model.load(str(path))
    plain = tmp_path / 'plain.pt'                     # TorchScript, but no metadata
    torch.jit.save(torch.jit.script(model.UNet3D(TINY)), str(plain))
    with pytest.raises(ValueError, match='plain.pt'):
        model.load(str(plain))


def test_incompatible_file_is_named(tiny, tmp_path):
    path = str(tmp_path / 'old.pt')
    meta = weights_file.make_metadata(TINY, 0.3, 5.0)
    meta['fingerprints'] = {**meta['fingerprints'], 'sigma_bohr': 0.123}
    weights_file.export(tiny, path, meta)
    with pytest.raises(ValueError, match=r'old\.pt.*sigma'):
        model.load(path)
    weights_file.export(tiny, path,
                        {**weights_file.make_metadata(TINY, 0.3, 5.0), 'format_version': 99})
    with pytest.raises(ValueError, match=r'old\.pt.*format_version'):
        model.load(path)


def test_tiled_equals_untiled(tiny):
    torch.manual_seed(1)
    x = torch.randn(1, N_CHANNELS, 40, 36, 64)
    halo = tiny.receptive_radius
    with torch.no_grad():
        full = tiny(x)
        budget = (2 * halo + 16) ** 3
        tiled = model.run_tiled(tiny, x, tiny.factor, halo, max_voxels=budget)
    assert tiled.shape == full.shape
    assert torch.allclose(tiled, full, atol=1e-5, rtol=1e-4)
    assert len(model.tile_slices(64, 16, halo, 4)) == 4
    cores = model.tile_cores((40, 36, 64), halo, tiny.factor, budget)
    assert np.prod([min(n, c + 2 * halo) for n, c in zip((40, 36, 64), cores)]) <= budget
    assert model.tile_cores((400, 40, 40), 48, 4, 128 ** 3)[1:] == [40, 40]   # cut lengthwise


def test_predictor_on_water(weights):
    mol = gto.M(atom='O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692', basis='sto-3g',
                verbose=0)
    pred = model.NetworkPredictor(weights, device='cpu')
    assert pred.spacing_bohr == 0.5 and pred.margin_bohr == 3.0
    grid, residual = pred.predict(mol)
    assert residual.shape == grid.shape and residual.dtype == np.float64
    assert all(n % 4 == 0 for n in grid.shape)
    assert np.isfinite(residual).all() and np.abs(residual).max() > 0
    pred.max_tile_voxels = (2 * pred.halo + 16) ** 3     # forced tiling: same answer
    assert np.allclose(pred.predict(mol)[1], residual, atol=1e-5)


def test_voxel_norm_is_a_norm_over_each_group_at_each_voxel():
    """Against the definition, in NumPy: at every voxel, each group's channels shifted to mean
    0 and scaled to variance 1 (eps 1e-5), then the per-channel weight and bias."""
    torch.manual_seed(0)
    norm = model.VoxelGroupNorm(3, 12)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(2, 12, 5, 4, 3) * 3 + 1
    g = x.numpy().reshape(2, 3, 4, 5, 4, 3)
    ref = (g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + 1e-5)
    ref = ref.reshape(x.shape) * norm.weight.detach().numpy() + norm.bias.detach().numpy()
    for layout in (torch.contiguous_format, torch.channels_last_3d):
        with torch.no_grad():
            y = norm(x.contiguous(memory_format=layout))
        assert np.allclose(y.numpy(), ref, atol=1e-5)


def test_inference_module_matches_the_weights():
    """The bundled weights ready for inference give the stored TorchScript graph's output: to
    float32 precision in float32 (this version's network, channels-last, and the stored graph
    frozen for a file without a config), within 5 % of its L1 norm in bfloat16 (the network's
    own error is about 14 %).  (A random tiny network with two channels per norm group would
    not do: its voxel norm divides by near-zero spreads and amplifies rounding a thousandfold.)"""
    module, meta = model.load(model.DEFAULT_WEIGHTS)
    cpu = torch.device('cpu')
    torch.manual_seed(0)
    x = torch.rand(1, N_CHANNELS, 20, 16, 24)
    with torch.inference_mode():
        y = module(x)
        rebuilt = model.inference_module(module, cpu, meta['config'])(x)
        frozen = model.inference_module(module, cpu)(x)
        bf16 = model.inference_module(module, cpu, meta['config'], torch.bfloat16)(x)
    assert float(y.abs().max()) > 0.01
    assert rebuilt.dtype == frozen.dtype == bf16.dtype == torch.float32
    assert torch.allclose(rebuilt, y, atol=2e-6, rtol=0)
    assert torch.allclose(frozen, y, atol=2e-6, rtol=0)
    assert 1e-4 < float((bf16 - y).abs().sum() / y.abs().sum()) < 0.05
    # a config this version cannot build the stored network from: the stored graph
    with pytest.warns(UserWarning, match='stored graph'):
        other = model.inference_module(module, cpu, {**meta['config'], 'widths': [8, 16, 32]})
    with torch.inference_mode():
        assert torch.allclose(other(x), y, atol=2e-6, rtol=0)


def test_network_dtype_is_bfloat16_only_where_the_cpu_has_it(monkeypatch):
    cpu, cuda = torch.device('cpu'), torch.device('cuda')
    monkeypatch.setattr(model, 'native_bfloat16', lambda: True)
    assert model.network_dtype('auto', cpu) == torch.bfloat16
    assert model.network_dtype('auto', cuda) == torch.float32
    assert model.network_dtype('float32', cpu) == torch.float32
    monkeypatch.setattr(model, 'native_bfloat16', lambda: False)
    assert model.network_dtype('auto', cpu) == torch.float32
    assert model.network_dtype('bfloat16', cpu) == torch.bfloat16     # asked for: given
    with pytest.raises(ValueError, match='float16'):
        model.network_dtype('float16', cpu)


def test_mirror_average_is_inversion_symmetric(weights):
    """mirrors=2 averages the molecule and its inversion through the box centre (same box),
    so the molecule's inverted image gets exactly the inverted prediction."""
    mol = gto.M(atom='O 0 0 0.1173; H 0 0.7572 -0.4692; H 0.3 -0.7572 -0.4692', basis='sto-3g',
                verbose=0)
    coords = mol.atom_coords()
    centre = (coords.min(0) + coords.max(0)) / 2
    inverted = mol.set_geom_(2 * centre - coords, unit='Bohr', inplace=False)
    once = model.NetworkPredictor(weights, device='cpu')
    twice = model.NetworkPredictor(weights, device='cpu', mirrors=2)
    grid, r1 = once.predict(mol)
    grid_inv, r1_inv = once.predict(inverted)
    assert np.allclose(grid_inv.origin_bohr, grid.origin_bohr) and grid_inv.shape == grid.shape
    _, r2 = twice.predict(mol)
    _, r2_inv = twice.predict(inverted)
    assert np.allclose(r2, (r1 + r1_inv[::-1, ::-1, ::-1]) / 2, atol=1e-6)
    assert np.allclose(r2_inv[::-1, ::-1, ::-1], r2, atol=1e-6)
    assert not np.allclose(r1_inv[::-1, ::-1, ::-1], r1, atol=1e-6)   # the network alone is not
    with pytest.raises(ValueError, match='mirrors'):
        model.NetworkPredictor(weights, device='cpu', mirrors=3)


@requires('qm9pack', 'tqdm')
def test_train_resume_export_evaluate(tmp_path):
    """A few steps of train.main on three tiny structures, resume, export, load, evaluate."""
    from pyscf.deepscf.training import data, train
    folder, out = str(tmp_path / 'data'), str(tmp_path / 'run')
    data.generate(data.structure_jobs(qm9_index=[1, 3, 7]), folder,
                  {'basis': 'sto-3g', 'grids_level': 0}, workers=0, progress=False)
    common = ['--data', folder, '--out', out, '--widths', '4', '8', '--groups', '2',
              '--blocks-per-level', '1', '--crop', '16', '--samples-per-structure', '1',
              '--val-every', '1', '--no-progress', '--threads', '1']
    # one DataLoader worker: PySCF has used OpenMP in this process (data.generate), which hung
    # forked workers; the spawned ones must deliver
    assert train.main(common + ['--epochs', '1', '--workers', '1', '--lr', '1e-3',
                                '--lr-final', '1e-4']) == 0
    weights = str(tmp_path / 'w.pt')
    assert train.main(common + ['--epochs', '2', '--resume', '--export', weights]) == 0
    lines = [json.loads(line) for line in open(tmp_path / 'run' / 'metrics.jsonl')]
    assert max(line.get('step', 0) for line in lines) == 2          # resumed, not restarted
    # the resumed run keeps the schedule it was started with; a value given anew wins
    resumed_args = [line['args'] for line in lines if line.get('event') == 'start'][-1]
    assert (resumed_args['lr'], resumed_args['lr_final'], resumed_args['epochs']) == (1e-3, 1e-4, 2)
    module, meta = model.load(weights)
    assert meta['dataset']['structures'] == {'train': 2, 'val': 1, 'test': 0}
    assert 'nmae_delta_rho' in meta['validation'] and meta['reference']['basis'] == 'sto-3g'
    assert train.main(common + ['--evaluate', weights]) == 0
    assert json.load(open(tmp_path / 'run' / 'evaluation.json'))['structures'] == 1
    # fine-tuning from exported weights: their parameters and config are the starting point
    tuned = str(tmp_path / 'tuned.pt')
    fresh = [str(tmp_path / 'run2') if x == out else x for x in common]
    assert train.main(fresh + ['--epochs', '0', '--init', weights, '--export', tuned,
                               '--smoothing', '0.2']) == 0
    tuned_module, tuned_meta = model.load(tuned)
    assert tuned_meta['training']['init'] == 'w.pt' and tuned_meta['config'] == meta['config']
    # a resumed fine-tuning keeps naming its starting weights
    resumed = str(tmp_path / 'resumed.pt')
    assert train.main(fresh + ['--epochs', '1', '--resume', '--export', resumed,
                               '--smoothing', '0.2']) == 0
    assert model.load(resumed)[1]['training']['init'] == 'w.pt'
    # the target kind travels with the weights: the predictor tells the fit
    assert meta['smoothing_bohr'] == 0.0 and tuned_meta['smoothing_bohr'] == 0.2
    assert model.NetworkPredictor(tuned, device='cpu').smoothing_bohr == 0.2
    x = torch.randn(1, N_CHANNELS, 16, 16, 16)
    with torch.no_grad():
        assert torch.equal(tuned_module(x), module(x))
    # --crop-reuse K: K steps per batch drawn (one batch per epoch here), logged as steps
    reuse = [str(tmp_path / 'run3') if x == out else x for x in common]
    # and --bf16 (autocast in training only): both recorded with the weights
    reuse_weights = str(tmp_path / 'reuse.pt')
    assert train.main(reuse + ['--epochs', '1', '--crop-reuse', '3', '--batch-size', '2',
                               '--bf16', '--export', reuse_weights]) == 0
    steps = [json.loads(line).get('step') for line in open(tmp_path / 'run3' / 'metrics.jsonl')]
    assert max(s for s in steps if s is not None) == 3
    with pytest.raises(SystemExit, match='needs --max-minutes and --lr-final'):
        train.main(reuse + ['--lr-over-minutes', '--lr-final', '1e-5'])
    reuse_meta = model.load(reuse_weights)[1]['training']
    assert (reuse_meta['crop_reuse'], reuse_meta['bf16']) == (3, True)
    # a resumed run keeps bf16 unless told --no-bf16
    assert train.main(reuse + ['--epochs', '2', '--resume', '--export', reuse_weights]) == 0
    assert model.load(reuse_weights)[1]['training']['bf16'] is True
    assert train.main(reuse + ['--epochs', '3', '--resume', '--no-bf16',
                               '--export', reuse_weights]) == 0
    assert model.load(reuse_weights)[1]['training']['bf16'] is False


def test_package_exports_the_predictor_lazily():
    from pyscf import deepscf
    assert deepscf.NetworkPredictor is model.NetworkPredictor
    with pytest.raises(AttributeError):
        deepscf.no_such_thing
