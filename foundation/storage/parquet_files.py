"""Parquet data files written straight from Arrow, committed to a Delta table as add actions.

This is the fast path of `DeltaStore.overwrite_stream` for local tables. Writing through `write_deltalake`
costs about twice the CPU of pyarrow's C++ Parquet encoder on wide text (measured on Amazon reviews: ~300 vs
~600 MB of JSON per CPU-second), partly because delta-rs re-splits every batch by partition value and tries
dictionary encoding on every column. Here a stream is already one partition per file, long text columns skip
dictionary encoding (a dictionary of unique review texts is pure waste), and the files are committed in one
Delta transaction with their statistics, exactly as delta-rs would have written them.

The files land under the table's Hive-style partition folder before the commit, so a crash leaves only
unreferenced files (removed by `VACUUM`) and the table at its previous version.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake.transaction import AddAction

# Dictionary encoding only pays where values repeat: below this share of distinct values in the first row group
# (ratings, categories, item ids). Unique values (review texts, timestamps, line numbers) would fill a dictionary
# page, be thrown away and re-encoded plain: ~20% of the encoder's CPU on Amazon reviews.
DICTIONARY_MAX_DISTINCT_SHARE = 0.5
# A string column whose values average more bytes than this is free text: no min/max statistics (useless for
# skipping, and costly to compute on long values).
FREE_TEXT_MEAN_BYTES = 48
ROW_GROUP_BYTES = 64 << 20  # of Arrow data buffered before a row group is written


def delta_physical_type(data_type: pa.DataType) -> pa.DataType:
    """The Arrow type delta-rs writes for `data_type`: Delta timestamps are microseconds."""
    if pa.types.is_timestamp(data_type):
        return pa.timestamp("us", tz="UTC" if data_type.tz else None)
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return pa.list_(delta_physical_type(data_type.value_type))
    if pa.types.is_struct(data_type):
        return pa.struct([f.with_type(delta_physical_type(f.type)) for f in data_type])
    return data_type


def file_schema(schema: pa.Schema, partition_by: list[str]) -> pa.Schema:
    """What a data file holds: the table's columns without the partition columns (they live in the path)."""
    return pa.schema([f.with_type(delta_physical_type(f.type)) for f in schema if f.name not in partition_by])


def partition_folder(partition_values: Mapping[str, str]) -> str:
    """Hive-style `col=value/` with the value escaped the way delta-rs escapes it (`A b/c` -> `A%20b%2Fc`)."""
    return "/".join(f"{col}={urllib.parse.quote(str(value), safe='')}" for col, value in partition_values.items())


class PartitionFileWriter:
    """Rolling Parquet files for one partition of a Delta table at `root`; `close()` returns their add actions."""

    def __init__(
        self,
        root: Path,
        schema: pa.Schema,
        partition_values: Mapping[str, str],
        target_file_size: int | None = None,
    ) -> None:
        self.root = root
        self.schema = schema
        self.partition_values = dict(partition_values)
        self.folder = partition_folder(self.partition_values)
        self.target_file_size = target_file_size or 64 << 20
        self.actions: list[AddAction] = []
        self._pending: list[pa.RecordBatch] = []
        self._pending_bytes = 0
        self._writer: pq.ParquetWriter | None = None
        self._sink: pa.NativeFile | None = None
        self._path: str | None = None
        self._plan: tuple[list[str], list[str]] | None = None
        self._written: list[Path] = []

    def write(self, batch: pa.RecordBatch) -> None:
        """Buffer `batch` (already in `schema`); full row groups go to the current file."""
        if batch.num_rows:
            self._pending.append(batch)
            self._pending_bytes += batch.nbytes
            if self._pending_bytes >= ROW_GROUP_BYTES:
                self._flush()

    def close(self) -> list[AddAction]:
        self._flush()
        self._finish_file()
        return self.actions

    def abort(self) -> None:
        """Remove every file this writer started: none of them was committed."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for path in self._written:
            path.unlink(missing_ok=True)

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        self._pending, self._pending_bytes = [], 0
        if self._plan is None:
            self._plan = encoding_plan(table)
        if self._writer is None:
            self._start_file()
        self._writer.write_table(table, row_group_size=table.num_rows)
        if self._sink.tell() >= self.target_file_size:
            self._finish_file()

    def _start_file(self) -> None:
        name = f"part-{uuid.uuid4()}-c000.snappy.parquet"
        relative = f"{self.folder}/{name}" if self.folder else name
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        self._written.append(path)
        self._path = relative
        self._sink = pa.OSFile(str(path), "wb")
        dictionary, statistics = self._plan
        self._writer = pq.ParquetWriter(
            self._sink, self.schema, compression="snappy", use_dictionary=dictionary, write_statistics=statistics
        )

    def _finish_file(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        metadata = self._writer.writer.metadata  # the footer just written (pyarrow keeps it on the inner writer)
        self._sink.close()
        path = self.root / self._path
        self.actions.append(
            AddAction(
                path=self._path,
                size=path.stat().st_size,
                partition_values=self.partition_values,
                modification_time=int(time.time() * 1000),
                data_change=True,
                stats=json.dumps(delta_stats(metadata, self.schema)),
            )
        )
        self._writer = self._sink = self._path = None


def encoding_plan(table: pa.Table, sample_rows: int = 20_000) -> tuple[list[str], list[str]]:
    """(columns to dictionary-encode, columns to keep min/max statistics for), decided on the first rows
    (hashing a whole row group of review texts to count them costs as much as encoding it)."""
    dictionary, statistics = [], []
    table = table.slice(0, sample_rows)
    for f in table.schema:
        column = table[f.name]
        values = column.length() - column.null_count
        if pa.types.is_nested(f.type):
            dictionary.append(f.name)  # image and link lists: mostly empty, short repeated strings
            continue
        if not values or pc.count_distinct(column).as_py() < DICTIONARY_MAX_DISTINCT_SHARE * values:
            dictionary.append(f.name)
        if not _is_free_text(column, values):
            statistics.append(f.name)
    return dictionary, statistics


def _is_free_text(column: pa.ChunkedArray, values: int) -> bool:
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) or not values:
        return False
    return pc.sum(pc.binary_length(column)).as_py() / values > FREE_TEXT_MEAN_BYTES


def delta_stats(metadata: pq.FileMetaData, schema: pa.Schema) -> dict[str, Any]:
    """Delta's per-file statistics (`numRecords`, `minValues`, `maxValues`, `nullCount`) from the Parquet footer,
    for top-level primitive columns: what data skipping and `DeltaTable.count()` read."""
    top_level = {f.name: f.type for f in schema if not pa.types.is_nested(f.type)}
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for c in range(metadata.num_columns):
        name = metadata.schema.column(c).path
        if name not in top_level:
            continue
        lows, highs, null_count, complete = [], [], 0, True
        for g in range(metadata.num_row_groups):
            stats = metadata.row_group(g).column(c).statistics
            if stats is None or not stats.has_null_count:
                complete = False
                break
            null_count += stats.null_count
            if stats.has_min_max:
                lows.append(stats.min)
                highs.append(stats.max)
            elif stats.num_values:  # values but no bounds (free text): no min/max for this file
                complete = False
        if not complete:
            continue
        nulls[name] = null_count
        if lows:
            mins[name] = _json_value(min(lows), top_level[name])
            maxs[name] = _json_value(max(highs), top_level[name], round_up=True)
    return {"numRecords": metadata.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}


def _json_value(value: Any, data_type: pa.DataType, round_up: bool = False) -> Any:
    if pa.types.is_timestamp(data_type):
        # Delta keeps milliseconds (`2021-08-26T14:46:28.511Z`); a maximum is rounded up so it still bounds the data.
        moment = value if isinstance(value, datetime) else datetime.fromtimestamp(value / 1e6, UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if round_up and moment.microsecond % 1000:
            moment += timedelta(microseconds=1000 - moment.microsecond % 1000)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if pa.types.is_date(data_type):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
