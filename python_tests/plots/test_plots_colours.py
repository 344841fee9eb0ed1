"""Region colours are a function of the activation pattern alone: the same pattern has the same
colour whatever its region id, tile, record (epoch), run or process."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from specbias_ext import measure, ops
from specbias_ext.analysis import analyze_grid
from specbias_ext.analysis.point_maps import point_maps
from specbias_ext.data.grids import CoordinateGrid
from specbias_ext.nets.network import ReluNetwork
from specbias_ext.plots.colours import key_colours, palette, palette_index, pattern_colours
from specbias_ext.plots.maps import region_image
from paths import REPO_ROOT

MASK = (1 << 64) - 1


def _reference_key(words) -> int:
    """The pattern key in Python integers (the documented mix, 64-bit wrap-around)."""
    h = 0x243F6A8885A308D3
    for w in words:
        h = ((h ^ (w & MASK)) * 0x9E3779B97F4A7C15) & MASK
        h ^= h >> 31 if h < (1 << 63) else (h >> 31) | (((1 << 31) - 1) << 33)
    return h - (1 << 64) if h >= 1 << 63 else h


def _net(seed=0, widths=(9, 7), in_dim=2):
    g = torch.Generator().manual_seed(seed)
    dims = [in_dim, *widths, 1]
    ws = [torch.randn(b, a, generator=g) for a, b in zip(dims[:-1], dims[1:])]
    bs = [torch.randn(b, generator=g) * 0.5 for b in dims[1:]]
    return ReluNetwork.of(ws, bs)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(-2**63, 2**63 - 1), min_size=2, max_size=2),
                min_size=1, max_size=20))
def test_pattern_keys_are_the_documented_mix(rows):
    p = torch.tensor(rows, dtype=torch.int64)
    assert measure.pattern_keys(p).tolist() == [_reference_key(r) for r in rows]


def test_colour_is_a_function_of_the_pattern_only():
    rng = np.random.default_rng(0)
    p = torch.as_tensor(rng.integers(-2**63, 2**63 - 1, (60, 2), dtype=np.int64))
    colours = pattern_colours(p)
    order = torch.as_tensor(rng.permutation(60))
    again = pattern_colours(torch.cat([p[order], p[:5]]))  # other order, repeats
    np.testing.assert_array_equal(again[:60], colours[order.numpy()])
    np.testing.assert_array_equal(again[60:], colours[:5])
    # the colour moves with the pattern, not with its region id
    ids, counts = ops.region_ids(p[order])
    keys = measure.region_keys(p[order], ids, counts.numel())
    img = region_image(ids.reshape(6, 10).numpy(), keys.numpy(), boundaries=False)
    expected = np.round(colours[order.numpy()] * 255).astype(np.uint8).reshape(6, 10, 3)
    np.testing.assert_array_equal(img, expected)


def test_int64_and_uint64_keys_give_the_same_colour():
    keys = np.array([-1, 0, 5, -2**63, 2**63 - 1], dtype=np.int64)
    np.testing.assert_array_equal(key_colours(keys), key_colours(keys.view(np.uint64)))
    np.testing.assert_array_equal(key_colours(torch.as_tensor(keys)), key_colours(keys))


def test_palette_is_light_and_spread():
    pal = palette()
    assert pal.shape == (1 << 16, 3) and pal.min() >= 0 and pal.max() <= 1
    assert (pal.max(axis=1) > 0.35).all()            # no near-black: boundaries are dark
    rng = np.random.default_rng(1)
    keys = rng.integers(-2**63, 2**63 - 1, 2000, dtype=np.int64)
    assert np.unique(palette_index(keys)).size > 1900
    # patterns one bit apart get unrelated entries
    base = torch.zeros((64, 1), dtype=torch.int64)
    flipped = base | (torch.ones((64, 1), dtype=torch.int64) << torch.arange(64)[:, None])
    entries = palette_index(measure.pattern_keys(flipped))
    assert np.unique(entries).size >= 60
    assert not (entries == palette_index(measure.pattern_keys(base))[0]).any()


def test_bad_keys_are_refused():
    with pytest.raises(ValueError, match="keys"):
        key_colours(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="patterns"):
        pattern_colours(np.zeros(3, dtype=np.float32))


def _point_colours(net, grid, tile):
    res = analyze_grid(net, grid, tile=tile)
    maps = point_maps(net, grid, res.ids, res.num_regions, tile=tile)
    return region_image(res.ids.numpy(), maps["region_keys"], boundaries=False), res


@pytest.mark.parametrize("tile", [1, 37, 1 << 18])
def test_colours_are_the_same_on_every_tiling(tile):
    net, grid = _net(), CoordinateGrid((23, 29), (-1.0, 1.0))
    whole, _ = _point_colours(net, grid, 1 << 18)
    tiled, res = _point_colours(net, grid, tile)
    np.testing.assert_array_equal(tiled, whole)
    # and equal to the colours of the patterns computed on the whole grid at once
    p = ops.activation_patterns(grid.coords(), net)
    direct = np.round(pattern_colours(p) * 255).astype(np.uint8).reshape(23, 29, 3)
    np.testing.assert_array_equal(whole, direct)


def test_a_pattern_keeps_its_colour_from_record_to_record():
    """Two 'epochs': the second moves one first-layer neuron's boundary. Points whose pattern
    did not change keep their colour (whatever their region id); the others change."""
    grid = CoordinateGrid((32, 32), (-1.0, 1.0))
    before = _net(3)
    b = [t.clone() for t in before.biases]
    b[0][1] += 0.6
    after = ReluNetwork.of(list(before.weights), b)
    c0, r0 = _point_colours(before, grid, 100)
    c1, r1 = _point_colours(after, grid, 100)
    p0 = ops.activation_patterns(grid.coords(), before)
    p1 = ops.activation_patterns(grid.coords(), after)
    same = (p0 == p1).all(dim=1).reshape(32, 32).numpy()
    assert same.any() and (~same).any()
    assert (c0[same] == c1[same]).all()
    assert (c0[~same] != c1[~same]).any(axis=-1).mean() > 0.9
    # the numbering did change for some unchanged points: ids alone could not match them
    assert (r0.ids.numpy()[same] != r1.ids.numpy()[same]).any()


def test_colours_are_the_same_in_another_process():
    keys = [-5, 0, 7, 2**62 + 3, -(2**63)]
    code = ("import numpy as np; from specbias_ext.plots.colours import key_colours; "
            f"print(key_colours(np.array({keys}, dtype=np.int64)).tobytes().hex())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=300, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr
    here = key_colours(np.array(keys, dtype=np.int64)).tobytes().hex()
    assert out.stdout.strip() == here
