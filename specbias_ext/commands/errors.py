"""What the command line says when a command fails or is interrupted: user errors (bad values,
files that cannot be written or read, not enough memory) become one line naming the path or
the argument; anything else is a bug and keeps its traceback."""
from __future__ import annotations

import errno
import os
import pickle
import shlex

import torch

from ..runs.files import first_line
from ..runs.ownership import written_by

_OS_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EFBIG: "file too large (the file-size limit, `ulimit -f`, or the file system's "
                 "largest file)",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENAMETOOLONG: "a name in the path is too long for the file system (at most 255 "
                        "bytes a name)",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "is a folder, expected a file",
    errno.EMFILE: "too many open files",
    errno.EIO: "input/output error",
}


def _under(path: str, folder) -> bool:
    if not folder:
        return False
    try:
        return os.path.commonpath([os.path.abspath(path), os.path.abspath(folder)]) == \
            os.path.abspath(folder)
    except ValueError:
        return False


def describe_os_error(err: OSError, args=None) -> str:
    """``err`` as one line: the path, what went wrong, and which flag the path came from."""
    reason = _OS_REASONS.get(err.errno) or err.strerror or first_line(err)
    path = err.filename
    if path is None:
        return f"{reason} ({first_line(err)})" if reason != first_line(err) else reason
    path = os.fsdecode(path) if isinstance(path, bytes) else str(path)
    shown = path if len(path) <= 120 else path[:60] + "..." + path[-40:]
    out = getattr(args, "out", None)
    flag = ""
    if out and _under(path, out):
        flag = f" (under --out {out!r})" if len(out) <= 120 else " (under --out)"
    advice = {errno.ENOSPC: "; free some space or choose another --out",
              errno.EDQUOT: "; free some space or choose another --out",
              errno.EFBIG: "; raise the limit or use smaller sizes",
              errno.ENAMETOOLONG: "; choose a shorter path",
              errno.EACCES: "; choose a folder you can write to",
              errno.EROFS: "; choose a folder you can write to"}.get(err.errno, "")
    return f"{shown!r}{flag}: {reason}{advice}"


def user_error_message(err: BaseException, args=None):
    """The one-line message for an error the user caused, else None (a bug)."""
    if isinstance(err, ValueError):
        return first_line(err)
    if isinstance(err, torch.OutOfMemoryError) or (
            isinstance(err, RuntimeError) and "can't allocate memory" in str(err)):
        return (f"ran out of memory ({first_line(err)}); the estimates before the run did not "
                "foresee it: use smaller sizes")
    if isinstance(err, OSError):
        return describe_os_error(err, args)
    if isinstance(err, (EOFError, pickle.UnpicklingError)):
        return (f"a file ended early or is not what it claims to be ({type(err).__name__}: "
                f"{first_line(err)}); check the files given")
    if isinstance(err, MemoryError):
        return ("ran out of memory (the estimates before the run did not foresee it); use "
                "smaller sizes")
    return None


def continue_command(argv) -> str:
    """The command line that continues an interrupted `specbias train`: the same flags, with
    --resume instead of --overwrite."""
    tokens = [a for a in argv if a != "--overwrite"]
    if "--resume" not in tokens:
        tokens.append("--resume")
    return shlex.join(["specbias", *tokens])


def interrupted_advice(args, argv) -> str:
    """What to do after Ctrl-C, for the command that was running."""
    if args.command == "train":
        try:
            saved = bool(written_by(args.out, "train"))
        except ValueError:
            saved = False
        if saved:
            return (f"the run so far is saved in {args.out!r}; continue it with: "
                    f"{continue_command(argv)}")
        return "nothing was saved yet; rerun the same command to start again"
    if args.command == "reproduce":
        return (f"what was finished is saved in {args.out!r}; rerun the same command to "
                "continue (trained weights are reused)")
    return "no result is left half-written; rerun the same command"
