"""One way to reach a folder or an object-store prefix: `pyarrow.fs`.

Why pyarrow.fs rather than fsspec/s3fs or obstore: it is already a core dependency and what pyarrow's
datasets and Parquet readers use (Delta reads through `to_pyarrow_dataset`), its S3 client is the AWS C++
SDK (multi-threaded, no GIL, no aiobotocore stack to pin), and it reads the standard AWS environment
(`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`), so
credentials never pass through our code or config. s3fs would add a second S3 client beside it; obstore is
fast but neither pyarrow nor TensorFlow take its handles. Its one gap: listings carry size and mtime but not
the ETag, so `object_info` takes the ETag from the HEAD that opening an input stream does.

Delta tables go through delta-rs' own object store (Rust `object_store`), configured by
`delta_storage_options`: the same environment plus the options delta-rs will not infer.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

# storage_options are config (they reach run config and logs): secrets belong in the environment only.
SECRET_OPTIONS = frozenset(
    {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN"}
)


def is_remote(uri: str) -> bool:
    """Whether `uri` names an object store (`s3://…`), as opposed to a local path or `file://` URI."""
    return "://" in uri and not uri.startswith("file://")


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem of a local path or a URI (`s3://bucket/prefix`, `file:///...`) and the path within it.
    Object-store credentials and the endpoint come from the environment, never from arguments."""
    fs, path = pafs.FileSystem.from_uri(uri) if "://" in uri else (pafs.LocalFileSystem(), uri)
    return fs, path.rstrip("/")


def delta_storage_options(uri: str, options: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """delta-rs storage options for a table at `uri`: the caller's non-secret options plus what delta-rs needs
    to be told explicitly on S3.

    - `AWS_ALLOW_HTTP=true` when `AWS_ENDPOINT_URL` is plain http (a local S3 server, a MinIO without TLS):
      object_store refuses http endpoints otherwise ("URL scheme is not allowed").
    - Concurrent commits: deltalake 1.x commits to S3 with conditional writes (`If-None-Match: *`, which AWS S3
      has supported since 2024), so two writers racing for the same version get `CommitFailedError` and
      `DeltaStore` retries. Neither a DynamoDB lock nor `AWS_S3_ALLOW_UNSAFE_RENAME` is needed, and the
      latter is refused here: it turns a lost race into a silently overwritten commit.
    """
    merged = dict(options or {})
    if secrets := sorted(k for k in merged if k.upper() in SECRET_OPTIONS):
        raise ValueError(f"storage_options must not carry secrets ({', '.join(secrets)}): set them in the environment")
    if str(merged.get("AWS_S3_ALLOW_UNSAFE_RENAME", os.environ.get("AWS_S3_ALLOW_UNSAFE_RENAME", ""))).lower() in (
        "1",
        "true",
    ):
        raise ValueError("AWS_S3_ALLOW_UNSAFE_RENAME would let concurrent commits overwrite each other: unset it")
    if uri.startswith("s3://"):
        endpoint = merged.get("AWS_ENDPOINT_URL", os.environ.get("AWS_ENDPOINT_URL", ""))
        if endpoint.startswith("http://"):
            merged.setdefault("AWS_ALLOW_HTTP", "true")
    return merged or None


# -- objects --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectInfo:
    """A file under a folder or prefix: its name, full URI, size and a fingerprint of this version of it."""

    name: str
    uri: str
    size: int
    mtime_ns: int
    fingerprint: str


def _fingerprint(fs: pafs.FileSystem, info: pafs.FileInfo) -> str:
    """Local: size and mtime in nanoseconds (a re-delivery writes the file anew). Object store: size and ETag
    (the content hash S3 keeps per PUT), from one HEAD per file: LastModified has only second resolution, so a
    same-size replacement within the second would look unchanged, and caching the ETag by (size, LastModified)
    would have the same blind spot."""
    if isinstance(fs, pafs.LocalFileSystem):
        return f"{info.size}-{info.mtime_ns or 0}"
    with fs.open_input_stream(info.path) as stream:  # a HEAD; the body is not read
        etag = stream.metadata().get("ETag", b"").decode().strip('"')
    return f"{info.size}-{etag or info.mtime_ns}"


def list_files(uri: str) -> list[ObjectInfo]:
    """The files directly under `uri` (one LIST on an object store), sorted by name; none if it is absent."""
    fs, base = filesystem(uri)
    infos = fs.get_file_info(pafs.FileSelector(base, allow_not_found=True))
    root = uri.rstrip("/")
    return [
        ObjectInfo(i.base_name, f"{root}/{i.base_name}", i.size or 0, i.mtime_ns or 0, _fingerprint(fs, i))
        for i in sorted(infos, key=lambda i: i.base_name)
        if i.type == pafs.FileType.File
    ]


def object_info(uri: str) -> ObjectInfo | None:
    """One file's info, or None when it does not exist."""
    fs, path = filesystem(uri)
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.File:
        return None
    return ObjectInfo(info.base_name, uri, info.size or 0, info.mtime_ns or 0, _fingerprint(fs, info))


def read_bytes(uri: str) -> bytes:
    fs, path = filesystem(uri)
    with fs.open_input_stream(path) as stream:
        return stream.read()


def write_bytes(uri: str, data: bytes) -> None:
    """Write a whole file: temp name then rename locally, one PUT (all or nothing) on an object store."""
    fs, path = filesystem(uri)
    if isinstance(fs, pafs.LocalFileSystem):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
        Path(tmp).write_bytes(data)
        os.replace(tmp, path)
        return
    with fs.open_output_stream(path) as out:
        out.write(data)


def upload_file(local: Path, uri: str) -> None:
    """Copy a local file to `uri` (streamed; multipart on S3 for large files)."""
    fs, path = filesystem(uri)
    if isinstance(fs, pafs.LocalFileSystem):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
        shutil.copyfile(local, tmp)
        os.replace(tmp, path)
        return
    pafs.copy_files(str(local), path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)


@contextmanager
def local_copy(uri: str) -> Iterator[Path]:
    """A local path holding the file at `uri`: the file itself when it is local, else a download into a temp
    folder (named like the object, since readers look at the suffix), removed on exit."""
    fs, path = filesystem(uri)
    if isinstance(fs, pafs.LocalFileSystem):
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="storefront-download-") as folder:
        target = Path(folder) / Path(path).name
        pafs.copy_files(path, str(target), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
        yield target
