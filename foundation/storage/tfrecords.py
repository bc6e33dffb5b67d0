"""TFRecord shard writer used by every asset that writes TFRecords.

It writes `tf.train.Example` records without importing TensorFlow (the proto is small enough to
encode by hand, and ingestion steps should not pay TensorFlow's import time or clash with other
proto packages). Shards are cut by size, named deterministically per partition, published
atomically (temp name, then rename) and described by a JSON manifest from which
`foundation.storage.tfrecord_datasets.dataset_from_manifest` builds a `tf.data` pipeline without other knowledge.
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import google_crc32c
import pyarrow as pa
import pyarrow.fs as pafs

from foundation.storage.filesystems import filesystem

Kind = Literal["bytes", "int64", "float"]
DEFAULT_SHARD_BYTES = 64 * 1024 * 1024
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class FeatureSpec:
    """How one feature is stored: its kind and fixed length (None means variable length)."""

    kind: Kind
    length: int | None = 1

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "length": self.length}


# -- protobuf and record framing --------------------------------------------------------------


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 is ten bytes of two's complement
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    return _varint(tag << 3 | 2) + _varint(len(payload)) + payload


def _feature(kind: Kind, values: Sequence[Any]) -> bytes:
    if kind == "bytes":
        body = b"".join(_field(1, v.encode() if isinstance(v, str) else bytes(v)) for v in values)
        return _field(1, body)
    if kind == "float":
        packed = struct.pack(f"<{len(values)}f", *values)
        return _field(2, _field(1, packed) if values else b"")
    packed = b"".join(_varint(int(v)) for v in values)
    return _field(3, _field(1, packed) if values else b"")


def encode_example(features: Mapping[str, tuple[Kind, Sequence[Any]]]) -> bytes:
    """Serialise a `tf.train.Example` from {name: (kind, values)}; keys are sorted for determinism."""
    entries = b"".join(
        _field(1, _field(1, name.encode()) + _field(2, _feature(kind, values)))
        for name, (kind, values) in sorted(features.items())
    )
    return _field(1, entries)


def _masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame_record(data: bytes) -> bytes:
    """TFRecord framing: length, CRC of length, data, CRC of data."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", _masked_crc(length)) + data + struct.pack("<I", _masked_crc(data))


# -- shard writer --------------------------------------------------------------------------------


@dataclass
class Manifest:
    """What a reader needs: shard paths (relative to the manifest), counts and the feature spec."""

    features: dict[str, FeatureSpec]
    shards: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def examples(self) -> int:
        return sum(s["examples"] for s in self.shards)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": "tfrecord",
                "compression": None,
                "features": {k: v.to_json() for k, v in self.features.items()},
                "examples": self.examples,
                "shards": self.shards,
                "metadata": self.metadata,
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw = json.loads(text)
        features = {k: FeatureSpec(v["kind"], v["length"]) for k, v in raw["features"].items()}
        return cls(features=features, shards=raw["shards"], metadata=raw.get("metadata", {}))


class ShardWriter:
    """Write examples of one partition into `<directory>/<prefix>-NNNNN.tfrecord` shards.

    Use as a context manager: shards become visible only when the writer closes cleanly; an
    exception or a killed process leaves only hidden `.tmp-*` files, which the next writer of the
    same directory removes. Re-running a partition replaces its shards and manifest.
    """

    def __init__(
        self,
        directory: str,
        features: Mapping[str, FeatureSpec],
        prefix: str = "part",
        shard_bytes: int = DEFAULT_SHARD_BYTES,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.fs, self.directory = filesystem(directory)
        self.uri = directory.rstrip("/")
        self.features = dict(features)
        self.prefix = prefix
        self.shard_bytes = shard_bytes
        self.manifest = Manifest(features=self.features, metadata=dict(metadata or {}))
        self._token = uuid.uuid4().hex[:8]
        self._pending: list[tuple[str, str, int, int]] = []  # tmp path, final name, examples, bytes
        self._stream: Any = None
        self._examples = 0
        self._bytes = 0

    def __enter__(self) -> ShardWriter:
        self.fs.create_dir(self.directory, recursive=True)
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, values: Mapping[str, Any]) -> None:
        """Write one example given {feature: value or sequence of values}."""
        features = {}
        for name, spec in self.features.items():
            value = values[name]
            seq = value if isinstance(value, (list, tuple)) or hasattr(value, "tolist") else [value]
            seq = seq.tolist() if hasattr(seq, "tolist") else seq
            if spec.length is not None and len(seq) != spec.length:
                raise ValueError(f"feature {name!r} expects {spec.length} values, got {len(seq)}")
            features[name] = (spec.kind, seq)
        self.write_serialized(encode_example(features))

    def write_serialized(self, example: bytes) -> None:
        record = frame_record(example)
        if self._stream is not None and self._bytes + len(record) > self.shard_bytes and self._examples:
            self._finish_shard()
        if self._stream is None:
            index = len(self._pending)
            tmp = f"{self.directory}/.tmp-{self._token}-{index:05d}"
            self._pending.append((tmp, "", 0, 0))
            self._stream = self.fs.open_output_stream(tmp)
        self._stream.write(record)
        self._examples += 1
        self._bytes += len(record)

    def write_all(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.write(row)

    def _finish_shard(self) -> None:
        self._stream.close()
        tmp, _, _, _ = self._pending[-1]
        self._pending[-1] = (tmp, "", self._examples, self._bytes)
        self._stream, self._examples, self._bytes = None, 0, 0

    def close(self) -> Manifest:
        if self._stream is not None:
            self._finish_shard()
        total = len(self._pending)
        # Remove this partition's old shards and anyone's leftovers, then publish by rename.
        for info in self.fs.get_file_info(pafs.FileSelector(self.directory)):
            if info.base_name.startswith((f"{self.prefix}-", ".tmp-")) and not any(
                info.path == p[0] for p in self._pending
            ):
                self.fs.delete_file(info.path)
        for index, (tmp, _, examples, size) in enumerate(self._pending):
            name = f"{self.prefix}-{index:05d}-of-{total:05d}.tfrecord"
            self.fs.move(tmp, f"{self.directory}/{name}")
            self.manifest.shards.append({"path": name, "examples": examples, "bytes": size})
        manifest_tmp = f"{self.directory}/.tmp-{self._token}-manifest"
        with self.fs.open_output_stream(manifest_tmp) as out:
            out.write(self.manifest.to_json().encode())
        self.fs.move(manifest_tmp, f"{self.directory}/{MANIFEST_NAME}")
        return self.manifest

    def abort(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        for tmp, *_ in self._pending:
            self.fs.delete_file(tmp)
        self._pending.clear()


class CorruptRecord(ValueError):
    """A TFRecord shard whose framing or CRC does not check out (truncated upload, bit rot)."""


def read_records(uri: str, buffer_bytes: int = 8 << 20) -> Iterator[bytes]:
    """The serialised examples of one shard, CRCs checked, streamed through pyarrow.fs (buffered reads, one
    ranged GET per buffer on an object store). TensorFlow 2.21 has no S3 filesystem (`tf.io.gfile` says
    "File system scheme 's3' not implemented" and tensorflow-io is no longer maintained), so `tf.data` reads
    object-store shards through this (`tfrecord_datasets.dataset_from_manifest`)."""
    fs, path = filesystem(uri)
    with fs.open_input_stream(path) as raw, pa.BufferedInputStream(raw, buffer_bytes) as stream:
        while header := stream.read(12):
            if len(header) < 12:
                raise CorruptRecord(f"{uri}: truncated record header")
            length_bytes, (length_crc,) = header[:8], struct.unpack("<I", header[8:])
            if _masked_crc(length_bytes) != length_crc:
                raise CorruptRecord(f"{uri}: record length CRC mismatch")
            (length,) = struct.unpack("<Q", length_bytes)
            body = stream.read(length + 4)
            if len(body) < length + 4:
                raise CorruptRecord(f"{uri}: truncated record")
            data, (data_crc,) = body[:length], struct.unpack("<I", body[length:])
            if _masked_crc(data) != data_crc:
                raise CorruptRecord(f"{uri}: record data CRC mismatch")
            yield data


def read_manifest(directory: str) -> Manifest:
    fs, path = filesystem(directory)
    with fs.open_input_stream(f"{path}/{MANIFEST_NAME}") as f:
        return Manifest.from_json(f.read().decode())


def shard_uris(directory: str, manifest: Manifest | None = None) -> list[str]:
    manifest = manifest or read_manifest(directory)
    base = directory.rstrip("/")
    return [f"{base}/{s['path']}" for s in manifest.shards]
