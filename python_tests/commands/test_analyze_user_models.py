"""`specbias analyze` on a user's own module (--model / --whole-module), on 3D grids and slices,
streamed: the counts equal the in-memory ops on the same points."""
import json
import sys
import textwrap

import torch
from torch import nn

from specbias_ext import activation_patterns, region_ids, relu_network
from specbias_ext.commands.cli import main
from specbias_ext.data.grids import grid_coords

TRUNK = textwrap.dedent('''
    import torch
    from torch import nn

    class Trunk(nn.Module):
        """A NeRF-style trunk: input skip at layer 2, LeakyReLU, a bias-free head."""
        def __init__(self, width=16, in_dim=3):
            super().__init__()
            self.l0 = nn.Linear(in_dim, width)
            self.l1 = nn.Linear(width, width)
            self.l2 = nn.Linear(width + in_dim, width)
            self.head = nn.Linear(width, 1, bias=False)

        def forward(self, x):
            h = torch.relu(self.l0(x))
            h = nn.functional.leaky_relu(self.l1(h), 0.1)
            h = torch.relu(self.l2(torch.cat([h, x], dim=-1)))
            return self.head(h)
''')


def _trunk(tmp_path, monkeypatch):
    (tmp_path / "user_trunk.py").write_text(TRUNK)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("user_trunk", None)
    import user_trunk
    torch.manual_seed(0)
    model = user_trunk.Trunk(width=12)
    torch.save(model.state_dict(), tmp_path / "trunk.pt")
    return model


def _expected_regions(model, shape, coord_range=(0.0, 1.0)):
    coords = grid_coords(shape, coord_range)
    ids, counts = region_ids(activation_patterns(coords, relu_network(model).detach()))
    return counts.numel(), ids


def test_user_module_state_dict_on_a_3d_grid(tmp_path, monkeypatch, capsys):
    model = _trunk(tmp_path, monkeypatch)
    out = tmp_path / "out"
    rc = main(["analyze", str(tmp_path / "trunk.pt"), "--model", "user_trunk:Trunk",
               "--model-args", '{"width": 12}', "--grid", "12x10x9", "--tile", "100",
               "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    stats = json.loads((out / "trunk_regions_12x10x9.json").read_text())
    regions, ids = _expected_regions(model, (12, 10, 9))
    assert stats["regions"] == regions and stats["points"] == 12 * 10 * 9
    import numpy as np
    with np.load(out / "trunk_regions_12x10x9.npz") as data:
        assert data["ids"].reshape(-1).tolist() == ids.tolist()


def test_whole_module_and_plane_slice(tmp_path, monkeypatch, capsys):
    model = nn.Sequential(nn.Linear(3, 10), nn.ReLU(), nn.Linear(10, 10), nn.LeakyReLU(0.2),
                          nn.Linear(10, 1))
    torch.save(model, tmp_path / "whole.pt")
    out = tmp_path / "o"
    rc = main(["analyze", str(tmp_path / "whole.pt"), "--whole-module", "--grid", "16x8",
               "--slice", "0,0,0.5;1,0,0;0,1,0", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    # the plane is in the name (a hash of ORIGIN;U;V) and written out in the numbers
    [found] = sorted(out.glob("whole_regions_16x8_slice-*.json"))
    stats = json.loads(found.read_text())
    assert stats["grid"] == {"kind": "plane", "shape": [16, 8], "origin": [0.0, 0.0, 0.5],
                             "u": [1.0, 0.0, 0.0], "v": [0.0, 1.0, 0.0]}
    from specbias_ext.data.grids import plane_coords
    coords = plane_coords([0, 0, 0.5], [1, 0, 0], [0, 1, 0], (16, 8))
    _, counts = region_ids(activation_patterns(coords, relu_network(model).detach()))
    assert stats["regions"] == counts.numel()
    assert found.with_suffix(".png").exists()


def test_user_model_errors_are_cli_errors(tmp_path, monkeypatch, capsys):
    _trunk(tmp_path, monkeypatch)
    cases = [
        ["--model", "user_trunk:Missing", "--grid", "8x8x8"],
        ["--model", "user_trunk:Trunk", "--model-args", "{width: 12}", "--grid", "8x8x8"],
        ["--model", "user_trunk:Trunk", "--model-args", '{"width": 12}', "--grid", "8x8"],
        ["--model", "user_trunk:Trunk", "--grid", "8x8x8"],          # shapes do not fit
    ]
    for argv in cases:
        assert main(["analyze", str(tmp_path / "trunk.pt"), *argv,
                     "--out", str(tmp_path / "x")]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("specbias analyze: error: ") and "Traceback" not in err, err
