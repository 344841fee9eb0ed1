"""train, reproduce and analyze follow one ownership rule: they add to a folder, replace only
what they wrote, and refuse, naming --overwrite/--resume, anything the user or another run
wrote; output names carry every setting that changes their content."""
import json
import os

import pytest

from specbias_ext.commands.cli import main
from specbias_ext.runs import output_checks
from specbias_ext.runs.ownership import MANIFEST, read_manifest

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["--n", "32", "--depth", "1", "--width", "8", "--quiet"]
SMOKE = ["--preset", "smoke", "--quiet", "--seeds", "1"]


def _error(capsys, command, *needles):
    err = capsys.readouterr().err
    assert err.startswith(f"specbias {command}: error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def _snapshot(folder):
    return {os.path.relpath(os.path.join(d, f), folder): open(os.path.join(d, f), "rb").read()
            for d, _, names in os.walk(folder) for f in names}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for name, seed in (("A", "0"), ("B", "1")):
        assert main(["train", *TINY, "--epochs", "2", "--seed", seed,
                     "--out", str(root / name)]) == 0
    return root


# ---------------------------------------------------------------- reproduce

def test_reproduce_never_replaces_the_users_own_files(tmp_path, capsys):
    mine = tmp_path / "mine"
    (mine / "hamming-1d").mkdir(parents=True)
    own = {"summary.md": "my notes", "claims.json": "{}", "report.html": "<p>mine</p>",
           "hamming-1d/results.json": "{\"mine\": true}"}
    for rel, text in own.items():
        (mine / rel).write_text(text)
    before = _snapshot(mine)
    assert main(["reproduce", "hamming-1d", *SMOKE, "--out", str(mine)]) == 2
    _error(capsys, "reproduce", str(mine), "--overwrite", "not by specbias")
    assert _snapshot(mine) == before


def test_reproduce_refuses_an_experiment_folder_it_did_not_write(tmp_path, capsys):
    mine = tmp_path / "mine"
    (mine / "dead-neurons").mkdir(parents=True)
    (mine / "dead-neurons" / "results.json").write_text("{\"mine\": true}")
    assert main(["reproduce", "dead-neurons", *SMOKE, "--out", str(mine)]) == 2
    _error(capsys, "reproduce", "dead-neurons/results.json", "--overwrite")
    assert main(["reproduce", "dead-neurons", *SMOKE, "--out", str(mine), "--overwrite"]) == 0
    assert "claims" in json.loads((mine / "dead-neurons" / "results.json").read_text())
    files = read_manifest(mine)["files"]
    assert files["dead-neurons/"] == files["claims.json"] == "reproduce"


def test_reproduce_adds_to_its_own_folder_and_beside_other_files(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["reproduce", "dead-neurons", *SMOKE, "--out", str(out)]) == 0
    assert main(["reproduce", "dead-neurons", *SMOKE, "--out", str(out)]) == 0   # its own
    assert (out / "notes.txt").read_text() == "mine"
    assert "notes.txt" not in read_manifest(out)["files"]


def test_a_read_only_experiment_folder_is_refused_before_any_work(tmp_path, capsys,
                                                                  monkeypatch):
    out = tmp_path / "o"
    assert main(["reproduce", "dead-neurons", *SMOKE, "--out", str(out)]) == 0
    before = _snapshot(out)
    locked = out / "dead-neurons" / "figures"
    os.chmod(locked, 0o555)
    if os.geteuid() == 0:   # root writes anyway: the probe sees what a user would
        real = output_checks.tempfile.TemporaryFile

        def probe(*args, dir=None, **kwargs):
            if os.path.abspath(dir) == str(locked):
                raise PermissionError(13, "Permission denied")
            return real(*args, dir=dir, **kwargs)
        monkeypatch.setattr(output_checks.tempfile, "TemporaryFile", probe)
    try:
        assert main(["reproduce", "dead-neurons", *SMOKE, "--out", str(out)]) == 2
        _error(capsys, "reproduce", "--out", str(locked), "Permission denied")
    finally:
        os.chmod(locked, 0o755)
    assert _snapshot(out) == before


# ---------------------------------------------------------------- analyze

def test_analyses_of_two_checkpoints_into_one_folder_both_stay(runs, tmp_path, capsys):
    out = tmp_path / "D"
    for name in ("A", "B"):
        assert main(["analyze", str(runs / name / "checkpoint.pt"), "--grid", "64",
                     "--out", str(out)]) == 0
    a, b = (json.loads((out / f"{n}_regions_64.json").read_text()) for n in ("A", "B"))
    assert a["source"].endswith(os.path.join("A", "checkpoint.pt"))
    assert b["source"].endswith(os.path.join("B", "checkpoint.pt"))


def test_another_checkpoint_with_the_same_label_is_refused(runs, tmp_path, capsys):
    out = tmp_path / "D"
    other = tmp_path / "elsewhere" / "A"
    other.mkdir(parents=True)
    (other / "checkpoint.pt").write_bytes((runs / "B" / "checkpoint.pt").read_bytes())
    assert main(["analyze", str(runs / "A" / "checkpoint.pt"), "--grid", "64",
                 "--out", str(out)]) == 0
    before = _snapshot(out)
    assert main(["analyze", str(other / "checkpoint.pt"), "--grid", "64",
                 "--out", str(out)]) == 2
    _error(capsys, "analyze", "A_regions_64.json", "--overwrite")
    assert _snapshot(out) == before
    assert main(["analyze", str(other / "checkpoint.pt"), "--grid", "64", "--out", str(out),
                 "--overwrite"]) == 0
    assert json.loads((out / "A_regions_64.json").read_text())["source"] == \
        str(other / "checkpoint.pt")


def test_zoomed_sliced_and_gradient_runs_keep_the_full_range_files(runs, capsys):
    ckpt = str(runs / "A" / "checkpoint.pt")
    assert main(["analyze", ckpt, "--grid", "64"]) == 0
    full = (runs / "A" / "A_regions_64.json").read_bytes()
    assert main(["analyze", ckpt, "--grid", "64", "--range", "0.25,0.5"]) == 0
    assert main(["analyze", ckpt, "--grid", "64", "--range", "0.25,0.75"]) == 0
    assert main(["analyze", ckpt, "--grid", "64", "--grads", "output"]) == 0
    assert (runs / "A" / "A_regions_64.json").read_bytes() == full
    names = sorted(p.name for p in (runs / "A").glob("A_regions_64*.json"))
    assert names == ["A_regions_64.json", "A_regions_64_grads.json",
                     "A_regions_64_range0.25_0.5.json", "A_regions_64_range0.25_0.75.json"]
    zoom = json.loads((runs / "A" / "A_regions_64_range0.25_0.5.json").read_text())
    assert zoom["grid"]["coord_range"] == [0.25, 0.5]


def test_analyze_never_replaces_the_users_file(runs, tmp_path, capsys):
    out = tmp_path / "D"
    out.mkdir()
    (out / "A_regions_64.json").write_text("mine")
    assert main(["analyze", str(runs / "A" / "checkpoint.pt"), "--grid", "64",
                 "--out", str(out)]) == 2
    _error(capsys, "analyze", "A_regions_64.json", "not by specbias", "--overwrite")
    assert (out / "A_regions_64.json").read_text() == "mine"


# ---------------------------------------------------------------- train

def test_train_refuses_to_replace_a_users_file_in_out(tmp_path, capsys):
    out = tmp_path / "t"
    out.mkdir()
    (out / "results.json").write_text("mine")
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 2
    _error(capsys, "train", "results.json", "--overwrite")
    assert (out / "results.json").read_text() == "mine"


def test_train_overwrite_keeps_analyses_of_other_checkpoints(runs, tmp_path, capsys):
    run = tmp_path / "R"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(run)]) == 0
    assert main(["analyze", str(run / "checkpoint.pt"), "--grid", "16"]) == 0
    assert main(["analyze", str(runs / "B" / "checkpoint.pt"), "--grid", "16",
                 "--out", str(run)]) == 0
    assert main(["train", *TINY, "--epochs", "1", "--overwrite", "--out", str(run)]) == 0
    names = set(os.listdir(run))
    assert "R_regions_16.json" not in names          # the replaced run's own analysis
    assert "B_regions_16.json" in names              # another checkpoint's: untouched
    manifest = read_manifest(run)
    assert manifest["files"]["checkpoint.pt"] == "train"
    assert manifest["writers"]["train"]["command"].startswith("specbias train")
    assert MANIFEST in names
