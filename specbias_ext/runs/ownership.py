"""Who wrote what in an output folder: one rule for every writer (train, the monitor, reproduce,
analyze), so that nothing a user or another run saved is replaced without being asked.

A folder written by specbias holds a small manifest, ``.specbias-folder.json``::

    {"format": "specbias-folder/1",
     "writers": {"reproduce": {"command": "specbias reproduce angles --out res",
                               "updated": "2025-01-01T12:00:00+00:00"}},
     "files": {"claims.json": "reproduce", "angles/": "reproduce"}}

``files`` maps each path (relative, "/"-separated) to the writer that wrote it; a path ending in
"/" is a folder the writer made, and everything under it is the writer's. ``writers`` keeps the
command line that last wrote for each writer, to name it in messages.

The rule:

- ``claim_folder(folder, writer)`` claims a new or empty folder, or adds to one. A folder that
  already holds files this writer wrote is an earlier run of it: refused unless ``resume``
  (continue it) or ``overwrite`` (replace it); ``resume`` with nothing of this writer's to
  continue is refused too (a missing run is never silently started afresh). Writers whose
  runs add up in one folder (reproduce, analyze) use ``claim_accumulating``, which continues
  whatever they wrote there before.
- Before writing a file the writer calls ``check_writable(relpath)``: an existing file it does
  not own (the user's own, or another writer's) is refused with ``FolderInUse``, which names the
  folder, who wrote the file and what to pass; ``overwrite`` allows replacing it.
- It then calls ``record(relpath, ...)`` *before* writing, so that the manifest always covers
  what is on disk (an interrupted write leaves a recorded name, never an unrecorded file that
  would block the resume). The manifest is rewritten atomically under an exclusive lock on the
  folder, so concurrent writers (two ``reproduce`` runs on one folder) never lose an entry.
- A writer never removes or changes a file it did not write.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import posixpath
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from .files import atomic_write_json

PathLike = Union[str, os.PathLike]

MANIFEST = ".specbias-folder.json"
FORMAT = "specbias-folder/1"


class FolderInUse(ValueError):
    """A write that would replace what this writer does not own (or an earlier run of it)."""


def _normalize(relpath: PathLike) -> str:
    """``relpath`` as a "/"-separated path inside the folder ("a/b", or "a/" for a folder)."""
    text = os.fspath(relpath).replace(os.sep, "/")
    is_dir = text.endswith("/")
    norm = posixpath.normpath(text)
    if (not text or posixpath.isabs(norm) or norm == "." or norm == ".."
            or norm.startswith("../")):
        raise ValueError(f"relpath: expected a path inside the folder, got {os.fspath(relpath)!r}")
    return norm + "/" if is_dir else norm


def _empty() -> dict:
    return {"format": FORMAT, "writers": {}, "files": {}}


def read_manifest(folder: PathLike) -> dict:
    """The manifest of ``folder`` (an empty one when there is none); FolderInUse when it exists
    but cannot be read (it is never guessed at)."""
    path = Path(folder) / MANIFEST
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return _empty()
    except (OSError, ValueError) as err:
        raise FolderInUse(f"{str(folder)!r}: its record of who wrote what ({MANIFEST}) cannot "
                          f"be read ({err}); remove that file only if nothing of value is in "
                          "the folder, or choose another folder") from None
    if (not isinstance(data, dict) or data.get("format") != FORMAT
            or not isinstance(data.get("files"), dict)
            or not isinstance(data.get("writers"), dict)):
        raise FolderInUse(f"{str(folder)!r}: {MANIFEST} is not a record written by specbias "
                          f"(expected format {FORMAT!r}); choose another folder")
    return data


def _owner(manifest: dict, relpath: str):
    """The writer recorded for ``relpath`` or for the nearest folder above it, else None."""
    files = manifest["files"]
    if relpath in files:
        return files[relpath]
    parts = relpath.rstrip("/").split("/")
    for k in range(len(parts) - 1, 0, -1):
        owner = files.get("/".join(parts[:k]) + "/")
        if owner is not None:
            return owner
    return None


def _exists(folder: Path, relpath: str) -> bool:
    return os.path.lexists(folder / relpath.rstrip("/"))


def written_by(folder: PathLike, writer: str) -> list[str]:
    """The paths in ``folder`` its manifest records as written by ``writer`` that still exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = read_manifest(folder)["files"]
    return sorted(p for p, w in files.items() if w == writer and _exists(folder, p))


def _describe_writer(manifest: dict, writer) -> str:
    if writer is None:
        return f"not by specbias (no record of it in {MANIFEST}), so presumably by you"
    command = manifest["writers"].get(writer, {}).get("command")
    return f"by {writer}" + (f" (`{command}`)" if command else "")


def _listing(paths, limit: int = 4) -> str:
    shown = ", ".join(p.rstrip("/") for p in paths[:limit])
    return shown + (f", ... ({len(paths)} in all)" if len(paths) > limit else "")


def _command_line() -> str:
    """This process's command line, as `specbias ...` when it is the specbias command."""
    argv = list(sys.argv) or ["python"]
    first = os.path.abspath(argv[0])
    if os.path.basename(first) == "specbias" or (
            os.path.basename(first) == "__main__.py"
            and os.path.basename(os.path.dirname(first)) == "specbias_ext"):
        argv[0] = "specbias"
    return " ".join(shlex.quote(a) for a in argv)


@contextlib.contextmanager
def _locked(folder: Path):
    """An exclusive lock on ``folder`` (flock on the folder itself: no lock file is left)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)            # closing releases the lock


@dataclass
class Ownership:
    """``writer``'s claim on ``folder`` (from ``claim_folder``)."""

    folder: Path
    writer: str
    overwrite: bool = False
    how_to_overwrite: str = "overwrite=True"
    command: Optional[str] = None       # recorded with the writer (default: sys.argv)

    def owns(self, relpath: str) -> bool:
        """True when the manifest records ``relpath`` (or a folder above it) as this writer's.
        Read afresh each time: another process of the same writer may have recorded it."""
        return _owner(read_manifest(self.folder), _normalize(relpath)) == self.writer

    def check_writable(self, relpath: str) -> None:
        """Refuse (FolderInUse) to replace an existing file at ``relpath`` this writer does not
        own, unless the claim was made with ``overwrite``; for a folder ("name/"), every file
        under it is checked. A path that does not exist yet is always writable."""
        rel = _normalize(relpath)
        path = self.folder / rel.rstrip("/")
        if not os.path.lexists(path) or self.overwrite:
            return
        manifest = read_manifest(self.folder)
        if rel.endswith("/"):
            if not path.is_dir():
                raise FolderInUse(f"{str(self.folder)!r}: {rel.rstrip('/')!r} is a file where "
                                  f"{self.writer} writes a folder; move it away or choose "
                                  "another folder")
            inside = [posixpath.join(rel, os.path.relpath(os.path.join(d, f), path)
                                     .replace(os.sep, "/"))
                      for d, _, names in os.walk(path) for f in names]
            foreign = sorted(p for p in inside if _owner(manifest, p) != self.writer)
            if not foreign:
                return
            owner = _owner(manifest, foreign[0])
            raise FolderInUse(
                f"{str(self.folder)!r}: {rel.rstrip('/')}/ holds files {self.writer} did not "
                f"write ({_listing(foreign)}; written {_describe_writer(manifest, owner)}); "
                f"pass {self.how_to_overwrite} to replace them, or choose another folder")
        owner = _owner(manifest, rel)
        if owner == self.writer:
            return
        raise FolderInUse(
            f"{str(self.folder)!r}: {rel} exists and was written "
            f"{_describe_writer(manifest, owner)}, not by this {self.writer}; pass "
            f"{self.how_to_overwrite} to replace it, or choose another folder")

    def record(self, *relpaths: str) -> None:
        """Add ``relpaths`` to the folder's manifest as this writer's (call it before writing
        them); creates the folder if needed. Atomic, under a lock on the folder."""
        rels = [_normalize(r) for r in relpaths]
        self.folder.mkdir(parents=True, exist_ok=True)
        with _locked(self.folder):
            manifest = read_manifest(self.folder)
            manifest["files"].update({r: self.writer for r in rels})
            manifest["writers"][self.writer] = {
                "command": self.command or _command_line(),
                "updated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
            atomic_write_json(self.folder / MANIFEST, manifest)


def _folder_manifest(folder: Path) -> dict:
    if os.path.lexists(folder) and not folder.is_dir():
        raise FolderInUse(f"{str(folder)!r} is a file, expected a folder; choose another path")
    return read_manifest(folder) if folder.is_dir() else _empty()


def claim_folder(folder: PathLike, writer: str, *, resume: bool = False,
                 overwrite: bool = False, how_to_resume: str = "resume=True",
                 how_to_overwrite: str = "overwrite=True",
                 command: Optional[str] = None) -> Ownership:
    """Claim ``folder`` for ``writer`` (see the module docstring); writes nothing.

    ``resume``: continue the files this writer wrote there before (refused when there are
    none). ``overwrite``: replace whatever is in the way (the writer's earlier files and any
    other file it writes over; other files stay untouched). Without either, a folder holding
    this writer's earlier files is refused. ``how_to_resume`` / ``how_to_overwrite``: how the
    caller's user asks for each (``"--resume"`` on a command line), quoted in the messages.
    ``command``: the command line recorded with the writer (default: this process's).
    """
    if not isinstance(writer, str) or not writer:
        raise ValueError(f"writer: expected a non-empty name, got {writer!r}")
    if resume and overwrite:
        raise ValueError(f"{how_to_resume} and {how_to_overwrite}: choose one (continue what "
                         "is in the folder, or replace it)")
    folder = Path(folder)
    manifest = _folder_manifest(folder)
    earlier = sorted(p for p, w in manifest["files"].items()
                     if w == writer and _exists(folder, p))
    if resume and not earlier:
        raise ValueError(f"{how_to_resume}: {str(folder)!r} holds nothing {writer} wrote, so "
                         f"there is nothing to continue; leave out {how_to_resume} to start "
                         "afresh, or give the folder of the run to continue")
    if earlier and not (resume or overwrite):
        raise FolderInUse(
            f"{str(folder)!r} already holds an earlier {writer} run ({_listing(earlier)}; "
            f"written {_describe_writer(manifest, writer)}); pass {how_to_resume} to continue "
            f"it or {how_to_overwrite} to replace it, or choose another folder")
    return Ownership(folder, writer, overwrite, how_to_overwrite, command)


def claim_accumulating(folder: PathLike, writer: str, *, overwrite: bool = False,
                       how_to_overwrite: str = "overwrite=True",
                       command: Optional[str] = None) -> Ownership:
    """``claim_folder`` for a writer whose runs add up in one folder (reproduce's experiments,
    analyze's outputs): each run continues what the writer wrote there before, if anything,
    and still refuses what it did not write unless ``overwrite``."""
    if not isinstance(writer, str) or not writer:
        raise ValueError(f"writer: expected a non-empty name, got {writer!r}")
    folder = Path(folder)
    _folder_manifest(folder)      # a file in the way or an unreadable record is refused
    # no check of earlier runs: whatever this writer wrote is its own (and a concurrent run of
    # it may be writing there right now)
    return Ownership(folder, writer, overwrite, how_to_overwrite, command)
