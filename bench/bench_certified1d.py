"""Certified 1D region counter on the paper's 1D network: MLP 4x128, PE L=7, on [0, 1).

Run: PYTHONPATH=. python -m pytest bench/bench_certified1d.py -q --benchmark-columns=min,rounds
[--device cuda]. extra_info: the certified count, breakpoints, cells bounded, unresolved length,
and the (saturated) count of distinct patterns on the 2048-point training grid for comparison.
"""

import torch

from specbias_ext.exact.certified1d import certified_regions_1d
from specbias_ext.nets.models import CoordinateMLP
from specbias_ext.nets.network import relu_network
from specbias_ext.reference.network import pattern_bits


def test_certified_pe7_4x128(benchmark, device):
    model = CoordinateMLP("pe:7", depth=4, width=128, seed=0, in_dim=1)
    net = relu_network(model).detach().to(device=device, dtype=torch.float64)
    result = benchmark.pedantic(lambda: certified_regions_1d(net, model.encoding, 0.0, 1.0),
                                rounds=1, iterations=1)
    t = (torch.arange(2048, dtype=torch.float64, device=device) / 2048)[:, None]
    bits = pattern_bits(net, model.encoding.to(device)(t))
    benchmark.extra_info.update(result.to_json())
    benchmark.extra_info["grid_2048_distinct_patterns"] = int(torch.unique(bits, dim=0).shape[0])
    assert result.exact
