"""Loaded by every Python process of the object-storage demo test (PYTHONPATH): an audit hook that records each
file or folder a process creates, writes or renames outside the allowed roots (the test's temp folders).

Audit hooks see Python-level file operations in every process, including Dagster's step subprocesses; writes done
in native code (delta-rs, pyarrow, TensorFlow) bypass them, which the test's before/after snapshot of the
repository catches instead.
"""

import os
import sys

_ALLOWED = tuple(os.path.realpath(p) for p in os.environ.get("STOREFRONT_AUDIT_ALLOWED", "").split(os.pathsep) if p)
_LOG = os.environ.get("STOREFRONT_AUDIT_LOG")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_CREATING = {"os.mkdir": 0, "os.rename": 1, "os.replace": 1, "os.symlink": 1, "os.link": 1, "shutil.copyfile": 1}


def _outside(path: object) -> str | None:
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str | os.PathLike):
        return None  # a file descriptor
    real = os.path.realpath(os.fspath(path))
    return None if real.startswith(_ALLOWED) else real


def _hook(event: str, args: tuple) -> None:
    if event == "open":
        path, mode, flags = args
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & _WRITE_FLAGS)
        target = _outside(path) if writing else None
    elif event in _CREATING:
        target = _outside(args[_CREATING[event]])
    else:
        return
    if target is not None:
        with open(_LOG, "a") as log:  # the log is under an allowed root: no recursion
            log.write(f"{os.getpid()} {event} {target}\n")


if _LOG and _ALLOWED:
    sys.addaudithook(_hook)
