"""`specbias analyze --model` on whole models as their authors wrote them (published_models.py),
from the state dicts they save: analysed from the coordinates with their own encodings; a user's
encoding named by attribute or class with its saved state; --coord-dim from the grid; every
refusal one line naming what to pass."""
from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest
import torch

from specbias_ext import activation_patterns, region_ids, split_model
from specbias_ext.commands import analyze_maps
from specbias_ext.commands.cli import main
from specbias_ext.data.grids import CoordinateGrid, PlaneSlice

pytestmark = pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning")

FACTORIES = textwrap.dedent('''
    import torch
    from torch import nn
    from specbias_ext.testing import published_models as pm

    def fourier():
        return pm.FourierFeatureModel(torch.zeros(8, 2), 4, 16)   # B: a buffer, loaded

    def hashgrid():
        return pm.HashGridField(num_levels=4, log2_hashmap_size=8, hidden_dim=16)

    def deepsdf():
        return pm.DeepSDFDecoder(latent_size=5, dims=[16] * 6, dropout=list(range(6)),
                                 dropout_prob=0.2, norm_layers=list(range(6)), latent_in=[3],
                                 weight_norm=True)

    def nerf():
        return pm.NeRFRunNetwork(multires=4, multires_views=2, W=16)

    def nerfstudio():
        return pm.NeRFFieldDensity(base_mlp_num_layers=4, base_mlp_layer_width=16,
                                   skip_connections=(2,))

    class Features(nn.Module):
        """The user's own Fourier features: a random matrix in a buffer."""
        def __init__(self, m=6, sigma=3.0):
            super().__init__()
            self.register_buffer("B", torch.randn(m, 2) * sigma)

        def forward(self, x):
            proj = x @ self.B.T
            return torch.cat([torch.sin(proj), torch.cos(proj)], -1)

    class Trunk(nn.Module):
        """A network fed encoded points, keeping its encoding as an attribute."""
        def __init__(self, m=6):
            super().__init__()
            self.embed = Features(m)
            self.l0, self.head = nn.Linear(2 * m, 12), nn.Linear(12, 1)

        def forward(self, x):
            return self.head(torch.relu(self.l0(x)))
''')


def _plane(dim):
    u, v = [0.0] * dim, [0.0] * dim
    u[-3], v[-2] = 1.0, 1.0
    return ";".join(",".join(map(str, p)) for p in ([0.5] * dim, u, v))


# name: (factory, flags, the points' grid)
CASES = {
    "Fourier features": ("fourier", ["--grid", "12x10"], CoordinateGrid((12, 10))),
    "hash grid + MLP": ("hashgrid", ["--grid", "5x4x6"], CoordinateGrid((5, 4, 6))),
    "DeepSDF decoder": ("deepsdf", ["--grid", "7x9", "--slice", _plane(8)], None),
    "nerf-pytorch run_network": ("nerf", ["--grid", "7x9", "--slice", _plane(6),
                                          "--head", "fn.alpha_linear"], None),
    "nerfstudio NeRF field": ("nerfstudio", ["--grid", "5x5x4", "--head",
                                             "field_output_density.net"],
                              CoordinateGrid((5, 5, 4))),
}


@pytest.fixture
def factories(tmp_path, monkeypatch):
    (tmp_path / "user_published.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("user_published", None)
    import user_published
    return user_published


def _save(module, path, **extra):
    torch.save({"model": module.state_dict(), **extra} if extra else module.state_dict(), path)
    return str(path)


def _regions(model, points, output=None):
    encoding, net = split_model(model, output, in_dim=points.shape[1])
    with torch.no_grad():
        x = points if encoding is None else encoding(points)
    return region_ids(activation_patterns(x, net.detach()))[1].numel()


def _analyze(capsys, argv):
    rc = main(["analyze", *argv, "--ids", "none"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    return captured


@pytest.mark.parametrize("name", list(CASES))
def test_a_published_model_is_analysed_from_its_state_dict(name, factories, tmp_path, capsys):
    factory, flags, grid = CASES[name]
    torch.manual_seed(0)
    model = getattr(factories, factory)().eval()
    if factory == "fourier":
        model.B.normal_(0.0, 4.0)
    path = _save(model, tmp_path / f"{factory}.pt")
    out = tmp_path / "out"
    _analyze(capsys, [path, "--model", f"user_published:{factory}", *flags, "--out", str(out)])
    [found] = out.glob(f"{factory}_regions_*.json")
    stats = json.loads(found.read_text())
    if grid is None:
        g = stats["grid"]
        grid = PlaneSlice(g["origin"], g["u"], g["v"], g["shape"])
    head = flags[flags.index("--head") + 1] if "--head" in flags else None
    assert stats["regions"] == _regions(model, grid.coords(), head)


def test_the_maps_of_a_model_with_its_own_encoding(factories, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(analyze_maps, "analysis_figures", lambda *a, **k: {})   # maps only
    torch.manual_seed(0)
    model = factories.fourier().eval()
    model.B.normal_(0.0, 4.0)
    path = _save(model, tmp_path / "ff.pt")
    out = tmp_path / "out"
    assert main(["analyze", path, "--model", "user_published:fourier", "--grid", "16x16",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    with np.load(out / "ff_regions_16x16_maps.npz") as maps:
        meta = json.loads(str(maps["meta"]))
        assert meta["label"] == "FourierFeatureModel, FourierFeatureModelEncoding"
        assert "first_layer_weight" not in maps       # it reads the encoding, not the plane


def test_an_encoding_named_by_attribute_uses_the_loaded_state(factories, tmp_path, capsys):
    torch.manual_seed(0)
    model = factories.Trunk().eval()
    path = _save(model, tmp_path / "trunk.pt")
    out = tmp_path / "out"
    _analyze(capsys, [path, "--model", "user_published:Trunk", "--encoding", ".embed",
                      "--grid", "10x10", "--out", str(out)])
    stats = json.loads((out / "trunk_regions_10x10.json").read_text())
    coords = CoordinateGrid((10, 10)).coords()
    want = region_ids(activation_patterns(model.embed(coords), split_model(model)[1]))[1]
    assert stats["regions"] == want.numel()


def test_an_encoding_class_gets_the_checkpoints_encoding_state(factories, tmp_path, capsys):
    torch.manual_seed(0)
    trunk = factories.Trunk(m=5).eval()
    enc = factories.Features(m=5)
    path = _save(trunk, tmp_path / "sep.pt", encoding=enc.state_dict())
    out = tmp_path / "out"
    _analyze(capsys, [path, "--model", "user_published:Trunk", "--model-args", '{"m": 5}',
                      "--encoding", "user_published:Features", "--encoding-args", '{"m": 5}',
                      "--grid", "9x9", "--out", str(out)])
    stats = json.loads((out / "sep_regions_9x9.json").read_text())
    coords = CoordinateGrid((9, 9)).coords()
    want = region_ids(activation_patterns(enc(coords), split_model(trunk)[1]))[1]
    assert stats["regions"] == want.numel()


def _refused(capsys, argv, *parts):
    assert main(["analyze", *argv]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("specbias analyze: error: "), err
    for part in parts:
        assert part in lines[0], lines[0]


def test_refusals_name_what_to_pass(factories, tmp_path, capsys):
    torch.manual_seed(0)
    nerf = _save(factories.nerf().eval(), tmp_path / "nerf.pt")
    ff = _save(factories.fourier().eval(), tmp_path / "ff.pt")
    trunk = _save(factories.Trunk().eval(), tmp_path / "trunk.pt")
    out = ["--out", str(tmp_path / "o")]
    _refused(capsys, [nerf, "--model", "user_published:nerf", "--grid", "4x4", "--slice",
                      _plane(6), *out],
             "several heads", "pass --head fn.rgb_linear (part 0) or --head fn.alpha_linear")
    _refused(capsys, [ff, "--model", "user_published:fourier", "--encoding", "pe:2",
                      "--grid", "4x4", *out],
             "--encoding 'pe:2': FourierFeatureModel.forward computes its own encoding",
             "leave --encoding out")
    _refused(capsys, [trunk, "--model", "user_published:Trunk", "--encoding", ".missing",
                      "--grid", "4x4", *out], "--encoding '.missing'", "no attribute 'missing'")
    _refused(capsys, [trunk, "--model", "user_published:Trunk", "--encoding",
                      "user_published:Features", "--grid", "4x4", *out],
             "holds no 'encoding' state beside the model's",
             "--encoding .<its attribute>")
    bad = _save(factories.Trunk().eval(), tmp_path / "bad.pt",
                encoding=factories.Features(m=3).state_dict())
    _refused(capsys, [bad, "--model", "user_published:Trunk", "--encoding",
                      "user_published:Features", "--grid", "4x4", *out],
             "the 'encoding' state in", "(check --encoding-args)")
    _refused(capsys, [trunk, "--model", "user_published:Trunk", "--grid", "4x4", *out],
             "--model: Trunk takes 12D coordinates (its forward computes no encoding before its "
             "first Linear), the grid gives 2D points: pass a --grid or --slice of 12D points, "
             "or --encoding with the encoding it reads")
    _refused(capsys, [trunk, "--model", "user_published:Trunk", "--encoding", ".embed",
                      "--grid", "4x4x4", *out],
             "--encoding '.embed': on 3D coordinates (the grid's) it raised RuntimeError",
             "name the encoding the network reads")
    _refused(capsys, [trunk, "--model", "user_published:Trunk", "--encoding", "pe:2",
                      "--grid", "4x4", *out],
             "--encoding 'pe:2' gives 8 features, the model's first layer takes 12",
             "pass the encoding it was trained with")
    _refused(capsys, [trunk, "--model", "user_published:Trunk", "--encoding", "pe:2", *out],
             "--grid: --encoding 'pe:2' reads coordinates", "pass --grid N, HxW or DxHxW")
    _refused(capsys, [trunk, "--model", "user_published:Trunk", "--grid", "4x4",
                      "--coord-dim", "3", *out],
             "--coord-dim 3: the --grid '4x4' has 2 coordinates", "leave --coord-dim out")
    _refused(capsys, [trunk, "--model", "user_published:Trunk", "--encoding", "pe:2",
                      "--encoding-args", "{}", "--grid", "4x4", *out],
             "--encoding-args: only with --encoding package.module:Class")
    _refused(capsys, [trunk, "--head", "l0", "--grid", "4x4", *out],
             "--head 'l0': a checkpoint of `specbias train` has one head",
             "only for --model or --whole-module")


def test_a_state_dict_saved_with_a_prefix_names_the_flag(factories, tmp_path, capsys):
    torch.manual_seed(0)
    model = factories.hashgrid().eval()
    path = tmp_path / "wrapped.pt"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)
    argv = [str(path), "--model", "user_published:hashgrid", "--grid", "4x4x4",
            "--out", str(tmp_path / "o")]
    _refused(capsys, argv, "start with 'module.'", "pass --state-dict-prefix 'module.'")
    _analyze(capsys, [*argv, "--state-dict-prefix", "module."])
    stats = json.loads((tmp_path / "o" / "wrapped_regions_4x4x4.json").read_text())
    assert stats["regions"] == _regions(model, CoordinateGrid((4, 4, 4)).coords())
    _refused(capsys, [*argv[:1], "--whole-module", "--state-dict-prefix", "module.",
                      *argv[3:]], "--state-dict-prefix: only with --model")
