"""Quarantine: rejected input records, kept with their reason instead of being dropped.

One Delta table per source under `<root>/quarantine/<source>`, partitioned by the partition of
the asset that rejected them, so re-running a partition replaces its rejects instead of doubling
them. Assets report the counts as metadata and fail loudly when the reject share is too high.

A record is kept whole up to `MAX_RAW_CHARS`; a longer one keeps its first `MAX_RAW_CHARS` characters with
`raw_truncated` set, and every record carries its byte length and SHA-256 (and, when the caller knows it, its
byte offset in the source file, `raw_offset`), so the rest can be cut out of the file and verified:
`tail -c +$((raw_offset + 1)) FILE | head -c raw_bytes | sha256sum`. Locations that are URLs lose their query
string, fragment and user info (tokens live there).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa

from foundation.storage.delta_tables import DeltaStore, Window

QUARANTINE_SCHEMA = pa.schema(
    [
        ("source_partition", pa.string()),
        ("location", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
        ("run_id", pa.string()),
        ("quarantined_at", pa.timestamp("us", tz="UTC")),
        ("raw_bytes", pa.int64()),  # length of the whole record in bytes (UTF-8 for text)
        ("raw_sha256", pa.string()),  # of those bytes
        ("raw_offset", pa.int64()),  # byte offset of the record in its source file (decompressed), when known
        ("raw_truncated", pa.bool_()),  # `raw` holds only the first MAX_RAW_CHARS characters
    ]
)
# Added after the first release: an older quarantine table gets them (nullable) on its next commit.
_ADDED_COLUMNS = ("raw_bytes", "raw_sha256", "raw_offset", "raw_truncated")

MAX_RAW_CHARS = 100_000


def safe_location(location: str) -> str:
    """A location without the parts of a URL that carry secrets (query, fragment, user:password@)."""
    if "://" not in location:
        return location
    try:
        parts = urlsplit(location)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:  # not really a URL (a bad port, an unbalanced bracket): keep the part before any "?"
        return location.split("?", 1)[0].split("#", 1)[0]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class TooManyRejects(ValueError):
    """The share of rejected records says the input is broken, not just dirty."""


class Quarantine:
    """Collect rejects for one partition of one source, then commit them in one write."""

    def __init__(self, store: DeltaStore, partition: str = "__all__") -> None:
        self.store = store
        self.partition = partition
        self.rows: list[dict[str, Any]] = []

    def reject(self, raw: Any, reason: str, location: str = "", offset: int | None = None) -> None:
        """Keep `raw` (bytes, text or a JSON-able value) with its reason; `offset` is its byte offset in the file."""
        if isinstance(raw, bytes | bytearray):
            data = bytes(raw)
            text = data.decode("utf-8", "replace")
        else:
            text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
            data = text.encode("utf-8", "surrogatepass")
        self.rows.append(
            {
                "location": safe_location(str(location)),
                "reason": reason,
                "raw": text[:MAX_RAW_CHARS],
                "raw_bytes": len(data),
                "raw_sha256": hashlib.sha256(data).hexdigest(),
                "raw_offset": offset,
                "raw_truncated": len(text) > MAX_RAW_CHARS,
            }
        )

    @property
    def count(self) -> int:
        return len(self.rows)

    def reasons(self) -> dict[str, int]:
        # Reasons may carry details after a colon; count by the part before it.
        return dict(Counter(r["reason"].split(":", 1)[0] for r in self.rows).most_common())

    def check_share(self, total: int, max_share: float) -> None:
        if total and self.count / total > max_share:
            raise TooManyRejects(
                f"{self.count} of {total} records rejected ({self.count / total:.1%} > {max_share:.0%}) "
                f"for {self.store.uri} partition {self.partition}: {self.reasons()}"
            )

    def commit(self, run_id: str) -> dict[str, Any]:
        """Replace this partition's rejects with the current ones; return asset metadata."""
        now = datetime.now(UTC)
        table = pa.Table.from_pylist(
            [{**r, "source_partition": self.partition, "run_id": run_id, "quarantined_at": now} for r in self.rows],
            schema=QUARANTINE_SCHEMA,
        )
        window = Window.of("source_partition", self.partition)
        # A clean run writes only to clear an earlier run's rejects: no empty commit on every clean partition.
        if self.rows or (self.store.exists() and self.store.dataset(window).count_rows()):
            self._add_missing_columns()
            # Fewer rejects than last time is the point of fixing a file: the shrink guard does not apply.
            self.store.overwrite(table, window, allow_shrink=True)
        from dagster import MetadataValue

        return {
            "quarantined_rows": self.count,
            "quarantine_reasons": MetadataValue.json(self.reasons()),
            "quarantine_table": MetadataValue.path(self.store.uri),
        }

    def _add_missing_columns(self) -> None:
        if not self.store.exists():
            return
        from deltalake import Schema

        table = self.store.table()
        have = {f.name for f in table.schema().fields}
        missing = [QUARANTINE_SCHEMA.field(name) for name in _ADDED_COLUMNS if name not in have]
        if missing:
            table.alter.add_columns(Schema.from_arrow(pa.schema(missing)).fields)
