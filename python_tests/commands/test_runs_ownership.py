"""The folder ownership rule of specbias_ext.runs.ownership: a writer adds to a folder, replaces
only what it wrote, refuses (naming what to pass) anything else, and records atomically."""
import json
import multiprocessing
import os

import pytest

from specbias_ext.runs.ownership import (
    MANIFEST, FolderInUse, claim_accumulating, claim_folder, read_manifest, written_by,
)


def test_a_new_folder_is_claimed_and_records_what_was_written(tmp_path):
    folder = tmp_path / "new" / "deeper"
    own = claim_folder(folder, "reproduce")
    assert not folder.exists()                   # claiming writes nothing
    own.check_writable("claims.json")
    own.record("claims.json", "angles/")
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["format"] == "specbias-folder/1"
    assert manifest["files"] == {"claims.json": "reproduce", "angles/": "reproduce"}
    assert "command" in manifest["writers"]["reproduce"]
    assert own.owns("claims.json") and own.owns("angles/figures/a.png")
    assert not own.owns("summary.md")


def test_a_users_own_file_is_never_replaced_without_overwrite(tmp_path):
    (tmp_path / "summary.md").write_text("mine")
    own = claim_folder(tmp_path, "reproduce")
    own.check_writable("claims.json")            # new names may be added beside it
    with pytest.raises(FolderInUse) as err:
        own.check_writable("summary.md")
    msg = str(err.value)
    assert str(tmp_path) in msg and "summary.md" in msg and "overwrite=True" in msg
    assert "not by specbias" in msg
    claim_folder(tmp_path, "reproduce", overwrite=True).check_writable("summary.md")
    assert (tmp_path / "summary.md").read_text() == "mine"


def test_another_writers_file_is_refused_naming_it(tmp_path):
    claim_folder(tmp_path, "train").record("checkpoint.pt")
    (tmp_path / "checkpoint.pt").write_bytes(b"x")
    own = claim_folder(tmp_path, "analyze", how_to_overwrite="--overwrite")
    with pytest.raises(FolderInUse, match=r"written by train .*--overwrite"):
        own.check_writable("checkpoint.pt")


def test_an_earlier_run_needs_resume_or_overwrite(tmp_path):
    claim_folder(tmp_path, "train").record("run.json")
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(FolderInUse) as err:
        claim_folder(tmp_path, "train", how_to_resume="--resume", how_to_overwrite="--overwrite")
    assert "--resume" in str(err.value) and "--overwrite" in str(err.value)
    assert "run.json" in str(err.value)
    own = claim_folder(tmp_path, "train", resume=True)
    own.check_writable("run.json")
    assert written_by(tmp_path, "train") == ["run.json"]
    claim_folder(tmp_path, "train", overwrite=True).check_writable("run.json")
    # a recorded file that is gone is not an earlier run
    (tmp_path / "run.json").unlink()
    claim_folder(tmp_path, "train")


@pytest.mark.parametrize("folder", ["missing", "empty", "foreign"])
def test_resume_with_nothing_to_continue_is_refused(tmp_path, folder):
    path = tmp_path / folder
    if folder != "missing":
        path.mkdir()
    if folder == "foreign":
        claim_folder(path, "analyze").record("a.json")
        (path / "a.json").write_text("{}")
    with pytest.raises(ValueError, match="nothing train wrote"):
        claim_folder(path, "train", resume=True, how_to_resume="--resume")
    assert not (tmp_path / "missing").exists()


def test_resume_and_overwrite_together_are_refused(tmp_path):
    with pytest.raises(ValueError, match="choose one"):
        claim_folder(tmp_path, "train", resume=True, overwrite=True)


def test_a_folder_claim_covers_only_the_writers_files(tmp_path):
    own = claim_folder(tmp_path, "reproduce")
    own.record("angles/")
    (tmp_path / "angles" / "figures").mkdir(parents=True)
    (tmp_path / "angles" / "figures" / "a.png").write_bytes(b"png")
    own.check_writable("angles/")
    other = tmp_path / "hamming-1d"
    other.mkdir()
    (other / "results.json").write_text("mine")
    with pytest.raises(FolderInUse, match=r"hamming-1d/ holds files reproduce did not write "
                                          r"\(hamming-1d/results.json"):
        own.check_writable("hamming-1d/")
    (tmp_path / "file").write_text("x")
    with pytest.raises(FolderInUse, match="is a file where"):
        own.check_writable("file/")


def test_unreadable_or_foreign_manifests_are_refused(tmp_path):
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(FolderInUse, match="cannot be read"):
        claim_folder(tmp_path, "train")
    (tmp_path / MANIFEST).write_text(json.dumps({"format": "other"}))
    with pytest.raises(FolderInUse, match="not a record written by specbias"):
        claim_folder(tmp_path, "train")


@pytest.mark.parametrize("bad", ["", "/etc/passwd", "../x", "a/../../x", "."])
def test_paths_outside_the_folder_are_refused(tmp_path, bad):
    own = claim_folder(tmp_path, "train")
    with pytest.raises(ValueError, match="relpath"):
        own.record(bad)


def test_a_file_where_the_folder_goes_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(FolderInUse, match="is a file"):
        claim_folder(tmp_path / "f", "train")


def _record_many(folder, writer, start):
    own = claim_folder(folder, writer, overwrite=True)
    for k in range(start, start + 25):
        own.record(f"{writer}_{k}.json")


def test_concurrent_records_lose_nothing(tmp_path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_record_many, args=(tmp_path, w, 0)) for w in ("a", "b", "c")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    files = read_manifest(tmp_path)["files"]
    assert len(files) == 75
    assert sorted(os.listdir(tmp_path)) == [MANIFEST]      # no temporary or lock file left


def test_accumulating_writers_continue_their_own_folder(tmp_path):
    own = claim_accumulating(tmp_path, "reproduce")
    own.record("claims.json")
    (tmp_path / "claims.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("mine")
    again = claim_accumulating(tmp_path, "reproduce")          # no flag needed
    again.check_writable("claims.json")
    with pytest.raises(FolderInUse, match="--overwrite"):
        claim_accumulating(tmp_path, "reproduce",
                           how_to_overwrite="--overwrite").check_writable("notes.txt")
    claim_accumulating(tmp_path, "reproduce", overwrite=True).check_writable("notes.txt")


def _accumulate(folder, start):
    for k in range(start, start + 20):
        own = claim_accumulating(folder, "reproduce")
        own.check_writable("claims.json")
        own.record("claims.json", f"exp{k}/")
        (folder / "claims.json").write_text(str(k))


def test_concurrent_accumulating_runs_never_refuse_each_other(tmp_path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_accumulate, args=(tmp_path, s)) for s in (0, 100)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(read_manifest(tmp_path)["files"]) == 41
