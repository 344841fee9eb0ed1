"""The specbias command line: help, clear errors, train/analyze round trip."""
import json
import subprocess
import sys

import pytest
import torch

from specbias_ext.commands.cli import main
from specbias_ext.experiments.registry import EXPERIMENTS


def test_help_lists_flags_and_experiments(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--preset", "--device", "--seeds", "--out"):
        assert flag in text
    for name in EXPERIMENTS:
        assert name in text


def test_module_entry_point_help():
    r = subprocess.run([sys.executable, "-m", "specbias_ext", "--help"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "reproduce" in r.stdout and "analyze" in r.stdout


def test_unknown_experiment_lists_valid_ones(capsys, tmp_path):
    assert main(["reproduce", "hamming-3d", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "hamming-3d" in err
    for name in EXPERIMENTS:
        assert name in err


def test_bad_preset_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--preset", "huge"])
    assert exc.value.code == 2
    assert "smoke" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_cuda_without_gpu_says_so(capsys, tmp_path):
    assert main(["reproduce", "hamming-1d", "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_train_then_analyze_on_a_finer_grid(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--encoding", "pe:3", "--n", "128", "--depth", "2", "--width", "16",
                 "--epochs", "6", "--record-every", "3", "--out", str(run), "--quiet"]) == 0
    res = json.loads((run / "results.json").read_text())
    assert [h["epoch"] for h in res["records"]] == [0, 3, 6]
    assert all(h["regions"] >= 1 for h in res["records"])
    assert main(["analyze", str(run / "checkpoint.pt"), "--grid", "1024"]) == 0
    stats = json.loads((run / "run_regions_1024.json").read_text())
    assert stats["grid_shape"] == [1024] and stats["regions"] >= res["records"][-1]["regions"]
    assert (run / "run_regions_1024.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["analyze", str(run / "checkpoint.pt"), "--grid", "10x10"]) == 2
    assert "1D" in capsys.readouterr().err


def test_train_errors_are_clear(capsys, tmp_path):
    assert main(["train", "--signal", "nosuchimage", "--out", str(tmp_path)]) == 2
    assert "camera" in capsys.readouterr().err
    assert main(["train", "--range", "1,0", "--out", str(tmp_path)]) == 2
    assert "lo < hi" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "missing.pt")]) == 2
    assert "specbias train" in capsys.readouterr().err


def test_analyze_with_output_gradients_writes_region_coherence(tmp_path):
    import numpy as np

    from specbias_ext import ops, relu_network
    from specbias_ext.runs.checkpoints import load_trained_model
    from specbias_ext.data.grids import CoordinateGrid

    run = tmp_path / "run"
    assert main(["train", "--encoding", "pe:2", "--n", "64", "--depth", "2", "--width", "12",
                 "--epochs", "2", "--out", str(run), "--quiet"]) == 0
    assert main(["analyze", str(run / "checkpoint.pt"), "--grid", "300", "--tile", "64",
                 "--grads", "output"]) == 0
    stats = json.loads((run / "run_regions_300_grads.json").read_text())
    arrays = np.load(run / "run_regions_300_grads.npz")
    # The same quantities from the op on the whole grid at once.
    model, _ = load_trained_model(str(run / "checkpoint.pt"))
    coords = CoordinateGrid((300,), (0.0, 1.0)).coords()
    with torch.no_grad():
        x = model.encode(coords)
    net = relu_network(model)
    ids, counts = ops.region_ids(ops.activation_patterns(x, net))
    nos, son = ops.region_grad_norms(x, net, torch.ones(300, 1), ids, counts.numel())
    assert np.array_equal(arrays["region_counts"], counts.numpy())
    np.testing.assert_allclose(arrays["norm_of_sum"], nos.double().numpy(), rtol=1e-5)
    np.testing.assert_allclose(arrays["sum_of_norms"], son.double().numpy(), rtol=1e-5)
    assert ((arrays["coherence"] >= 0) & (arrays["coherence"] <= 1)).all()
    assert stats["region_grads"]["coherence_bins"] == 20
    assert stats["grad_norm"]["mean"] > 0
