"""One model store for every pipeline: versioned folders, a manifest per version, an atomically published
pointer to the latest.

    <store>/<version>/...            the model's files (Keras, vocabularies, reports), immutable once published
    <store>/<version>/manifest.json  model, version, run id, time, the data versions it was trained on, params,
                                     metrics and the files it holds
    <store>/latest.json              {"version": ...}: what serving and scoring load

`<store>` is `<root>/models/<model>[/<partition>]` (`StorageResource.model_store`). Writing:

    with storage.model_store("retail_two_tower").publish(context.run_id, data_versions={...}) as draft:
        model.save(draft.path / "model.keras")
        draft.metrics = {...}
    # clean exit: manifest written, version moved into place, then the pointer; an error leaves no trace

Reading: `store.latest()`, `store.path()` (a local folder: the version itself on a local root, a cached
download for an object store), `store.manifest()`, `store.versions()`.

Built on pyarrow.fs so the same code serves a local root and `s3://…`. Hand-written rather than MLflow's
registry: that needs a tracking server and database for what is a folder layout plus one pointer file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from foundation.storage.filesystems import filesystem

POINTER = "latest.json"
MANIFEST = "manifest.json"
_STAGING = ".staging-"


def version_name(run_id: str, now: datetime | None = None) -> str:
    """`20261201T163000-1a2b3c4d`: sortable by time, traceable to the Dagster run."""
    return f"{(now or datetime.now(UTC)):%Y%m%dT%H%M%S}-{run_id[:8]}"


@dataclass
class ModelDraft:
    """A version being written: put files under `path`, set `metrics` and `info` (both go in the manifest)."""

    version: str
    path: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


class ModelNotFound(LookupError):
    pass


class ModelStore:
    """Versions of one model (optionally one partition of it, e.g. an Amazon dataset tag)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri.rstrip("/")
        self.fs, self.base = filesystem(self.uri)
        self.local = isinstance(self.fs, pafs.LocalFileSystem)

    # -- writing ------------------------------------------------------------------------------------
    @contextmanager
    def publish(
        self,
        run_id: str,
        *,
        data_versions: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        set_latest: bool = True,
    ) -> Iterator[ModelDraft]:
        """Stage a new version; on a clean exit publish it (files, manifest, then the pointer)."""
        version = version_name(run_id)
        if self.local:
            Path(self.base).mkdir(parents=True, exist_ok=True)
            staging = Path(self.base) / f"{_STAGING}{version}-{uuid.uuid4().hex[:6]}"
            staging.mkdir()
        else:
            staging = Path(tempfile.mkdtemp(prefix="storefront-model-"))
        draft = ModelDraft(version=version, path=staging)
        try:
            yield draft
            manifest = {
                "model": self.uri,
                "version": version,
                "run_id": run_id,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "data_versions": dict(data_versions or {}),
                "params": dict(params or {}),
                "metrics": draft.metrics,
                **draft.info,
                "files": sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file()),
            }
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
            if self.local:
                os.rename(staging, Path(self.base) / version)  # atomic: readers see all or nothing
            else:
                self._upload(staging, version)  # the manifest goes last: a version without one is incomplete
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        if set_latest:
            self.set_latest(version)

    def set_latest(self, version: str) -> None:
        """Point `latest.json` at a published version (a rename locally, one PUT on an object store)."""
        if version not in self.versions():
            raise ModelNotFound(f"no published version {version} in {self.uri}")
        body = json.dumps({"version": version, "published_at": datetime.now(UTC).isoformat(timespec="seconds")})
        self._write_atomic(f"{self.base}/{POINTER}", body.encode())

    def add_file(self, version: str, name: str, data: bytes | str) -> None:
        """Add a report to a published version (e.g. an evaluation written by a later asset)."""
        if name == MANIFEST:
            raise ValueError("the manifest is written by publish()")
        payload = data.encode() if isinstance(data, str) else data
        self._write_atomic(f"{self.base}/{version}/{name}", payload)

    # -- reading ------------------------------------------------------------------------------------
    def versions(self) -> list[str]:
        """Published versions (those with a manifest), oldest first."""
        infos = self.fs.get_file_info(pafs.FileSelector(self.base, allow_not_found=True))
        names = [i.base_name for i in infos if i.type == pafs.FileType.Directory and not i.base_name.startswith(".")]
        published = self.fs.get_file_info([f"{self.base}/{n}/{MANIFEST}" for n in names])
        return sorted(n for n, info in zip(names, published, strict=True) if info.type == pafs.FileType.File)

    def latest(self) -> str | None:
        """The published latest version, or None before the first publish."""
        try:
            with self.fs.open_input_stream(f"{self.base}/{POINTER}") as stream:
                return json.loads(stream.read())["version"]
        except FileNotFoundError:
            return None

    def require(self, version: str | None = None) -> str:
        """`version`, or the latest; a clear error when there is none."""
        found = version or self.latest()
        if found is None:
            raise ModelNotFound(f"no published model in {self.uri}: train it first")
        return found

    def manifest(self, version: str | None = None) -> dict[str, Any]:
        return json.loads(self.read_bytes(MANIFEST, version))

    def read_bytes(self, name: str, version: str | None = None) -> bytes:
        path = f"{self.base}/{self.require(version)}/{name}"
        try:
            with self.fs.open_input_stream(path) as stream:
                return stream.read()
        except FileNotFoundError:
            raise ModelNotFound(f"{name} not found in {self.uri}/{self.require(version)}") from None

    def read_text(self, name: str, version: str | None = None) -> str:
        return self.read_bytes(name, version).decode()

    def path(self, version: str | None = None) -> Path:
        """A local folder holding the version: the folder itself on a local root, else a cached download
        (versions never change once published, so the cache needs no invalidation)."""
        version = self.require(version)
        if self.local:
            return Path(self.base) / version
        cache = Path(tempfile.gettempdir()) / "storefront-models" / self.uri.replace("://", "/") / version
        if not (cache / MANIFEST).exists():
            partial = cache.with_name(f"{_STAGING}{version}-{uuid.uuid4().hex[:6]}")
            partial.mkdir(parents=True)  # pyarrow creates the sub-folders it copies into, not the target itself
            pafs.copy_files(
                f"{self.base}/{version}",
                str(partial),
                source_filesystem=self.fs,
                destination_filesystem=pafs.LocalFileSystem(),
            )
            os.replace(partial, cache)
        return cache

    # -- internals ----------------------------------------------------------------------------------
    def _upload(self, staging: Path, version: str) -> None:
        target = f"{self.base}/{version}"
        for path in sorted(staging.rglob("*"), key=lambda p: p.name == MANIFEST):
            if path.is_file():
                with self.fs.open_output_stream(f"{target}/{path.relative_to(staging)}") as out:
                    out.write(path.read_bytes())

    def _write_atomic(self, path: str, data: bytes) -> None:
        if self.local:
            tmp = f"{path}.{uuid.uuid4().hex[:6]}.tmp"
            Path(tmp).write_bytes(data)
            os.replace(tmp, path)
        else:
            with self.fs.open_output_stream(path) as out:  # an object PUT is all or nothing
                out.write(data)
