"""runs.provenance: what produced a result, kept apart from its values."""
import datetime
import re
import subprocess

import pytest

import specbias_ext
from specbias_ext import ops
from specbias_ext.runs import provenance as P

KEYS = ["package", "git_commit", "command", "date", "device", "processes", "cuda_device", "torch"]


def test_provenance_names_the_package_command_date_device_and_processes():
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    got = P.provenance("cuda:1", 4, argv=["specbias", "analyze", "a b.pt", "--grid", "64"])
    after = datetime.datetime.now(datetime.timezone.utc)
    assert list(got) == KEYS
    assert got["package"] == f"specbias_ext {specbias_ext.__version__}"
    assert got["command"] == "specbias analyze 'a b.pt' --grid 64"   # shell-quoted, reusable
    assert before <= datetime.datetime.fromisoformat(got["date"]) <= after
    assert got["device"] == "cuda:1" and got["processes"] == 4
    assert got["torch"] == P.torch.__version__


def test_defaults_one_process_no_device_and_this_command(monkeypatch):
    monkeypatch.setattr(P.sys, "argv", ["prog", "--flag"])
    got = P.provenance()
    assert got["processes"] == 1 and got["device"] is None and got["command"] == "prog --flag"


def test_git_commit_is_the_checkout_or_none(monkeypatch):
    P.git_commit.cache_clear()
    commit = P.git_commit()
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}( \(with uncommitted changes\))?", commit)

    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")
    monkeypatch.setattr(subprocess, "run", no_git)
    P.git_commit.cache_clear()
    try:
        assert P.git_commit() is None
    finally:
        P.git_commit.cache_clear()


def test_values_and_provenance_stay_apart():
    values = {"regions": 3, "grid": {"shape": [4, 4]}}
    doc = P.with_provenance(values, "cpu", 2)
    assert list(doc) == ["regions", "grid", P.PROVENANCE_KEY]   # last, values untouched
    assert doc[P.PROVENANCE_KEY]["processes"] == 2
    assert P.without_provenance(doc) == values
    with pytest.raises(ValueError, match="provenance"):
        P.with_provenance(doc)


def test_environment_reports_the_extension_build_as_ops_does():
    env = P.environment()
    assert set(env) == {"device_cpu", "python", "torch", "threads", "build_info", "cuda_device"}
    runtime = {"runtime_torch_version", "cuda_available"}
    assert env["build_info"] == {k: v for k, v in ops.build_info().items() if k not in runtime}
