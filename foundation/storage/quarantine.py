"""Quarantine: rejected input records, kept with their reason instead of being dropped.

One Delta table per source under `<root>/quarantine/<source>`, partitioned by the partition of
the asset that rejected them, so re-running a partition replaces its rejects instead of doubling
them. Assets report the counts as metadata and fail loudly when the reject share is too high.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

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
    ]
)

MAX_RAW_CHARS = 10_000


class TooManyRejects(ValueError):
    """The share of rejected records says the input is broken, not just dirty."""


class Quarantine:
    """Collect rejects for one partition of one source, then commit them in one write."""

    def __init__(self, store: DeltaStore, partition: str = "__all__") -> None:
        self.store = store
        self.partition = partition
        self.rows: list[dict[str, Any]] = []

    def reject(self, raw: Any, reason: str, location: str = "") -> None:
        text = (
            raw
            if isinstance(raw, str)
            else (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else json.dumps(raw, default=str))
        )
        self.rows.append({"location": str(location), "reason": reason, "raw": text[:MAX_RAW_CHARS]})

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
            self.store.overwrite(table, window)
        from dagster import MetadataValue

        return {
            "quarantined_rows": self.count,
            "quarantine_reasons": MetadataValue.json(self.reasons()),
            "quarantine_table": MetadataValue.path(self.store.uri),
        }
