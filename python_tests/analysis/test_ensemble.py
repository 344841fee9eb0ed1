"""Ensembles (analysis.analyze_ensemble, `specbias analyze CKPT CKPT ...`): the members shared out
over 2 gloo processes on 127.0.0.1 (started here, once for every distributed case) against one
process and against each member analysed alone; failures; the CLI and its errors."""
import json
import math
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

import ensemble_dist_worker as W
from output_values import provenance_of, snapshot
from specbias_ext.stats import intervals as statistics
from specbias_ext.analysis import (
    MemberFailed, RankFailed, analyze_ensemble, analyze_grid, analyze_stream,
)
from specbias_ext.commands.cli import main
from specbias_ext.commands.analyze_outputs import member_labels
from specbias_ext.data.grids import CoordinateGrid
from specbias_ext.nets.models import CoordinateMLP
from specbias_ext.nets.network import relu_network

pytestmark = pytest.mark.usefixtures("one_thread")

NAMES = ["member_0", "member_1", "member_2"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def save_checkpoint(folder, model, grid_shape=None, coord_range=(0.0, 1.0)):
    """A checkpoint in the format of `specbias train` (and its grid.json)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "checkpoint.pt")
    torch.save({"model_config": model.describe(), "model": model.state_dict()}, path)
    if grid_shape is not None:
        with open(os.path.join(folder, "grid.json"), "w") as f:
            json.dump({"grid_shape": list(grid_shape), "coord_range": list(coord_range)}, f)
    return path


def cli_checkpoints(root):
    """Three train-format checkpoints, all named checkpoint.pt: seeds x encodings."""
    return [save_checkpoint(os.path.join(root, enc, seed), W.model(k))
            for k, (enc, seed) in enumerate([("pe2", "s0"), ("raw", "s0"), ("pe2", "s1")])]


CLI_FLAGS = ["--grid", "20x16", "--range=-1,1", "--tile", "64"]


# ------------------------------------------------------------------- 2 ranks, one spawn


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ens")
    ckpts = cli_checkpoints(str(tmp / "ckpt"))
    bad = [ckpts[0], str(tmp / "corrupt.pt"), ckpts[2]]
    (tmp / "corrupt.pt").write_bytes(b"not a checkpoint at all\n" * 8)
    jobs = [("ensemble", {"out": str(tmp / "dist"), "marks": str(tmp / "marks")}),
            ("fail", {"out": str(tmp / "fail")}),
            ("cli", ["analyze", *ckpts, *CLI_FLAGS, "--out", str(tmp / "cli")]),
            ("cli", ["analyze", *bad, *CLI_FLAGS, "--out", str(tmp / "cli_bad")])]
    results = tmp / "results"
    results.mkdir()
    mp.spawn(W.run, args=(2, free_port(), jobs, str(results)), nprocs=2, join=True)
    ranks = [torch.load(results / f"{r}.pt", weights_only=False) for r in range(2)]
    return tmp, ckpts, ranks


def one_process_ensemble(out):
    return analyze_ensemble([W.model(k) for k in range(3)], W.grid(), out=str(out), **W.KWARGS)


def test_two_ranks_write_what_one_process_writes(two_ranks, tmp_path):
    tmp, _, ranks = two_ranks
    for r in range(2):
        assert "error" not in ranks[r][0], ranks[r][0].get("trace")
    one = one_process_ensemble(tmp_path / "one")
    assert ranks[0][0]["summaries"] == one and ranks[1][0]["summaries"] == one
    dist_files, one_files = snapshot(tmp / "dist"), snapshot(tmp_path / "one")
    assert sorted(dist_files) == sorted(
        [f"{n}{ext}" for n in NAMES for ext in (".json", ".npz", "_ids.npy")] + ["ensemble.json"])
    assert dist_files == one_files   # by their values, ensemble.json included
    for name in ("ensemble.json", f"{NAMES[1]}.json"):
        assert provenance_of(tmp / "dist" / name)["processes"] == 2
        assert provenance_of(tmp_path / "one" / name)["processes"] == 1


def test_each_member_equals_its_analysis_alone(two_ranks, tmp_path):
    tmp, _, ranks = two_ranks
    dist_files = snapshot(tmp / "dist")
    for k, name in enumerate(NAMES):
        alone = tmp_path / f"alone{k}"
        res = analyze_grid(W.model(k), W.grid(), out=str(alone), name=name, **W.KWARGS)
        assert ranks[0][0]["summaries"][k] == res.summary()
        for fname, data in snapshot(alone).items():
            assert dist_files[fname] == data, fname
        ids = np.load(tmp / "dist" / f"{name}_ids.npy")
        assert ids.shape == (23, 17) and int(ids.max()) + 1 == res.num_regions


def test_members_are_loaded_round_robin_on_their_own_rank(two_ranks):
    tmp, _, _ = two_ranks
    # member 0 on rank 0, member 1 on rank 1 (member 2 is a model, not a loader)
    assert sorted(os.listdir(tmp / "marks")) == ["member0.rank0", "member1.rank1"]


def test_ensemble_json_holds_members_and_their_statistics(two_ranks):
    tmp, _, _ = two_ranks
    ens = json.loads((tmp / "dist" / "ensemble.json").read_text())
    assert [m["name"] for m in ens["members"]] == NAMES
    assert ens["grid"] == W.grid().describe()
    summaries = [json.loads((tmp / "dist" / f"{n}.json").read_text()) for n in NAMES]
    for m, s in zip(ens["members"], summaries):
        assert m["files"] == {"summary": f"{m['name']}.json", "arrays": f"{m['name']}.npz",
                              "ids": f"{m['name']}_ids.npy"}
        s.pop("ids_file")
        s.pop("provenance")
        assert m["summary"] == s
    stats = ens["statistics"]
    assert "boundary_distance_mean" not in stats    # no member measured it
    reads = {"regions": lambda s: s["regions"],
             "largest_region_frac": lambda s: s["largest_region_frac"],
             "neighbor_boundary_frac": lambda s: s["neighbor_boundary_frac"],
             "dead_neurons": lambda s: s["dead_neurons"],
             "always_on_neurons": lambda s: s["always_on_neurons"],
             "grad_norm_mean": lambda s: s["grad_norm"]["mean"]}
    assert set(stats) == set(reads)
    for key, read in reads.items():
        values = [read(s) for s in summaries]
        effect = statistics.difference(values)
        st = stats[key]
        assert st["values"] == values and st["n"] == 3 and st["level"] == 0.95
        assert st["mean"] == pytest.approx(sum(values) / 3, rel=1e-12)
        assert (st["mean"], st["low"], st["high"]) == (effect.estimate, effect.low, effect.high)
        mean = sum(values) / 3
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 2)
        assert st["sd"] == pytest.approx(sd, rel=1e-12, abs=1e-15)
        half = statistics.t_quantile(0.975, 2) * sd / math.sqrt(3)
        assert st["low"] == pytest.approx(mean - half, rel=1e-9, abs=1e-12)
        assert st["high"] == pytest.approx(mean + half, rel=1e-9, abs=1e-12)
    assert len(set(stats["regions"]["values"])) > 1   # the members do differ


def test_a_member_failing_on_rank_1_fails_every_rank(two_ranks):
    tmp, _, ranks = two_ranks
    mine, other = ranks[1][1], ranks[0][1]
    assert mine["error"] == "ValueError: member 1 is broken on purpose"
    assert other["error"].startswith("MemberFailed: rank 1 failed on member 1 ('member_1')")
    assert "member 1 is broken on purpose" in other["error"]
    assert other["attrs"] == {"rank": 1, "member": 1, "name": "member_1"}
    assert issubclass(MemberFailed, RankFailed)   # code catching RankFailed catches it too
    # member 0 (rank 0, same round) is complete; member 2 (next round) was never started; no
    # ensemble.json and nothing half-written (no temporary file either)
    assert sorted(snapshot(tmp / "fail")) == ["member_0.json", "member_0.npz"]


def test_cli_under_two_ranks_equals_one_process(two_ranks, tmp_path, capsys):
    tmp, ckpts, ranks = two_ranks
    assert [ranks[r][2]["rc"] for r in range(2)] == [0, 0], [ranks[r][2]["err"] for r in (0, 1)]
    one = tmp_path / "cli_one"
    assert main(["analyze", *ckpts, *CLI_FLAGS, "--out", str(one)]) == 0
    assert "3 checkpoints on a 20x16 grid" in capsys.readouterr().out
    files = snapshot(one)
    assert files == snapshot(tmp / "cli")
    tag = "20x16_range-1.0_1.0"      # the range is not the training range (none saved: 0,1)
    assert sorted(files) == sorted([f"{lab}_regions_{tag}{ext}" for lab in ("pe2_s0", "raw_s0",
                                                                           "pe2_s1")
                                    for ext in (".json", ".npz")] +
                                   [f"ensemble_regions_{tag}.json"])


def test_cli_bad_checkpoint_under_two_ranks_is_a_user_error_on_every_rank(two_ranks):
    tmp, _, ranks = two_ranks
    own, other = ranks[1][3], ranks[0][3]
    assert own["rc"] == 2 and other["rc"] == 2, (own, other)
    assert own["err"].startswith("specbias analyze: error: checkpoint ")
    assert "corrupt.pt" in own["err"] and "Traceback" not in own["err"]
    assert other["err"].startswith("specbias analyze: error: rank 1 failed on member 1")
    assert "corrupt.pt" in other["err"] and "Traceback" not in other["err"]
    assert not (tmp / "cli_bad" / "ensemble_regions_20x16_range-1.0_1.0.json").exists()


# ------------------------------------------------------------------- one process


def test_one_process_members_match_analysis_alone_with_models_of_every_kind(tmp_path):
    grid = CoordinateGrid((19, 11), (0.0, 1.0))
    mlp = CoordinateMLP("pe:2", depth=2, width=12, in_dim=2, seed=7)
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 10), nn.LeakyReLU(0.1),
                        nn.Linear(10, 1))
    net = relu_network(seq).detach()
    names = ["mlp", "seq", "net"]
    out = tmp_path / "ens"
    summaries = analyze_ensemble([mlp, lambda: seq, net], grid, out=out, names=names, tile=40,
                                 boundary=True, sources=["a", None, "c"])
    ens = json.loads((out / "ensemble.json").read_text())
    assert [m.get("source") for m in ens["members"]] == ["a", None, "c"]
    assert ens["statistics"]["boundary_distance_mean"]["n"] == 3
    assert "grad_norm_mean" not in ens["statistics"]
    files = snapshot(out)
    for k, (member, name) in enumerate(zip([mlp, seq, net], names)):
        alone = tmp_path / name
        res = analyze_grid(member, grid, out=str(alone), name=name, tile=40, boundary=True,
                           ids="none")
        assert summaries[k] == res.summary()
        for fname, data in snapshot(alone).items():
            assert files[fname] == data


def _local_complexity_reads(depth):
    """How to read each local-complexity quantity of ensemble.json from a member's summary."""
    def layer(l):
        return lambda lc: lc["layer_means"][l] if l < len(lc["layer_means"]) else None
    return {"local_complexity_mean": lambda lc: lc["mean"],
            "local_complexity_median": lambda lc: lc["median"],
            "local_complexity_total_fraction_mean": lambda lc: lc["total_fraction_mean"],
            **{f"local_complexity_layer_{l}_mean": layer(l) for l in range(depth)}}


@pytest.mark.parametrize("method, steps", [("sampled", 1), ("first_order", 2.5)])
def test_local_complexity_of_each_member_and_across_them(tmp_path, method, steps):
    grid = W.grid()
    radius = steps * grid.step
    out = tmp_path / "ens"
    summaries = analyze_ensemble([W.model(k) for k in range(3)], grid, out=out, tile=50,
                                 lc_radius=radius, lc_method=method)
    alone = [analyze_stream(W.model(k), grid, tile=50, ids="none", lc_radius=radius,
                            lc_method=method).summary()["local_complexity"] for k in range(3)]
    for k, lc in enumerate(alone):
        assert summaries[k]["local_complexity"] == lc
        assert (lc["radius"], lc["method"], lc["points"]) == (radius, method, grid.num_points)
    assert [len(lc["layer_means"]) for lc in alone] == [2, 2, 3]   # member 2 is deeper
    stats = json.loads((out / "ensemble.json").read_text())["statistics"]
    reads = _local_complexity_reads(3)
    assert {k for k in stats if k.startswith("local_complexity")} == set(reads)
    for key, read in reads.items():
        values = [read(lc) for lc in alone]
        present = [v for v in values if v is not None]
        effect = statistics.difference(present)
        _, sd = statistics.mean_sd(present)
        st = stats[key]
        assert st["values"] == values and st["n"] == len(present) and st["level"] == 0.95
        assert (st["mean"], st["low"], st["high"]) == (effect.estimate, effect.low, effect.high)
        assert st["sd"] == (sd if len(present) > 1 else None)
    assert stats["local_complexity_layer_2_mean"]["n"] == 1     # only member 2 has layer 2
    assert stats["local_complexity_layer_2_mean"]["low"] is None
    assert stats["local_complexity_mean"]["low"] < stats["local_complexity_mean"]["high"]
    assert len(set(stats["local_complexity_mean"]["values"])) > 1   # the members do differ


def test_one_process_failure_raises_and_writes_no_ensemble_file(tmp_path):
    out = tmp_path / "f"
    with pytest.raises(ValueError, match="broken on purpose"):
        analyze_ensemble([W.model(0), W.broken_loader, W.model(2)], W.grid(), out=out, tile=50)
    assert sorted(snapshot(out)) == ["member_0.json", "member_0.npz"]


def test_api_refuses_bad_arguments(tmp_path):
    g, m = W.grid(), W.model(0)
    out = str(tmp_path / "o")
    cases = [
        (dict(members=[]), ValueError, "at least one"),
        (dict(members=[m, 3]), TypeError, r"members\[1\]"),
        (dict(members=[m, m], names=["A", "a"]), ValueError, "ignoring case"),
        (dict(members=[m, m], names=["a"]), ValueError, "one name per member"),
        (dict(members=[m], names=["ensemble"]), ValueError, "ensemble file"),
        (dict(members=[m], names=["sub/a"]), ValueError, "plain file name"),
        (dict(members=[m], names=[".a"]), ValueError, "plain file name"),
        (dict(members=[m], ids="memory"), ValueError, "'none' or 'file'"),
        (dict(members=[m], tile=0), ValueError, "tile"),
        (dict(members=[m], sources=["a", "b"]), ValueError, "sources"),
        (dict(members=[m], lc_radius=0.0), ValueError, "lc_radius"),
        (dict(members=[m], lc_radius=0.1, lc_method="exact"), ValueError, "lc_method"),
    ]
    for kw, exc, match in cases:
        with pytest.raises(exc, match=match):
            analyze_ensemble(kw.pop("members"), g, out=out, **kw)
    assert not os.path.exists(out)          # refused before anything was written
    with pytest.raises(TypeError, match="loader returned int"):
        analyze_ensemble([lambda: 3], g, out=out)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        analyze_ensemble([m], g, out=str(tmp_path / "file"))


def test_member_labels_tell_checkpoints_apart():
    assert member_labels(["runs/pe4/s0/checkpoint.pt", "runs/pe4/s1/checkpoint.pt"]) == \
        ["s0", "s1"]
    assert member_labels(["runs/pe/s0/checkpoint.pt", "runs/raw/s0/checkpoint.pt"]) == \
        ["pe_s0", "raw_s0"]
    assert member_labels(["x/m1.pt", "x/m2.pth"]) == ["m1", "m2"]
    assert member_labels(["/r/a/m.pt", "/r/b/m.pth"]) == ["a_m", "b_m"]
    assert member_labels(["z/ensemble/checkpoint.pt", "z/other/checkpoint.pt"]) == \
        ["z_ensemble", "z_other"]
    assert member_labels([".hidden/checkpoint.pt", "b/checkpoint.pt"]) == ["hidden", "b"]
    for paths in (["/t/A/checkpoint.pt", "/t/a/checkpoint.pt"],
                  ["/a_b/c/checkpoint.pt", "/a/b_c/checkpoint.pt"]):
        labels = member_labels(paths)
        assert len({lab.casefold() for lab in labels}) == 2, labels


def _err(capsys):
    err = capsys.readouterr().err
    assert err.startswith("specbias analyze: error: ") and "Traceback" not in err, err
    return err


def test_cli_several_checkpoints_default_grid_and_errors(tmp_path, capsys):
    shape = (14, 12)
    ckpts = [save_checkpoint(str(tmp_path / "runs" / f"s{k}"), W.model(k), shape, (-1.0, 1.0))
             for k in range(2)]
    out = tmp_path / "out"
    assert main(["analyze", *ckpts, "--tile", "30", "--out", str(out)]) == 0
    assert "2 checkpoints on a 14x12 grid" in capsys.readouterr().out
    files = snapshot(out)
    assert sorted(files) == ["ensemble_regions_14x12.json", "s0_regions_14x12.json",
                             "s0_regions_14x12.npz", "s1_regions_14x12.json",
                             "s1_regions_14x12.npz"]
    for k, label in enumerate(["s0", "s1"]):   # the saved grid and range were used
        alone = tmp_path / f"alone{k}"
        analyze_grid(W.model(k), CoordinateGrid(shape, (-1.0, 1.0)), tile=30, ids="none",
                     out=str(alone), name=f"{label}_regions_14x12")
        for fname, data in snapshot(alone).items():
            assert files[fname] == data
    ens = json.loads(files["ensemble_regions_14x12.json"])
    assert [m["source"] for m in ens["members"]] == ckpts

    missing = str(tmp_path / "runs" / "s9" / "checkpoint.pt")
    nowhere = tmp_path / "nowhere"
    assert main(["analyze", ckpts[0], missing, ckpts[1], "--out", str(nowhere)]) == 2
    assert "s9" in _err(capsys) and not nowhere.exists()
    assert main(["analyze", ckpts[0], ckpts[0], "--out", str(nowhere)]) == 2
    assert "given twice" in _err(capsys)
    assert main(["analyze", *ckpts]) == 2
    assert "--out" in _err(capsys)
    assert main(["analyze", *ckpts, "--out", str(nowhere), "--ids", "memory"]) == 2
    assert "--ids memory" in _err(capsys)
    other = save_checkpoint(str(tmp_path / "runs" / "s2"), W.model(2), (10, 10), (-1.0, 1.0))
    assert main(["analyze", *ckpts, other, "--out", str(nowhere)]) == 2
    assert "different grids" in _err(capsys)
    assert main(["analyze", *ckpts, "--grid", "64", "--out", str(nowhere)]) == 2
    assert "2D coordinates" in _err(capsys)
    assert not (nowhere / "ensemble_regions_64.json").exists()


def test_cli_several_whole_modules(tmp_path, capsys):
    torch.manual_seed(3)
    mods = [nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1)) for _ in range(2)]
    paths = []
    for k, mod in enumerate(mods):
        paths.append(str(tmp_path / f"trunk{k}.pt"))
        torch.save(mod, paths[-1])
    out = tmp_path / "o"
    assert main(["analyze", *paths, "--whole-module", "--grid", "6x5x4", "--tile", "50",
                 "--ids", "file", "--out", str(out)]) == 0, capsys.readouterr().err
    files = snapshot(out)
    for k, mod in enumerate(mods):
        alone = tmp_path / f"alone{k}"
        analyze_grid(relu_network(mod).detach(), CoordinateGrid((6, 5, 4)), tile=50, ids="file",
                     out=str(alone), name=f"trunk{k}_regions_6x5x4")
        got = snapshot(alone)
        assert len(got) == 3
        for fname, data in got.items():
            assert files[fname] == data
    plane = ["--whole-module", "--grid", "8x6", "--slice", "0,0,0.5;1,0,0;0,1,0"]
    assert main(["analyze", *paths, *plane, "--out", str(out)]) == 0, capsys.readouterr().err
    [found] = sorted(out.glob("ensemble_regions_8x6_slice-*.json"))   # the plane's hash
    tag = found.stem[len("ensemble_regions_"):]
    ens = json.loads(found.read_text())
    assert [m["name"] for m in ens["members"]] == [f"trunk0_regions_{tag}",
                                                  f"trunk1_regions_{tag}"]
    assert ens["grid"]["kind"] == "plane"
    flat = ["--whole-module", "--grid", "8x6", "--slice", "0,0;1,0;0,1"]
    assert main(["analyze", *paths, *flat, "--out", str(out)]) == 2
    assert "3D coordinates" in _err(capsys)
