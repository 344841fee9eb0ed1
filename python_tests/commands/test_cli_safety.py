"""The CLI never loses or mixes saved work and answers user errors like a CLI: one line
`specbias <command>: error: ...` on stderr and exit status 2, never a traceback."""
import json
import os
import pickle

import pytest
import torch

from specbias_ext.commands.cli import main
from specbias_ext.commands.analyze_outputs import choose_ids
from specbias_ext.nets.models import CoordinateMLP
from specbias_ext.runs.files import load_checkpoint_file

TINY = ["--n", "64", "--epochs", "4", "--record-every", "2", "--depth", "2", "--width", "16",
        "--quiet"]


def _train(out, *extra):
    return main(["train", *TINY, "--out", str(out), *extra])


def _user_error(capsys, command):
    err = capsys.readouterr().err
    assert err.startswith(f"specbias {command}: error: "), err
    assert "Traceback" not in err
    return err


def _snapshot(folder):
    return {p: open(os.path.join(folder, p), "rb").read() for p in sorted(os.listdir(folder))}


@pytest.fixture
def run_dir(tmp_path, capsys):
    out = tmp_path / "R"
    assert _train(out) == 0
    capsys.readouterr()
    return out


def test_train_into_a_folder_holding_a_run_is_refused(run_dir, capsys):
    before = _snapshot(run_dir)
    assert _train(run_dir) == 2
    err = _user_error(capsys, "train")
    assert str(run_dir) in err and "--resume" in err and "--overwrite" in err
    assert _snapshot(run_dir) == before


def test_overwrite_removes_only_the_old_runs_files(run_dir, capsys):
    assert main(["analyze", str(run_dir / "checkpoint.pt"), "--grid", "32"]) == 0
    (run_dir / "notes.txt").write_text("mine")
    assert (run_dir / "R_regions_32.npz").exists()
    assert _train(run_dir, "--overwrite", "--depth", "3") == 0
    names = set(os.listdir(run_dir))
    assert not any("_regions_" in n for n in names), names
    assert (run_dir / "notes.txt").read_text() == "mine"
    config = json.loads((run_dir / "run.json").read_text())
    assert config["model"]["depth"] == 3


def test_run_json_holds_the_whole_configuration(run_dir):
    config = json.loads((run_dir / "run.json").read_text())
    for key in ("model", "data", "grid", "optimizer", "recorder", "seed"):
        assert key in config, key
    assert config["data"]["n"] == 64 and config["grid"]["grid_shape"] == [64]
    assert config["optimizer"]["lr"] == 1e-3 and config["recorder"]["every"] == 2


@pytest.mark.parametrize("change, key", [(["--n", "128"], "data.n"),
                                         (["--range=-1,1"], "data.range"),
                                         (["--lr", "0.01"], "optimizer.lr"),
                                         (["--record-every", "1"], "recorder.every")])
def test_resume_with_another_configuration_lists_the_keys_and_writes_nothing(
        run_dir, capsys, change, key):
    before = _snapshot(run_dir)
    assert _train(run_dir, "--resume", *change) == 2
    err = _user_error(capsys, "train")
    assert key in err
    assert _snapshot(run_dir) == before


def test_resume_with_the_same_configuration_continues(run_dir, capsys):
    assert _train(run_dir, "--resume", "--epochs", "6") == 0
    results = json.loads((run_dir / "results.json").read_text())
    assert results["epoch"] == 6 and len(results["loss"]) == 6


def test_resume_and_overwrite_together_are_refused(run_dir, capsys):
    assert _train(run_dir, "--resume", "--overwrite") == 2
    _user_error(capsys, "train")


@pytest.mark.parametrize("command", ["train", "reproduce"])
def test_unusable_out_is_refused_before_any_work(tmp_path, capsys, command):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out in ("", str(a_file), str(a_file / "sub"), "/proc/specbias-no-such"):
        argv = (["train", *TINY] if command == "train"
                else ["reproduce", "dead-neurons", "--preset", "smoke", "--quiet"])
        assert main([*argv, "--out", out]) == 2, out
        _user_error(capsys, command)
    assert a_file.read_text() == "x"
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_analyze_refuses_an_unwritable_out(run_dir, tmp_path, capsys):
    a_file = tmp_path / "f"
    a_file.write_text("x")
    assert main(["analyze", str(run_dir / "checkpoint.pt"), "--grid", "32",
                 "--out", str(a_file)]) == 2
    _user_error(capsys, "analyze")


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/specbias-payload-ran",))


def _bad_checkpoints(run_dir, tmp_path):
    good = (run_dir / "checkpoint.pt").read_bytes()
    files = {"truncated": good[: len(good) // 3], "empty": b""}
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    files["foreign"] = foreign.read_bytes()
    files["not-torch"] = b"hello, I am text\n" * 20
    files["payload"] = pickle.dumps({"model": _Payload()})
    state = load_checkpoint_file(run_dir / "checkpoint.pt")
    state["model_config"] = dict(state["model_config"], width=32)
    other = tmp_path / "other.pt"
    torch.save(state, other)
    files["other-architecture"] = other.read_bytes()
    return files


def test_bad_checkpoints_are_user_errors(run_dir, tmp_path, capsys):
    if os.path.exists("/tmp/specbias-payload-ran"):
        os.unlink("/tmp/specbias-payload-ran")
    for label, data in _bad_checkpoints(run_dir, tmp_path).items():
        path = tmp_path / f"{label}.pt"
        path.write_bytes(data)
        assert main(["analyze", str(path), "--grid", "32"]) == 2, label
        _user_error(capsys, "analyze")
    assert not os.path.exists("/tmp/specbias-payload-ran")


def test_bit_flipped_checkpoints_never_give_a_traceback(run_dir, tmp_path, capsys):
    good = bytearray((run_dir / "checkpoint.pt").read_bytes())
    path = tmp_path / "flipped.pt"
    step = max(1, len(good) // 25)
    for pos in range(0, len(good), step):
        data = bytearray(good)
        data[pos] ^= 0x5A
        path.write_bytes(bytes(data))
        rc = main(["analyze", str(path), "--grid", "16", "--out", str(tmp_path / "maps")])
        captured = capsys.readouterr()
        assert rc in (0, 2), pos
        assert "Traceback" not in captured.err
        if rc == 2:
            assert captured.err.startswith("specbias analyze: error: ")


@pytest.mark.parametrize("argv", [["--grid", "12x"], ["--grid", "abc"], ["--grid", "1"],
                                  ["--grid", "32", "--device", "tpu"],
                                  ["--grid", "32", "--device", "cuda:99"]])
def test_bad_analyze_flags_are_user_errors(run_dir, capsys, argv):
    assert main(["analyze", str(run_dir / "checkpoint.pt"), *argv]) == 2
    _user_error(capsys, "analyze")


def test_oversized_grid_is_refused_before_allocating(tmp_path, capsys):
    out = tmp_path / "img"
    assert main(["train", "--signal", "noise", "--size", "8", "--epochs", "1", "--depth", "1",
                 "--width", "8", "--record-every", "1", "--quiet", "--out", str(out)]) == 0
    capsys.readouterr()
    # 10^12 points: 8 TB of region ids fit neither in memory nor on this disk.
    assert main(["analyze", str(out / "checkpoint.pt"), "--grid", "1000000x1000000"]) == 2
    err = _user_error(capsys, "analyze")
    assert "GiB" in err and "smaller --grid" in err and "--ids none" in err


def test_region_ids_go_to_memory_then_file_then_are_refused(tmp_path):
    gib = 2**30
    assert choose_ids("auto", 4096, str(tmp_path), available=gib, free_disk=gib) == "memory"
    # 2^28 points: 2 GiB of ids, more than a quarter of 4 GiB: a memory-mapped file instead.
    assert choose_ids("auto", 1 << 28, str(tmp_path), available=4 * gib,
                      free_disk=100 * gib) == "file"
    assert choose_ids("none", 1 << 40, str(tmp_path), available=gib, free_disk=gib) == "none"
    with pytest.raises(ValueError, match="--ids memory"):
        choose_ids("memory", 1 << 28, str(tmp_path), available=4 * gib, free_disk=gib)
    with pytest.raises(ValueError, match="fit neither in memory"):
        choose_ids("auto", 1 << 33, str(tmp_path), available=4 * gib, free_disk=gib)
    # 2^28 points: 2 GiB of ids fit on a 2.5 GiB disk, not with 1 GiB of int32 totals (--lc)
    assert choose_ids("file", 1 << 28, str(tmp_path), available=gib,
                      free_disk=gib * 5 // 2) == "file"
    with pytest.raises(ValueError, match=r"12 bytes"):
        choose_ids("file", 1 << 28, str(tmp_path), available=gib, free_disk=gib * 5 // 2,
                   file_bytes_per_point=12)


def test_version_and_list(capsys):
    from specbias_ext import __version__
    from specbias_ext.experiments.registry import EXPERIMENTS

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"specbias {__version__}"
    assert main(["reproduce", "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(EXPERIMENTS)
    for line, (_, desc) in zip(lines, EXPERIMENTS.values()):
        assert line.endswith(desc)


def test_strict_exit_status_follows_the_claims_of_this_run(monkeypatch, tmp_path, capsys):
    from specbias_ext.experiments import runner

    def fake(held):
        def run(names, *a, **k):
            return {"claims": [{"experiment": n, "id": "c", "held": held} for n in names]
                    + [{"experiment": "other", "id": "x", "held": False}],
                    "held": int(held) * len(names), "total": len(names) + 1}
        return run

    argv = ["reproduce", "angles", "--out", str(tmp_path)]
    monkeypatch.setattr(runner, "reproduce", fake(True))
    assert main(argv + ["--strict"]) == 0
    monkeypatch.setattr(runner, "reproduce", fake(False))
    assert main(argv) == 0
    assert main(argv + ["--strict"]) == 1
    assert "angles/c" in capsys.readouterr().err


def test_library_train_refuses_a_run_dir_holding_a_run(tmp_path):
    from specbias_ext.train.trainer import TrainConfig, train

    coords = torch.linspace(0, 1, 16).reshape(-1, 1)
    target = torch.sin(6 * coords)
    cfg = TrainConfig(epochs=1, quiet=True)
    train(CoordinateMLP("raw", 1, 8, in_dim=1), coords, target, cfg, run_dir=tmp_path)
    (tmp_path / "regions_16.npz").write_bytes(b"old")
    before = _snapshot(tmp_path)
    with pytest.raises(ValueError, match="overwrite=True"):
        train(CoordinateMLP("raw", 1, 8, in_dim=1), coords, target, cfg, run_dir=tmp_path)
    assert _snapshot(tmp_path) == before
    train(CoordinateMLP("raw", 1, 8, in_dim=1), coords, target, cfg, run_dir=tmp_path, overwrite=True)
    assert not (tmp_path / "regions_16.npz").exists()


def test_reproduce_refuses_a_file_where_an_output_folder_goes(tmp_path, capsys):
    (tmp_path / "dead-neurons").write_text("x")
    assert main(["reproduce", "dead-neurons", "--preset", "smoke", "--quiet",
                 "--out", str(tmp_path)]) == 2
    assert "dead-neurons" in _user_error(capsys, "reproduce")
    (tmp_path / "dead-neurons").unlink()
    (tmp_path / "claims.json").mkdir()
    assert main(["reproduce", "dead-neurons", "--preset", "smoke", "--quiet",
                 "--out", str(tmp_path)]) == 2
    assert "claims.json" in _user_error(capsys, "reproduce")
