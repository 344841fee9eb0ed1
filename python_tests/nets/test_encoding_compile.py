"""Every encoding and CoordinateMLP traces into one graph: torch.compile(fullgraph=True) with
dynamic shapes, and torch.export with a dynamic batch dimension (saved and loaded back)."""
import pytest
import torch
import torch._dynamo
from torch.export import Dim

from specbias_ext.nets.encodings import make_encoding
from specbias_ext.nets.models import CoordinateMLP

CASES = [("raw", 2), ("pe:16", 1), ("rff:8:3.0:1", 2)]   # pe:16 evaluates in float64
# N > 16 throughout: inductor's CPU lowering of a K = 1 matmul (a raw 1D first layer) treats
# N <= 16 separately (a size guard, not a graph break)
SIZES = (37, 100, 413)


@pytest.fixture
def no_recompiles():
    torch._dynamo.reset()
    with torch._dynamo.config.patch(error_on_recompile=True):
        yield
    torch._dynamo.reset()


@pytest.mark.slow
@pytest.mark.parametrize("spec,d", CASES)
def test_encoding_compiles_fullgraph_once_for_three_sizes(spec, d, no_recompiles):
    enc = make_encoding(spec, d)
    compiled = torch.compile(enc, fullgraph=True, dynamic=True, backend="inductor")
    gen = torch.Generator().manual_seed(0)
    for n in SIZES:
        c = torch.rand(n, d, generator=gen)
        torch.testing.assert_close(compiled(c), enc(c))


@pytest.mark.slow
@pytest.mark.parametrize("spec,d", [("raw", 1), ("pe:6", 1)])
def test_coordinate_mlp_compiles_fullgraph_once(spec, d, no_recompiles):
    model = CoordinateMLP(spec, depth=2, width=16, in_dim=d)
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    gen = torch.Generator().manual_seed(1)
    for n in SIZES:
        c = torch.rand(n, d, generator=gen)
        torch.testing.assert_close(compiled(c), model(c))


@pytest.mark.slow
@pytest.mark.parametrize("spec,d", [("pe:14", 1), ("rff:8:4.0:2", 2)])
def test_coordinate_mlp_exports_and_round_trips(spec, d, tmp_path):
    model = CoordinateMLP(spec, depth=2, width=16, in_dim=d, seed=3)
    example = (torch.rand(40, d),)
    program = torch.export.export(model, example, dynamic_shapes={"coords": {0: Dim("n")}})
    path = tmp_path / "model.pt2"
    torch.export.save(program, path)
    loaded = torch.export.load(path).module()
    gen = torch.Generator().manual_seed(2)
    for n in (3, 40, 129):
        c = torch.rand(n, d, generator=gen)
        torch.testing.assert_close(loaded(c), model(c))
        torch.testing.assert_close(program.module()(c), model(c))
