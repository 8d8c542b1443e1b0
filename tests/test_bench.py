from pyscf.deepscf import bench


def test_guess_per_cycle_counts_a_shared_tensor_as_the_scfs():
    """A 10 s guess of which 4 s built the SCF's fitting tensor, before 10 cycles in 56 s: the
    SCF's mean cycle is (56 + 4) / 10 = 6 s, the guess's own 6 s is one cycle."""
    row = {'seconds': 66.0, 'guess_seconds': 10.0, 'shared_seconds': 4.0, 'cycles': 10}
    assert abs(bench.guess_per_cycle(row) - 1.0) < 1e-12
    assert abs(bench.guess_per_cycle({**row, 'shared_seconds': 0.0}) - 10 / 5.6) < 1e-12
