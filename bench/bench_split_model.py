"""What reading a whole model costs: the grid analysis of a Fourier-feature network (its Gaussian
matrix inside the module, as tancik et al.'s demo writes it) on a 1024^2 grid, with the
encoding split off by ``split_model`` (the model's own fx graph, the split itself timed in) vs.
the user's own ``input_mapping`` called directly with the network read by ``relu_network``.

extra_info: ours_s (split + analysis), direct_s (best of 3 each, the two alternated), ratio =
ours / direct (target <= 1.05), the split alone (split_s) and the sizes.

    PYTHONPATH=. python -m pytest bench/bench_split_model.py -q --benchmark-columns=min,mean
    ... --device cuda
"""
from __future__ import annotations

import pytest
import torch

import specbias_ext as se
from specbias_ext.testing.published_models import FourierFeatureModel, input_mapping
from specbias_ext.analysis.stream import analyze_stream
from specbias_ext.data.grids import CoordinateGrid
from timing import best_time, run_ours

SIDE = 1024


@pytest.fixture(autouse=True)
def _print_extra_info(request, benchmark):
    yield
    print(f"\n{request.node.name} {dict(benchmark.extra_info)}", flush=True)


def test_encoding_split_vs_the_users_encoding_on_a_1024sq_analysis(benchmark, device):
    torch.manual_seed(0)
    model = FourierFeatureModel(torch.randn(32, 2) * 10, num_layers=4, num_channels=64)
    model = model.to(device).eval()
    grid = CoordinateGrid((SIDE, SIDE))

    def direct():
        net = se.relu_network(model.model).detach()
        return analyze_stream(net, grid, encoding=lambda c: input_mapping(c, model.B),
                              ids="none", device=device)

    def ours():
        encoding, net = se.split_model(model)
        return analyze_stream(net.detach(), grid, encoding=encoding, ids="none", device=device)

    a, b = ours(), direct()
    assert torch.equal(a.region_counts, b.region_counts)
    run_ours(benchmark, ours, device)
    # alternate the two, so a change of load on a shared machine hits both alike
    t_ours = t_direct = float("inf")
    for _ in range(3):
        t_ours = min(t_ours, best_time(ours, device, rounds=1, warmup=False))
        t_direct = min(t_direct, best_time(direct, device, rounds=1, warmup=False))
    t_split = best_time(lambda: se.split_model(model), device)
    benchmark.extra_info.update(
        grid_side=SIDE, n=SIDE * SIDE, net="FF(32x2, sigma 10)-3x64-3 sigmoid", dtype="float32",
        ours_s=t_ours, direct_s=t_direct, ratio=t_ours / t_direct, split_s=t_split)
