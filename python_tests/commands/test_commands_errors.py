"""Every CLI failure a user can cause is one line `specbias <cmd>: error: ...` (exit 2) naming the
argument or path; sizes are refused before anything is allocated; a diverging or interrupted
run leaves a folder the printed command continues or replaces."""
import errno
import json
import os
import pickle
import resource
import shlex
import subprocess
import sys

import pytest
import torch

from paths import REPO_ROOT
from specbias_ext.commands.cli import main
from specbias_ext.runs import files as run_files
from specbias_ext.train import trainer

ROOT = REPO_ROOT
pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["--n", "32", "--depth", "1", "--width", "8", "--quiet"]


def _one_line_error(capsys, command, *needles):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"specbias {command}: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, err)
    return lines[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ok"
    assert main(["train", *TINY, "--epochs", "2", "--out", str(out)]) == 0
    return out


def _cli(*argv, limits=None, timeout=180):
    """The CLI in a fresh process (resource limits set in it before it starts)."""
    def preexec():
        for which, value in (limits or {}).items():
            resource.setrlimit(which, (value, value))
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "specbias_ext", *argv], env=env, text=True,
                          capture_output=True, timeout=timeout, preexec_fn=preexec)


# ---------------------------------------------------------------- values named by their flag

def test_argparse_errors_print_one_usage_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--epochs", "0"])
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("usage: specbias train")
    assert lines[1].startswith("specbias train: error: argument --epochs: ") and ">= 1" in lines[1]


@pytest.mark.parametrize("flag, value", [("--seed", str(2**70)), ("--seed", "-1"),
                                         ("--epochs", "0"), ("--lr", "nan"), ("--lr", "0"),
                                         ("--n", "1"), ("--batch", "0")])
def test_train_values_out_of_range_name_the_flag(capsys, tmp_path, flag, value):
    with pytest.raises(SystemExit) as exc:
        main(["train", *TINY, flag, value, "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert f"argument {flag}: " in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("rng", ["0,1e308", "-1e39,0"])
def test_analyze_range_beyond_float32_is_refused(run, capsys, rng):
    assert main(["analyze", str(run / "checkpoint.pt"), "--grid", "16", f"--range={rng}"]) == 2
    _one_line_error(capsys, "analyze", "--range", "float32")


def test_analyze_range_no_float_carries_for_the_checkpoints_encoding(tmp_path, capsys):
    out = tmp_path / "pe"
    assert main(["train", *TINY, "--epochs", "1", "--encoding", "pe:3", "--out", str(out)]) == 0
    assert main(["analyze", str(out / "checkpoint.pt"), "--grid", "16", "--range=0,1e30"]) == 2
    _one_line_error(capsys, "analyze", "--range 0.0,1e+30", "no float carries those phases")
    assert main(["analyze", str(out / "checkpoint.pt"), "--grid", "16", "--range=0,100"]) == 0


def test_train_range_whose_outputs_overflow_is_refused(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", *TINY, "--epochs", "1", "--range", "0,1e30", "--out", str(out)]) == 2
    _one_line_error(capsys, "train", "--range 0,1e30", "overflow")


@pytest.mark.parametrize("command, spec", [("train", "pe:100"), ("train", "rff:4:1e15"),
                                           ("analyze", "pe:100")])
def test_encodings_no_float_carries_are_refused(tmp_path, capsys, command, spec):
    if command == "train":
        argv = ["train", *TINY, "--epochs", "1", "--encoding", spec, "--out", str(tmp_path / "t")]
    else:
        path = tmp_path / "m.pt"
        torch.save(torch.nn.Sequential(torch.nn.Linear(200, 4), torch.nn.ReLU(),
                                       torch.nn.Linear(4, 1)), path)
        argv = ["analyze", str(path), "--whole-module", "--grid", "8", "--encoding", spec,
                "--coord-dim", "1", "--out", str(tmp_path / "a")]
    assert main(argv) == 2
    _one_line_error(capsys, command, f"--encoding {spec!r}", "no float carries those phases")


def test_pe_levels_floats_carry_are_accepted(tmp_path, capsys):
    assert main(["train", *TINY, "--epochs", "1", "--encoding", "pe:30",
                 "--out", str(tmp_path / "t")]) == 0


def test_analyze_encoding_for_a_train_checkpoint_is_refused(run, capsys):
    assert main(["analyze", str(run / "checkpoint.pt"), "--grid", "16", "--encoding",
                 "pe:3"]) == 2
    _one_line_error(capsys, "analyze", "--encoding 'pe:3'", "carries its own encoding")


# ---------------------------------------------------------------- files that cannot be read

@pytest.mark.parametrize("kind", ["--model", "--whole-module"])
@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_damaged_user_model_files_are_one_line(run, tmp_path, capsys, kind, damage):
    sequential = torch.nn.Sequential(torch.nn.Linear(1, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    path = tmp_path / "m.pt"
    torch.save(sequential if kind == "--whole-module" else sequential.state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(b"" if damage == "empty" else data[: len(data) // 3])
    model = ["--whole-module"] if kind == "--whole-module" else \
        ["--model", "torch.nn:Identity"]
    assert main(["analyze", str(path), *model, "--grid", "8", "--out", str(tmp_path / "o")]) == 2
    line = _one_line_error(capsys, "analyze", str(path))
    assert ("empty" if damage == "empty" else "cannot be read") in line


class _Payload:
    def __reduce__(self):
        return (os.system, ("true",))


@pytest.mark.parametrize("kind", [[], ["--whole-module"]])
@pytest.mark.parametrize("saver", ["torch.save", "pickle.dumps"])
def test_a_malicious_checkpoint_is_refused_without_torchs_advice(tmp_path, capsys, kind, saver):
    path = tmp_path / "evil.pt"
    if saver == "torch.save":
        torch.save({"model": _Payload()}, path)
    else:
        path.write_bytes(pickle.dumps({"model": _Payload()}))
    assert main(["analyze", str(path), *kind, "--grid", "8", "--out", str(tmp_path / "o")]) == 2
    line = _one_line_error(capsys, "analyze", str(path))
    assert "weights_only=False" not in line
    if saver == "torch.save":
        assert "it names posix.system" in line


def test_a_non_image_png_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image\n")
    assert main(["train", *TINY, "--epochs", "1", "--signal", str(bad), "--size", "8",
                 "--out", str(tmp_path / "o")]) == 2
    _one_line_error(capsys, "train", f"--signal {str(bad)!r}")


# ---------------------------------------------------------------- resume

def test_resume_on_a_missing_folder_does_not_start_afresh(tmp_path, capsys):
    out = tmp_path / "missing"
    assert main(["train", *TINY, "--epochs", "1", "--resume", "--out", str(out)]) == 2
    _one_line_error(capsys, "train", "--resume", "nothing train wrote")
    assert not out.exists()


def test_resume_over_a_bare_tensor_checkpoint_is_refused(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", *TINY, "--epochs", "2", "--out", str(out)]) == 0
    torch.save(torch.zeros(3), out / "checkpoint.pt")
    before = (out / "results.json").read_bytes()
    assert main(["train", *TINY, "--epochs", "3", "--resume", "--out", str(out)]) == 2
    _one_line_error(capsys, "train", "--resume", "not a checkpoint of `specbias train`",
                    "--overwrite")
    assert (out / "results.json").read_bytes() == before


def test_a_diverging_run_stops_with_what_to_do_and_can_be_replaced(tmp_path, capsys):
    out = tmp_path / "div"
    assert main(["train", *TINY, "--epochs", "6", "--record-every", "1", "--lr", "1e30",
                 "--out", str(out)]) == 2
    _one_line_error(capsys, "train", "--lr 1e+30", "diverged at epoch", "--overwrite")
    assert main(["train", *TINY, "--epochs", "2", "--lr", "1e-3", "--overwrite",
                 "--out", str(out)]) == 0


def test_ctrl_c_names_the_command_that_continues_and_it_works(tmp_path, capsys, monkeypatch):
    argv = ["train", "--n", "64", "--depth", "2", "--width", "16", "--epochs", "6",
            "--record-every", "2", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "whole")]) == 0
    whole = json.loads((tmp_path / "whole" / "results.json").read_text())
    save = trainer.write_checkpoint

    def interrupted(path, **state):      # Ctrl-C just after the checkpoint of epoch 2
        save(path, **state)
        if state["epoch"] == 2:
            raise KeyboardInterrupt
    monkeypatch.setattr(trainer, "write_checkpoint", interrupted)
    out = tmp_path / "int"
    capsys.readouterr()
    assert main([*argv, "--overwrite", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    command = err.split("continue it with: ", 1)[1].strip()
    tokens = shlex.split(command)
    assert tokens == ["specbias", *argv, "--out", str(out), "--resume"]
    monkeypatch.setattr(trainer, "write_checkpoint", save)
    assert main(tokens[1:]) == 0
    resumed = json.loads((out / "results.json").read_text())
    assert resumed["epoch"] == 6 and resumed["loss"] == whole["loss"]


# ---------------------------------------------------------------- sizes before allocation

SIZES = [
    (["reproduce", "dead-neurons", "--preset", "smoke", "--seeds", "1000000000"], "--seeds"),
    (["train", *TINY, "--epochs", "1", "--encoding", "rff:1000000000:1"], "--encoding"),
    (["train", *TINY, "--epochs", "1", "--width", "30000000"], "--width"),
    (["train", *TINY, "--epochs", "1000000000", "--record-every", "1"], "--epochs"),
]

_RUN_ALL = """
import json, sys
from specbias_ext.commands.cli import main
for argv in json.loads(sys.argv[1]):
    print(main(argv), flush=True)
    print("--- end", file=sys.stderr, flush=True)
"""


def test_sizes_are_refused_before_allocation_with_the_estimate(tmp_path):
    # Under a 3 GiB data limit an allocation fails with MemoryError instead of being
    # OOM-killed: the refusals must come first, from the estimates.
    outs = [str(tmp_path / f"o{k}") for k in range(len(SIZES))]
    jobs = [[*argv, "--out", out] for (argv, _), out in zip(SIZES, outs)]
    limit = 3 << 30

    def preexec():
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    r = subprocess.run([sys.executable, "-c", _RUN_ALL, json.dumps(jobs)], text=True,
                       capture_output=True, timeout=300, preexec_fn=preexec,
                       env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1"))
    codes = r.stdout.split()
    errs = r.stderr.split("--- end\n")
    assert codes == ["2"] * len(SIZES), r.stderr
    for (_, flag), err, out in zip(SIZES, errs, outs):
        line = err.strip()
        assert "\n" not in line and "Traceback" not in line, line
        assert flag in line and "GiB of memory" in line and "available" in line, line
        assert not os.path.exists(out)


# ---------------------------------------------------------------- files that cannot be written

LONG = "a" * 300


@pytest.mark.parametrize("command", ["train", "reproduce", "analyze"])
def test_a_300_character_out_is_one_line(run, tmp_path, capsys, command):
    out = str(tmp_path / LONG)
    argv = {"train": ["train", *TINY, "--epochs", "1"],
            "reproduce": ["reproduce", "dead-neurons", "--preset", "smoke", "--quiet"],
            "analyze": ["analyze", str(run / "checkpoint.pt"), "--grid", "16"]}[command]
    assert main([*argv, "--out", out]) == 2
    _one_line_error(capsys, command, "too long", "--out")


def test_a_file_size_limit_is_one_line_with_the_path(tmp_path):
    r = _cli("train", *TINY, "--epochs", "1", "--out", str(tmp_path / "f"),
             limits={resource.RLIMIT_FSIZE: 2000})
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith("specbias train: error: ")
    assert "file too large" in line and str(tmp_path / "f") in line


def test_a_full_disk_is_one_line_with_the_path(tmp_path, capsys, monkeypatch):
    real_fsync = os.fsync

    def full(fd):
        if os.fstat(fd).st_size > 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(run_files.os, "fsync", full)
    assert main(["train", *TINY, "--epochs", "1", "--out", str(tmp_path / "d")]) == 2
    _one_line_error(capsys, "train", "no space left", str(tmp_path / "d"), "--out")
