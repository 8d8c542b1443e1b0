import argparse

import math

import numpy as np
import torch

from pyscf.deepscf.training import objectives


def test_cosine_learning_rate_schedule():
    args = argparse.Namespace(lr=1e-3, lr_final=1e-5)
    rates = [objectives.learning_rate(args, step, 100) for step in (0, 50, 100, 150)]
    assert np.isclose(rates[0], 1e-3) and np.isclose(rates[1], (1e-3 + 1e-5) / 2)
    assert np.isclose(rates[2], 1e-5) and np.isclose(rates[3], 1e-5)     # held after the end
    assert objectives.learning_rate(argparse.Namespace(lr=2e-3, lr_final=None), 70, 100) == 2e-3


def test_warmup_ramps_a_fresh_optimizer_only():
    """--warmup-steps W scales the rate by (n+1)/W over AdamW's first W steps; the count is
    the optimizer's own, so a state_dict restored on --resume skips the ramp."""
    args = argparse.Namespace(lr=1e-3, lr_final=None, warmup_steps=10)
    p = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.AdamW([p], lr=1e-3)
    assert objectives.optimizer_steps(opt) == 0
    assert np.isclose(objectives.learning_rate(args, 0, 100, objectives.optimizer_steps(opt)), 1e-4)
    for _ in range(4):
        p.grad = torch.ones(3)
        opt.step()
    assert objectives.optimizer_steps(opt) == 4
    assert np.isclose(objectives.learning_rate(args, 4, 100, 4), 5e-4)
    assert np.isclose(objectives.learning_rate(args, 50, 100, 50), 1e-3)      # after the ramp
    resumed = torch.optim.AdamW([p], lr=1e-3)
    resumed.load_state_dict(opt.state_dict())
    assert objectives.optimizer_steps(resumed) == 4
    # without the option (or without a count) the schedule is unchanged
    assert objectives.learning_rate(argparse.Namespace(lr=1e-3, lr_final=None), 0, 100, 0) == 1e-3
    assert objectives.learning_rate(args, 0, 100) == 1e-3


def test_coulomb_energy_of_a_neutral_pair():
    """Two opposite Gaussian charges (std 0.6 bohr, 2 bohr apart) on a 32^3 crop of 0.3 bohr:
    1/(sqrt(pi) s) - erf(d / 2s) / d, to the grid's discretisation."""
    n, h, s = 32, 0.3, 0.6
    ax = (np.arange(n) - n / 2) * h
    x, y, z = np.meshgrid(ax, ax, ax, indexing='ij')
    gauss = lambda x0: np.exp(-((x - x0) ** 2 + y ** 2 + z ** 2) / (2 * s * s)) / (2 * np.pi * s * s) ** 1.5
    err = torch.tensor(gauss(1.0) - gauss(-1.0))[None, None]
    exact = 1 / (np.sqrt(np.pi) * s) - math.erf(2 / (2 * s)) / 2
    assert abs(objectives.coulomb_energy(err, h).item() - exact) < 0.01 * exact
    # the loss adds it per valid voxel
    pred, zero, mask = err.float(), torch.zeros_like(err).float(), torch.ones_like(err).float()
    plain = objectives.masked_loss(pred, zero, mask, None)
    with_coulomb = objectives.masked_loss(pred, zero, mask, None, coulomb=2.0, spacing_bohr=h)
    assert torch.isclose(with_coulomb - plain, 2 * objectives.coulomb_energy(pred, h).sum() / n ** 3)


def test_gaussian_filter_equals_scipy_and_validate_reports_long_wavelengths():
    """The crop filter equals scipy.ndimage.gaussian_filter (mode 'constant', cut at 3σ) to
    1e-12; validate's nmae_long_percent is below the full NMAE and zero for a perfect model."""
    from scipy.ndimage import gaussian_filter
    field = np.random.default_rng(0).standard_normal((2, 1, 12, 10, 14))
    got = objectives.gaussian_filter(torch.tensor(field), 3.3).numpy()
    for b in range(2):
        ref = gaussian_filter(field[b, 0], 3.3, mode='constant', truncate=3)   # radius 10
        assert np.abs(got[b, 0] - ref).max() < 1e-12
    x = torch.rand(2, 9, 8, 8, 8, dtype=torch.float64)
    y = torch.randn(2, 1, 8, 8, 8, dtype=torch.float64) * 0.01
    mask = torch.ones_like(y)


    class Fixed(torch.nn.Module):                       # a model that returns a given field
        def __init__(self, out):
            super().__init__()
            self.out = out

        def forward(self, x):
            return self.out

    noisy = objectives.validate(Fixed(y + 0.01 * torch.randn_like(y)), [(x, y, mask)], 'cpu')
    assert 0 < noisy['nmae_long_percent'] < noisy['nmae_rho_percent']
    exact = objectives.validate(Fixed(y), [(x, y, mask)], 'cpu')
    assert exact['nmae_long_percent'] == 0 == exact['nmae_rho_percent']


def test_cube_symmetry_is_the_molecule_turned_on_the_grid():
    """A cube symmetry of a sample equals the sample of the molecule turned by that signed
    permutation (a rotation or a mirror image) on the same centred cube: fingerprints and Δρ
    move together, channels stay in place."""
    from pyscf import gto, scf
    from pyscf.deepscf.engine.fingerprints import N_CHANNELS
    from pyscf.deepscf.engine.grid import UniformGrid, random_rotation
    from pyscf.deepscf.training import dataset
    mol = gto.M(atom='O 0 0 0.12; H 0 0.76 -0.47; H 0 -0.76 -0.47', basis='def2-svp')
    dm = scf.RHF(mol).get_init_guess()         # any density: the symmetry is geometry alone
    center = mol.atom_coords().mean(0)
    n, h = 12, 0.35
    grid = UniformGrid(center - h * (n - 1) / 2, h, (n, n, n))

    def sample(rotation):
        x, y = dataset.features_and_target(mol, dm, grid, rotation, center)
        return torch.tensor(x.reshape(N_CHANNELS, n, n, n)), torch.tensor(y.reshape(1, n, n, n))

    turned = random_rotation(np.random.default_rng(7))     # water's own symmetries off the axes
    x, y = sample(turned)
    found = []
    for seed in range(6):
        xs, ys = objectives.cube_symmetry([x[None], y[None]], np.random.default_rng(seed))
        assert xs.shape == (1, N_CHANNELS, n, n, n) and ys.shape == (1, 1, n, n, n)
        # the one signed permutation (of 48) whose sample it is: same for x and for y
        matches = []
        for perm in ([0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]):
            for signs in np.ndindex(2, 2, 2):
                m = np.zeros((3, 3))
                m[perm, range(3)] = 1 - 2 * np.array(signs)
                xm, ym = sample(m @ turned)
                if torch.allclose(xs[0], xm, atol=1e-9) and torch.allclose(ys[0], ym, atol=1e-9):
                    matches.append(m)
        assert len(matches) == 1
        found.append(matches[0])
    assert any(not np.allclose(m, np.eye(3)) for m in found)          # it does turn them
    assert any(np.linalg.det(m) < 0 for m in found)                   # mirror images too
