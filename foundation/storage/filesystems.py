"""One way to reach a folder or object-store prefix: pyarrow.fs, already a core dependency (Delta tables go
through delta-rs' own object store; TFRecords and models through this)."""

from __future__ import annotations

import pyarrow.fs as pafs


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem of a local path or a URI (`s3://bucket/prefix`, `file:///...`) and the path within it.
    Object-store credentials come from the environment, never from arguments."""
    fs, path = pafs.FileSystem.from_uri(uri) if "://" in uri else (pafs.LocalFileSystem(), uri)
    return fs, path.rstrip("/")
