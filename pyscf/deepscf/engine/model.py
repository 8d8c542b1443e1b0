"""The network: a small 3D U-Net from fingerprint channels to the residual density Δρ.

Fully convolutional and local: normalisation is per voxel (over channel groups, not over space)
and down/up-sampling are stride-2 convolutions, so the output at a point depends only on the
input within the receptive field (``receptive_radius`` voxels) and a large box can be cut into
overlapping tiles with the same result.  Weights ship as TorchScript with a metadata.json
(written by training/export.py; read and checked by ``load``).

Needs torch and numpy, not PySCF (only ``NetworkPredictor.predict`` takes a Mole): the GPU
training kit (scripts/gpu_train.py) trains, exports and times the network where PySCF is absent.
"""
import itertools
import json
import os
import warnings
from typing import List

import numpy as np
import torch
from torch import nn

from pyscf.deepscf.engine import atoms, fingerprints, memory, timing
from pyscf.deepscf.engine.grid import box_grid

FORMAT_VERSION = 1


def bundled_weights(name='deepscf_default.pt'):
    """Path of a bundled weights file: in the installed package (``pip install .`` maps the
    repository's top-level weights/ to pyscf/deepscf/weights/), else in the checkout's weights/
    (an editable install, or the GPU kit run from the repository)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))     # pyscf/deepscf
    installed = os.path.join(package, 'weights', name)
    checkout = os.path.normpath(os.path.join(package, '..', '..', 'weights', name))
    return installed if os.path.isfile(installed) or not os.path.isfile(checkout) else checkout


DEFAULT_WEIGHTS = bundled_weights()
DEFAULT_CONFIG = {'in_channels': fingerprints.N_CHANNELS, 'widths': [16, 32, 64],
                  'blocks_per_level': 2, 'groups': 4, 'out_scale': 0.01}


class VoxelGroupNorm(nn.Module):
    """GroupNorm whose statistics are over the channels of a group at each voxel (local)."""

    def __init__(self, groups: int, channels: int):
        super().__init__()
        self.groups = groups
        self.weight = nn.Parameter(torch.ones(1, channels, 1, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1, 1))

    def forward(self, x):
        b, c, d, h, w = x.shape
        # a layer norm over each group's channels at each voxel: one pass over the box, where
        # mean, variance and scaling took eight (with oneDNN's reorders, about half of a CPU
        # forward pass).  On a channels-last tensor (inference_module) the permutes are views.
        # Statistics in float32 also under bf16 autocast (GPU training)
        g = x.permute(0, 2, 3, 4, 1).reshape(b, d, h, w, self.groups, c // self.groups)
        g = nn.functional.layer_norm(g.float(), [c // self.groups], eps=1e-5)
        g = g.reshape(b, d, h, w, c).permute(0, 4, 1, 2, 3)
        return torch.addcmul(self.bias, g, self.weight).to(x.dtype)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv3d(cin, cout, 3, padding=1), VoxelGroupNorm(groups, cout),
                                  nn.SiLU(), nn.Conv3d(cout, cout, 3, padding=1),
                                  VoxelGroupNorm(groups, cout))
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.body(x) + self.skip(x))


def _level(cin, cout, blocks, groups):
    return nn.Sequential(*[ResBlock(cin if i == 0 else cout, cout, groups) for i in range(blocks)])


class UNet3D(nn.Module):
    """Fingerprints (B, C, n1, n2, n3) -> Δρ (B, 1, n1, n2, n3); n divisible by ``factor``."""

    def __init__(self, config=None):
        super().__init__()
        cfg = {**DEFAULT_CONFIG, **(config or {})}
        w, nb, g = list(cfg['widths']), cfg['blocks_per_level'], cfg['groups']
        self.factor = 2 ** (len(w) - 1)
        self.out_scale = float(cfg['out_scale'])
        self.enc = nn.ModuleList([_level(cfg['in_channels'] if i == 0 else w[i], w[i], nb, g)
                                  for i in range(len(w) - 1)])
        self.down = nn.ModuleList([nn.Conv3d(w[i], w[i + 1], 2, stride=2)
                                   for i in range(len(w) - 1)])
        self.bottom = _level(w[-1], w[-1], nb, g)
        # decoder, coarsest level first
        self.up = nn.ModuleList([nn.ConvTranspose3d(w[i + 1], w[i], 2, stride=2)
                                 for i in reversed(range(len(w) - 1))])
        self.dec = nn.ModuleList([_level(2 * w[i], w[i], nb, g)
                                  for i in reversed(range(len(w) - 1))])
        self.head = nn.Conv3d(w[0], 1, 1)
        # voxels an output point sees on each side: 2 convs (radius 1) per block at stride 2^i
        # in encoder and decoder, plus one voxel of stride 2^i for the down- and up-sampling
        self.receptive_radius = 2 * nb * 2 ** (len(w) - 1) + sum(
            (4 * nb + 2) * 2 ** i for i in range(len(w) - 1))

    def forward(self, x):
        skips: List[torch.Tensor] = []
        for enc, down in zip(self.enc, self.down):
            x = enc(x)
            skips.append(x)
            x = down(x)
        x = self.bottom(x)
        for j, (up, dec) in enumerate(zip(self.up, self.dec)):
            x = dec(torch.cat([up(x), skips[len(skips) - 1 - j]], 1))
        return self.head(x) * self.out_scale


def check_crop(crop, factor):
    """Refuse (ValueError) a training crop edge of ``crop`` voxels that a U-Net halving the
    cube log2(``factor``) times cannot take back to its size: it must be a multiple of
    ``factor`` (an odd edge would fail deep in the decoder's concatenation)."""
    if crop % factor:
        raise ValueError(f'a crop edge of {crop} voxels is not a multiple of {factor}, as this '
                         f'network ({factor.bit_length() - 1} halvings of the cube) needs')


def input_metadata():
    """The part of a weights file's metadata that says which input the network takes: its
    elements and fingerprint channels (a loader refuses a file that differs)."""
    return {'elements': list(fingerprints.ELEMENT_CHANNELS), 'n_channels': fingerprints.N_CHANNELS,
            'fingerprints': {'sigma_bohr': fingerprints.SIGMA_BOHR,
                             'element_channels': list(fingerprints.ELEMENT_CHANNELS)}}


def load(path, device='cpu'):
    """(TorchScript module, metadata) of a weights file; clear errors naming the file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'deepscf weights file not found: {path}')
    extra = {'metadata.json': ''}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            module = torch.jit.load(path, map_location=device, _extra_files=extra)
    except Exception as err:
        raise ValueError(f'{path} is not a readable deepscf TorchScript weights file '
                         f'(corrupt or wrong format): {err}') from None
    module = module.float()           # stored float16 (older files float32): computed float32
    try:
        meta = json.loads(extra['metadata.json'])
    except (ValueError, TypeError):
        raise ValueError(f'{path} has no valid metadata.json: not a deepscf weights file') from None
    expected = {'format_version': FORMAT_VERSION, **input_metadata()}
    for key, want in expected.items():
        if meta.get(key) != want:
            raise ValueError(f'{path} is incompatible with this pyscf-deepscf: metadata {key!r} '
                             f'is {meta.get(key)!r}, this version needs {want!r}')
    for key in ('spacing_bohr', 'margin_bohr', 'factor', 'receptive_radius'):
        if not isinstance(meta.get(key), (int, float)) or meta[key] <= 0:
            raise ValueError(f'{path}: metadata {key!r} missing or invalid ({meta.get(key)!r})')
    return module, meta


def tile_slices(n, core, halo, factor):
    """[(input slice, output slice within it, output slice of the whole)] along one axis."""
    core = max(factor, core // factor * factor)
    out = []
    for s in range(0, n, core):
        e = min(n, s + core)
        lo, hi = max(0, s - halo), min(n, e + halo)
        out.append((slice(lo, hi), slice(s - lo, e - lo), slice(s, e)))
    return out


def tile_cores(shape, halo, factor, max_voxels):
    """Output core edge per axis so that a tile (core + halo each side, within the box) has at
    most ``max_voxels`` voxels: the longest core is halved until it fits.  A long molecule
    is thereby cut across its length only, where the halo costs least."""
    cores = [-(-n // factor) * factor for n in shape]

    def tile_voxels(c):
        return np.prod([min(n, ci + 2 * halo) for n, ci in zip(shape, c)])

    while tile_voxels(cores) > max_voxels:
        d = int(np.argmax(cores))
        if cores[d] <= 4 * factor:
            break
        cores[d] = max(4 * factor, -(-cores[d] // (2 * factor)) * factor)
    return cores


def run_tiled(module, x, factor, halo, max_voxels=None):
    """module(x) for x (1, C, *shape), in blocks of at most ~``max_voxels`` input voxels.

    Each block is an output core plus ``halo`` voxels of context on each side (the receptive
    radius makes the result equal to the untiled one); memory scales with ``max_voxels``, not
    with the box.
    """
    shape = x.shape[2:]
    if max_voxels is None or np.prod(shape) <= max_voxels:
        return module(x)
    halo = -(-halo // factor) * factor
    cx, cy, cz = tile_cores(shape, halo, factor, max_voxels)
    out = torch.empty((1, 1) + tuple(shape), dtype=x.dtype, device=x.device)
    for ix, ox, gx in tile_slices(shape[0], cx, halo, factor):
        for iy, oy, gy in tile_slices(shape[1], cy, halo, factor):
            for iz, oz, gz in tile_slices(shape[2], cz, halo, factor):
                y = module(x[:, :, ix, iy, iz].contiguous())
                out[:, :, gx, gy, gz] = y[:, :, ox, oy, oz]
    return out


# Mirror images of the box averaged at inference (`mirrors`): flips of the grid axes are exact
# symmetries of the cubic grid, and reflection maps a molecule's density onto its mirror image's,
# so averaging them removes part of the network's error without interpolation.
MIRROR_AXES = {1: [()], 2: [(), (2, 3, 4)],
               8: [axes for r in range(4) for axes in itertools.combinations((2, 3, 4), r)]}


def native_bfloat16():
    """True where the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX): there oneDNN runs
    the network in bfloat16 2-3x faster than in float32; elsewhere it would emulate it."""
    return any(getattr(torch.cpu, name, lambda: False)()
               for name in ('_is_avx512_bf16_supported', '_is_amx_tile_supported'))


NETWORK_DTYPES = {'float32': torch.float32, 'bfloat16': torch.bfloat16}


def configured_dtype():
    """``pyscf.__config__.deepscf_network_dtype`` (default 'auto'; 'auto' where PySCF is
    absent, as in the GPU kit)."""
    try:
        from pyscf import __config__
    except ImportError:
        return 'auto'
    return getattr(__config__, 'deepscf_network_dtype', 'auto')


def network_dtype(name, device):
    """The torch dtype of the network's arithmetic for ``name`` on ``device``: 'auto' takes
    bfloat16 on a CPU that has it natively (native_bfloat16), float32 elsewhere (CUDA
    included); None the configured name (configured_dtype).  bfloat16 moves the residual by
    1-3 % of its L1 norm, a tenth of the network's own error, and costs no SCF cycle
    (docs/measurements.md)."""
    if name is None:
        name = configured_dtype()
    if name == 'auto':
        name = 'bfloat16' if device.type == 'cpu' and native_bfloat16() else 'float32'
    if name not in NETWORK_DTYPES:
        raise ValueError(f"dtype={name!r}; choose 'auto', 'float32' or 'bfloat16'")
    return NETWORK_DTYPES[name]


class _Inference(nn.Module):
    """A network in ``dtype`` and the channels-last layout (the voxel norm's groups contiguous,
    oneDNN's convolutions without reordering), taking and returning float32 boxes."""

    def __init__(self, net, dtype):
        super().__init__()
        self.net = net.eval().to(dtype).to(memory_format=torch.channels_last_3d)
        self.dtype = dtype

    def forward(self, x):
        x = x.to(self.dtype).contiguous(memory_format=torch.channels_last_3d)
        return self.net(x).float().contiguous()


def inference_module(module, device, config=None, dtype=torch.float32):
    """``module`` (a loaded weights file) ready for inference on ``device``, taking and
    returning float32 boxes.

    With its ``config`` (the metadata's), the weights go into this version's UNet3D, run in
    ``dtype`` and the channels-last layout: on the CPU, in float32 up to 1.7x faster than the
    stored TorchScript graph and equal to it to float32 precision, in bfloat16 2.4-3.3x
    (benchmarks/inference_dtype.py).  Without one, or for a file whose network this version
    does not build, the stored graph frozen, in float32.
    """
    if config is not None:
        try:
            net = UNet3D(config)
            net.load_state_dict(module.state_dict())
        except (RuntimeError, TypeError, KeyError, ValueError) as err:
            warnings.warn(f'deepscf: this version does not build the network of these weights '
                          f'({type(err).__name__}); running their stored graph in float32')
        else:
            return _Inference(net, dtype).to(device)
    module = torch.jit.freeze(module.eval())
    if device.type == 'cpu' and torch.backends.mkldnn.is_available():
        module = torch.jit.optimize_for_inference(module)     # MKL-DNN convolutions
    return module


def nonscf_energy_weights(metadata):
    """{'ks': a, 'harris': b, 'harris_output': c} of a weights file's NonSCF calibration, or
    None."""
    calibration = metadata.get('nonscf', {})
    if 'energy_weights' in calibration:
        return {k: float(calibration['energy_weights'][k])
                for k in ('ks', 'harris', 'harris_output')}
    return None


def nonscf_energy_domain(metadata):
    """The domain (domain.calibration_domain's dict) a weights file's NonSCF calibration holds
    in: stored with it, or, for a calibration that stored none, made from its functional and
    basis; None where there is no calibration."""
    calibration = metadata.get('nonscf', {})
    if 'domain' in calibration:
        return dict(calibration['domain'])
    if 'energy_weights' not in calibration:
        return None
    from pyscf.deepscf.domain import calibration_domain
    return calibration_domain(calibration.get('xc', 'pbe'), calibration.get('basis', 'def2-svp'))


class NetworkPredictor:
    """The trained network as a predictor: ``predict(mol) -> (grid, residual)``.

    weights: TorchScript file (default the bundled ``weights/deepscf_default.pt``).
    device: 'cuda', 'cpu', ... (default CUDA when available).  max_tile_voxels: the largest
    box evaluated in one pass (default 128^3, ~0.6 GB of activations); larger boxes go in
    overlapping tiles (output cores plus the receptive radius each side), bounding memory.
    mirrors: how many mirror images of the box the prediction averages: 1 (the network once),
    2 (and its inversion through the box centre; twice the inference time) or 8 (all flips
    of the grid axes).  dtype: the network's arithmetic, 'auto', 'float32' or 'bfloat16'
    (network_dtype; default ``pyscf.__config__.deepscf_network_dtype``, else 'auto').
    """

    def __init__(self, weights=None, device=None, max_tile_voxels=128 ** 3, mirrors=1,
                 dtype=None):
        if mirrors not in MIRROR_AXES:
            raise ValueError(f'mirrors={mirrors!r}; choose 1, 2 or 8')
        self.weights = DEFAULT_WEIGHTS if weights is None else weights
        self.device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
        module, self.metadata = load(self.weights, self.device)
        self.module = inference_module(module, self.device, self.metadata.get('config'),
                                       network_dtype(dtype, self.device))
        # what it runs in: a stored graph (inference_module's fallback) runs in float32
        self.dtype = getattr(self.module, 'dtype', torch.float32)
        self.spacing_bohr = float(self.metadata['spacing_bohr'])
        self.margin_bohr = float(self.metadata['margin_bohr'])
        # trained on point values (0) or on the residual smoothed by a Gaussian of this width
        self.smoothing_bohr = float(self.metadata.get('smoothing_bohr', 0.0))
        # NonSCF's e_tot mixes its Kohn-Sham and Harris energies with these weights, where the
        # weights file was calibrated (scripts/calibrate_nonscf.py); None: not calibrated
        self.energy_weights = nonscf_energy_weights(self.metadata)
        self.energy_domain = nonscf_energy_domain(self.metadata)
        self.factor = int(self.metadata['factor'])
        self.halo = int(self.metadata['receptive_radius'])
        self.max_tile_voxels = max_tile_voxels
        self.mirrors = mirrors
        # the guess's V_xc grid (guess.py): with this network's errors, level 0 (a quarter of
        # level 1's points) costs no SCF cycle against levels 1-3 (docs/oracle.md)
        self.guess_grids_level = int(self.metadata.get('guess_grids_level', 0))

    def __repr__(self):
        return (f'NetworkPredictor({self.weights!r}, device={str(self.device)!r}, '
                f'mirrors={self.mirrors}, dtype={str(self.dtype).split(".")[-1]!r})')

    def predict(self, mol):
        """(grid, residual) of a gto.Mole: predict_atoms of its real atoms."""
        return self.predict_atoms(atoms.atom_symbols(mol), mol.atom_coords()[atoms.real_atoms(mol)])

    def predict_atoms(self, symbols, coords_bohr):
        """(UniformGrid, residual density (grid.shape) in e/bohr^3) of atoms given by element
        symbols and coordinates (N, 3) in bohr; needs no PySCF."""
        grid = box_grid(coords_bohr, self.spacing_bohr, self.margin_bohr, self.factor)
        # fingerprints (float32) and their channels-last copy, the output and its float64
        # copies; tiles bound the rest
        memory.require(grid.size * (8 * fingerprints.N_CHANNELS + 4 + 3 * 8),
                       f'the network box of {len(symbols)} atoms ({grid.shape} voxels)')
        with timing.step('fingerprints'):
            x = fingerprints.fingerprints_on_grid(symbols, coords_bohr, grid)
        with torch.inference_mode(), timing.step('network'):
            xt = torch.from_numpy(x)[None].to(self.device, torch.float32)
            y = 0
            for axes in MIRROR_AXES[self.mirrors]:
                xm = xt.flip(axes) if axes else xt          # flip copies: contiguous
                ym = run_tiled(self.module, xm, self.factor, self.halo, self.max_tile_voxels)
                y = y + (ym.flip(axes) if axes else ym)
            y = y / len(MIRROR_AXES[self.mirrors])
        return grid, y[0, 0].double().cpu().numpy().astype(np.float64)
