"""What training minimises and reports: the loss, the validation figures, the learning rate;
and the cube symmetries that make several training samples of one crop.

Shared by ``deepscf train`` (crops from the HDF5 records, PySCF on the CPU) and the GPU training
kit (scripts/gpu_train.py, crops from the compact set, no PySCF); torch and numpy only.
"""
import numpy as np
import torch


def coulomb_energy(err, spacing_bohr):
    """Hartree energy (B,) of each error density err (B, 1, n, n, n) in e/bohr^3 on a grid of
    ``spacing_bohr``: 1/2 sum_k 4 pi / k^2 |err(k)|^2, by FFT on a box of twice the crop (the
    crop's periodic images do not interact); the k = 0 term is taken at the doubled box's scale,
    so a net charge of the error counts too, approximately (a unit Gaussian charge of width 0.6
    bohr in a 32^3 crop: 86 % of its energy; a neutral pair: within 0.3 %).  It weights an
    error by its long-range potential, what the Coulomb matrix of the guess sees."""
    h = spacing_bohr
    shape = [2 * n for n in err.shape[-3:]]
    f = torch.fft.rfftn(err[:, 0], s=shape, dim=(-3, -2, -1)) * h ** 3
    kx, ky = (2 * np.pi * torch.fft.fftfreq(n, d=h, device=err.device) for n in shape[:2])
    kz = 2 * np.pi * torch.fft.rfftfreq(shape[2], d=h, device=err.device)
    k2 = kx[:, None, None] ** 2 + ky[None, :, None] ** 2 + kz[None, None, :] ** 2
    k2[0, 0, 0] = (2 * np.pi / (shape[0] * h)) ** 2
    weight = torch.full_like(kz, 2.)             # rfft: each kz > 0 stands for +-kz
    weight[0] = 1.
    if shape[2] % 2 == 0:
        weight[-1] = 1.
    volume = float(np.prod(shape)) * h ** 3
    return 0.5 * (4 * np.pi / k2 * weight * f.abs() ** 2).sum(dim=(-3, -2, -1)) / volume


def masked_loss(pred, y, mask, x, weighting='none', coulomb=0.0, spacing_bohr=None):
    """Mean squared Δρ error over the valid voxels (optionally valence-weighted), plus
    ``coulomb`` times the Hartree energy of the error per valid voxel (coulomb_energy)."""
    w = mask
    if weighting == 'valence':
        w = mask / (1 + x[:, :1] ** 3)          # channel 0 is ρ0^(1/3)
    loss = ((pred - y) ** 2 * w).sum() / w.sum().clamp_min(1)
    if coulomb:
        loss = loss + coulomb * coulomb_energy((pred - y) * mask, spacing_bohr).sum() \
            / mask.sum().clamp_min(1)
    return loss


def training_step(net, opt, x, y, mask, args, bf16=False):
    """One optimiser step on a batch: the network (under bfloat16 autocast when ``bf16``), the
    masked loss in float32 (args: loss_weight, coulomb_loss, spacing), backward, the optimiser.
    Returns the loss (a tensor)."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        pred = net(x)
    loss = masked_loss(pred.float(), y, mask, x, args.loss_weight, args.coulomb_loss,
                       args.spacing)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def cube_symmetry(tensors, rng):
    """One random symmetry of the cube (an axis permutation and axis flips: 48 rotations and
    mirror images) applied alike to the last three (spatial) axes of each tensor of a batch.

    The fingerprints, Δρ and the mask are scalar fields and the Hamiltonian is invariant under
    rotations and inversion, so the result is an exact sample of the molecule turned (or
    mirrored) on the grid: a second training sample from one crop, without drawing a new one.
    """
    perm = [int(a) for a in rng.permutation(3)]
    flips = [a for a in range(3) if rng.random() < 0.5]
    out = []
    for t in tensors:
        lead = t.dim() - 3
        t = t.permute(*range(lead), *(lead + a for a in perm))
        if flips:
            t = t.flip([lead + a for a in flips])
        out.append(t.contiguous())
    return out


def gaussian_filter(field, sigma_voxels):
    """field (B, 1, n, n, n) filtered by a normalized Gaussian of ``sigma_voxels``, cut at 3σ,
    zero outside the crop (scipy.ndimage.gaussian_filter's mode='constant')."""
    reach = int(np.ceil(3 * sigma_voxels))
    t = torch.arange(-reach, reach + 1, dtype=field.dtype, device=field.device)
    kernel = torch.exp(-t ** 2 / (2 * sigma_voxels ** 2))
    kernel = kernel / kernel.sum()
    for axis in range(3):
        shape = [1, 1, 1, 1, 1]
        shape[2 + axis] = len(t)
        padding = [0, 0, 0]
        padding[axis] = reach
        field = torch.nn.functional.conv3d(field, kernel.reshape(shape), padding=padding)
    return field


# the error's wavelengths the guess feels: smoother than about 1 bohr (benchmarks/error_scales.py)
LONG_WAVELENGTH_BOHR = 1.0


@torch.no_grad()
def validate(model, loader, device, spacing_bohr=0.3):
    """Validation figures over fixed crops of held-out molecules.

    nmae_delta_rho: Σ|Δρ_pred − Δρ| / Σ|Δρ| (zero predictor: 1); nmae_rho_percent:
    100 Σ|Δρ_pred − Δρ| / Σ ρ (the density NMAE, ρ = ρ0 + Δρ); nmae_long_percent: the same of
    the error's long wavelengths (Gaussian-filtered, σ LONG_WAVELENGTH_BOHR), the part the
    guess feels; rmse (e/bohr³).
    """
    model.eval()
    err = long = ref = rho = sq = n = 0.
    for x, y, mask in loader:
        x, y, mask = x.to(device), y.to(device), mask.to(device)
        pred = model(x)
        err += ((pred - y).abs() * mask).sum().item()
        long += gaussian_filter((pred - y) * mask, LONG_WAVELENGTH_BOHR / spacing_bohr).abs() \
            .mul(mask).sum().item()
        ref += (y.abs() * mask).sum().item()
        rho += ((x[:, :1] ** 3 + y) * mask).sum().item()
        sq += ((pred - y) ** 2 * mask).sum().item()
        n += mask.sum().item()
    model.train()
    return {'nmae_delta_rho': err / max(ref, 1e-30), 'nmae_rho_percent': 100 * err / max(rho, 1e-30),
            'nmae_long_percent': 100 * long / max(rho, 1e-30), 'rmse': (sq / max(n, 1)) ** 0.5}


def learning_rate(args, step, total_steps, optimizer_steps=None):
    """args.lr, or with args.lr_final a cosine from --lr at step 0 to --lr-final at ``total_steps``.
    A function of the step alone, so a resumed run continues the same schedule.

    With ``args.warmup_steps`` = W > 0 the rate is scaled by (n + 1) / W over the first W steps
    of the optimizer (``optimizer_steps`` = n, its own count: see ``optimizer_steps``).  A fine-
    tune starts AdamW with empty moment estimates, whose first updates have the full size
    whatever the gradient noise; ramping the rate keeps them from shaking trained weights.  A
    resumed optimizer keeps its count, so it does not warm up twice.
    """
    if args.lr_final is None:
        rate = args.lr
    else:
        t = min(step / max(total_steps, 1), 1.0)
        rate = args.lr_final + 0.5 * (args.lr - args.lr_final) * (1 + np.cos(np.pi * t))
    warmup = getattr(args, 'warmup_steps', 0) or 0
    if warmup > 0 and optimizer_steps is not None:
        rate *= min(1.0, (optimizer_steps + 1) / warmup)
    return rate


def optimizer_steps(opt):
    """Steps an Adam-type optimizer has taken (its per-parameter 'step'; 0 when fresh).
    Saved and restored with its state_dict, unlike a counter of the training loop."""
    for group in opt.param_groups:
        for p in group['params']:
            step = opt.state.get(p, {}).get('step')
            if step is not None:
                return int(step)
    return 0
