"""The figure functions: what they show (titles with counts, grid and saturation; axes in
coordinate units), their checks, the animation (one frame per record, stable colours) and the
writing rules (atomic, existing files refused on request)."""
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from specbias_ext.plots import maps
from specbias_ext.plots.fits import fit_1d, reconstruction_2d
from specbias_ext.plots.frame import count_text, grid_frame
from specbias_ext.plots.neurons import first_layer_preactivations, neuron_view
from specbias_ext.plots.output import mp4_available, save_figure
from specbias_ext.plots.run_figures import (lc_values, region_records, regions_over_training_1d,
                                             spread, train_figures)
from specbias_ext.plots.training import (RegionRecord, region_maps_over_training,
                                         write_region_animation)


def _blocks(h, w, size, seed=0):
    """Region ids of size x size blocks and a random key per region."""
    r, c = np.arange(h)[:, None] // size, np.arange(w)[None, :] // size
    ids = r * ((w + size - 1) // size) + c
    keys = np.random.default_rng(seed).integers(-2**63, 2**63 - 1, int(ids.max()) + 1)
    return ids, keys


def _texts(fig: Figure) -> str:
    parts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        parts += [ax.get_title(loc=loc) for loc in ("left", "center", "right")]
        parts += [ax.get_xlabel(), ax.get_ylabel()]
    if fig._suptitle is not None:
        parts.append(fig._suptitle.get_text())
    if getattr(fig, "_supxlabel", None) is not None:
        parts.append(fig._supxlabel.get_text())
    return "\n".join(parts)


def test_region_map_title_axes_and_saturation():
    ids, keys = _blocks(40, 40, 8)
    grid = {"kind": "grid", "shape": [40, 40], "coord_range": [-1.0, 1.0]}
    fig = maps.region_map(ids, keys, grid=grid, label="2x8 ReLU MLP, PE L=3")
    text = _texts(fig)
    assert "2x8 ReLU MLP, PE L=3" in text and "25 regions on a 40x40 grid on [-1, 1)" in text
    assert ">=" not in text and "saturated" not in text
    ax = fig.axes[0]
    assert ax.get_xlim() == (-1.0, 1.0) and sorted(ax.get_ylim()) == [-1.0, 1.0]
    # one region per point: the count is a lower bound and says so
    ids = np.arange(400).reshape(20, 20)
    fig = maps.region_map(ids, np.arange(400), grid={"shape": [20, 20]})
    text = _texts(fig)
    assert ">= 400 regions (saturated)" in text and "finer grid" in text


def test_count_text_marks_saturation_by_the_grid_counts_rule():
    assert count_text(50, 100) == "50 regions"
    assert count_text(51, 100) == ">= 51 regions (saturated)"


def test_region_map_without_keys_says_its_colours_are_not_comparable():
    ids, _ = _blocks(30, 30, 6)
    assert "not comparable" in _texts(maps.region_map(ids))


def test_region_map_overlays():
    ids, keys = _blocks(32, 32, 8)
    x = (np.arange(32) + 0.5) / 32
    sdf = np.hypot(x[:, None] - 0.5, x[None, :] - 0.5) - 0.3
    fig = maps.region_map(ids, keys, target=np.random.default_rng(0).random((32, 32)),
                          level_set=sdf, points=[[0.2, 0.3], [0.7, 0.6]])
    ax = fig.axes[0]
    assert len(ax.images) == 2 and ax.collections          # target over the map, contour, dots
    with pytest.raises(ValueError, match="level_set"):
        maps.region_map(ids, keys, level_set=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="points"):
        maps.region_map(ids, keys, points=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="keys"):
        maps.region_map(ids, keys[:3])
    with pytest.raises(ValueError, match="ids"):
        maps.region_map(np.zeros((3, 3), dtype=np.float32))


def test_boundaries_darken_only_points_next_to_another_region():
    ids, keys = _blocks(40, 40, 10)
    img = maps.region_image(ids, keys)
    edge = maps.boundary_mask(ids)
    plain = maps.region_image(ids, keys, boundaries=False)
    assert (img[~edge] == plain[~edge]).all() and (img[edge] < plain[edge]).all()
    small = np.arange(100).reshape(10, 10)                 # one point per region: no lines
    assert (maps.region_image(small, np.arange(100)) ==
            maps.region_image(small, np.arange(100), boundaries=False)).all()


def test_hamming_map_per_axis_and_sum():
    d0 = np.ones((9, 12), dtype=np.int16)
    d1 = 2 * np.ones((10, 11), dtype=np.int16)
    fig = maps.hamming_map([d0, d1], label="net")
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == 3
    assert images[0].mask[-1].all() and (images[0][:-1] == 1).all()
    assert images[1].mask[:, -1].all() and (images[1][:, :-1] == 2).all()
    assert images[2][0, 0] == 3 and images[2][-1, 0] == 2 and images[2][0, -1] == 1
    assert "Hamming distance (bits)" in _texts(fig)
    with pytest.raises(ValueError, match="neighbours"):
        maps.hamming_map([d0, d0])


def test_boundary_slope_gradient_and_coherence_maps():
    d = np.full((16, 16), 0.01)
    d[0, 0] = np.inf
    fig = maps.boundary_distance_map(d, label="net")
    assert "1 points with no boundary" in _texts(fig)
    assert type(fig.axes[0].images[0].norm).__name__ == "LogNorm"
    assert isinstance(maps.slope_map(np.random.default_rng(0).random((8, 8))), Figure)
    assert isinstance(maps.grad_norm_map(np.ones((8, 8))), Figure)
    ids, _ = _blocks(16, 16, 4)
    ids[0, 0] = ids.max() + 1                               # a one-point region
    coh = np.linspace(0.5, 1.0, ids.max() + 1)
    fig = maps.coherence_map(coh, ids)
    shown = fig.axes[0].images[0].get_array()
    assert shown.mask[0, 0] and abs(shown[5, 5] - coh[ids[5, 5]]) < 1e-12
    assert "hold one point" in _texts(fig)
    with pytest.raises(ValueError, match="coherence"):
        maps.coherence_map(coh[:3], ids)


def test_local_complexity_map_colourbar_title_and_units():
    counts = np.zeros((12, 16, 2), dtype=np.int32)
    counts[3:5, :, 0] = 2
    counts[:, 7, 1] = 3                                       # the total peaks at 5 at [3, 7]
    grid = {"kind": "grid", "shape": [12, 16], "coord_range": [-1.0, 1.0]}
    fig = maps.local_complexity_map(counts, radius=0.125, grid=grid, label="net")
    ax = next(a for a in fig.axes if a.images)
    image = ax.images[0]
    assert image.get_array()[3, 7] == 5 and image.get_array()[0, 0] == 0
    assert (image.norm.vmin, image.norm.vmax) == (0.0, 5.0)
    assert image.get_extent()[0] == -1.0 and image.get_extent()[1] == 1.0  # coordinate units
    assert len(fig.axes) == 2                                 # the map and its colourbar
    text = _texts(fig)
    assert "local complexity (sampled, r = 0.125)" in text
    assert f"mean {counts.sum(axis=2).mean():.3g}, max 5 neurons per point" in text
    assert "neurons with a boundary within r" in text and "12x16" in text
    first = maps.local_complexity_map(counts.sum(axis=2), radius=0.1, method="first_order")
    assert "first-order" in _texts(first)
    with pytest.raises(ValueError, match="counts"):
        maps.local_complexity_map(np.ones((4, 4)), radius=0.1)


def test_local_complexity_line_holds_each_count_up_to_the_next_point():
    counts = np.zeros((8, 2), dtype=np.int32)
    counts[3] = (1, 2)                                        # the total is 3 at point 3 only
    counts[7, 0] = 1                                          # and 1 at the last point
    grid = {"grid_shape": [8], "coord_range": [-1.0, 1.0]}
    fig = maps.local_complexity_line(counts, radius=0.25, grid=grid, label="net")
    ax = fig.axes[0]
    x, y = ax.lines[0].get_data()
    assert list(x) == [-1.0 + 0.25 * i for i in range(9)]     # to the grid's end
    assert list(y) == [0, 0, 0, 3, 0, 0, 0, 1, 1]
    assert ax.get_xlim() == (-1.0, 1.0)
    text = _texts(fig)
    assert "net: local complexity (sampled, r = 0.25)" in text
    assert "mean 0.5, max 3 neurons per point on a 8-point grid on [-1, 1)" in text
    assert "neurons with a boundary within r" in text
    with pytest.raises(ValueError, match="counts"):
        maps.local_complexity_line(np.ones((4, 4, 2), dtype=np.int32), radius=0.1)


def _lc_records(steps, radius):
    return [{"epoch": s, "regions": 3, "lc": {"mean": 1.0, "radius": radius,
                                              "method": "sampled"}} for s in steps]


def test_train_figures_draw_the_last_recorded_lc_with_its_radius():
    arrays = {"lc_e000000": np.zeros((6, 5), dtype=np.int32),
              "lc_e000004": np.full((6, 5), 2, dtype=np.int32), "region_ids_e000004": 0}
    lc = lc_values(arrays)
    assert sorted(lc) == [0, 4]
    records = _lc_records([0, 4], 0.2) + [{"epoch": 6, "regions": 3}]   # the last without lc
    grid = {"grid_shape": [6, 5], "coord_range": [0.0, 1.0]}
    figs = train_figures(grid=grid, label="net", records=records, regions=[], lc=lc)
    image = next(a for a in figs["lc_map"].axes if a.images).images[0]
    assert (image.get_array() == 2).all()                     # epoch 4's values
    text = _texts(figs["lc_map"])
    assert "net, epoch 4: local complexity (sampled, r = 0.2)" in text
    line = train_figures(grid={"grid_shape": [5]}, label="", records=_lc_records([2], 0.1),
                         regions=[], lc={2: np.arange(5, dtype=np.int32)})["lc_map"]
    assert list(line.axes[0].lines[0].get_data()[1]) == [0, 1, 2, 3, 4, 4]
    assert "lc_map" not in train_figures(grid=grid, label="", records=_lc_records([0], 0.2),
                                         regions=[])
    assert "lc_map" not in train_figures(grid=grid, label="", records=records[-1:],
                                         regions=[], lc=lc)   # no record holds a summary


def test_first_layer_preactivations_are_the_affine_map_on_the_display_grid():
    w, b = np.array([[1.0, -2.0], [0.5, 0.5]]), np.array([0.1, -0.3])
    grid = {"shape": [10, 20], "coord_range": [-1.0, 1.0]}
    xs, ys, z = first_layer_preactivations(w, b, grid)
    assert z.shape == (2, 10, 20)
    c0, c1 = ys[3], xs[7]
    np.testing.assert_allclose(z[:, 3, 7], w @ np.array([c0, c1]) + b)
    fig = neuron_view({(0, 1): np.ones((10, 20), bool), (1, 0): np.zeros((10, 20), bool)},
                      weight=w, bias=b, grid=grid, label="net")
    text = _texts(fig)
    assert "black: neuron 1" in text and "on at 100%" in text and "on at 0%" in text
    with pytest.raises(ValueError, match="first layer"):
        first_layer_preactivations(np.ones((2, 3)), None, grid)


def test_fit_1d_names_network_grid_and_count():
    t = np.arange(64) / 64
    ids = (t * 5).astype(int)
    fig = fit_1d(t, np.sin(t), np.cos(t), ids, label="4x128 ReLU MLP, PE L=4",
                 grid={"shape": [64], "coord_range": [0, 1]})
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "target" in labels and "fit (4x128 ReLU MLP, PE L=4)" in labels
    assert ax.get_title(loc="left") == "5 regions on a 64-point grid on [0, 1)"


def test_reconstruction_panels():
    rng = np.random.default_rng(0)
    fig = reconstruction_2d(rng.random((12, 12, 1)), rng.random((12, 12, 1)), psnr=12.5)
    assert len([a for a in fig.axes if a.images]) == 3 and "PSNR 12.50 dB" in _texts(fig)
    with pytest.raises(ValueError, match="fit, target"):
        reconstruction_2d(np.zeros((3, 3)), np.zeros((3, 4)))


def _records(n=4, side=24):
    out = []
    for k in range(n):
        ids, keys = _blocks(side, side, max(2, 12 - 2 * k), seed=k)
        keys[0] = 42                              # region 0 has the same pattern throughout
        out.append(RegionRecord(10 * k, ids, keys))
    return out


def test_animation_has_one_frame_per_record_with_stable_colours(tmp_path):
    records = _records(5)
    paths = write_region_animation(records, str(tmp_path / "a"), label="net")
    assert paths == [str(tmp_path / "a.gif")]
    with Image.open(paths[0]) as im:
        assert im.n_frames == len(records)
        colours = []
        for k in range(im.n_frames):
            im.seek(k)
            rgb = np.asarray(im.convert("RGB"))
            colours.append(rgb)
    # the pixel at the centre of region 0 (top-left block) keeps its colour in every frame
    h, w, _ = colours[0].shape
    diffs = [np.abs(c.astype(int) - colours[0].astype(int)).sum(axis=-1) for c in colours]
    unchanged = np.logical_and.reduce([d == 0 for d in diffs])
    assert unchanged.mean() > 0.3            # axes, ticks and region 0 stay put
    assert any((d > 0).mean() > 0.05 for d in diffs[1:])   # the other regions do change
    with pytest.raises(ValueError, match="exists"):
        write_region_animation(records, str(tmp_path / "a"), overwrite=False)


def test_regions_over_training_panels_and_1d_strips():
    fig = region_maps_over_training(_records(7), ncols=4, label="net")
    shown = [ax for ax in fig.axes if ax.get_visible() and ax.images]
    assert len(shown) == 7 and "epoch 60" in _texts(fig)
    strips = [RegionRecord(k, (np.arange(50) // (10 - k)), None) for k in range(4)]
    fig = regions_over_training_1d(strips, label="net")
    assert fig.axes[0].images[0].get_array().shape[:2] == (4, 50)
    assert spread(list(range(30)), 5) == [0, 7, 14, 22, 29]


def test_region_records_read_the_run_arrays_by_step():
    ids, keys = _blocks(8, 8, 4)
    arrays = {"region_ids_e000020": ids, "region_keys_e000020": keys,
              "region_ids_e000005": ids, "loss": np.zeros(3),
              "raw__region_ids_e000000": ids}
    recs = region_records(arrays)
    assert [r.step for r in recs] == [5, 20] and recs[0].keys is None
    assert (recs[1].keys == keys).all()
    assert [r.step for r in region_records(arrays, "raw__")] == [0]


def test_save_figure_formats_and_refusal(tmp_path):
    fig = maps.slope_map(np.ones((4, 4)))
    paths = save_figure(fig, str(tmp_path / "f"), ["png", "pdf"])
    assert open(paths[0], "rb").read(4) == b"\x89PNG" and open(paths[1], "rb").read(4) == b"%PDF"
    before = open(paths[0], "rb").read()
    with pytest.raises(ValueError, match="--overwrite"):
        save_figure(maps.slope_map(np.zeros((4, 4))), str(tmp_path / "f"), ["png"],
                    overwrite=False)
    assert open(paths[0], "rb").read() == before
    with pytest.raises(ValueError, match="jpeg"):
        save_figure(fig, str(tmp_path / "g"), ["jpeg"])


@pytest.mark.skipif(mp4_available(), reason="checks the message shown without ffmpeg")
def test_mp4_without_ffmpeg_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="ffmpeg"):
        write_region_animation(_records(2), str(tmp_path / "a"), formats=["mp4"])


def test_grid_frames():
    plane = grid_frame({"kind": "plane", "shape": [4, 5], "origin": [0, 0, 0.5],
                        "u": [0.8, 0, 0], "v": [0, 0.6, 0.8]})
    assert plane.text == "4x5 slice at (0, 0, 0.5)"
    assert plane.extent == (0.0, 1.0, 0.8, 0.0)     # distances along v across, u down
    assert grid_frame({"kind": "index", "shape": [4, 5]}).extent == (0.0, 5.0, 4.0, 0.0)
    with pytest.raises(ValueError, match="1D or 2D"):
        grid_frame({"shape": [2, 2, 2]})
