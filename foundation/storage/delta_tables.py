"""Delta table helper used by every asset.

Partitioned assets own a *window* of a table (one partition or a range). Writing a window is
delete-then-write in one Delta commit (`write_deltalake(mode="overwrite", predicate=...)`), so a
re-run replaces exactly its rows and a crashed write leaves the previous version readable.
The `dagster-deltalake` IO manager is deliberately not used: in 0.29.x it overwrites whole tables
for partitioned assets.

Shrink guard: a window overwrite that would leave one of the window's partitions empty, or with fewer than
`SHRINK_TOLERANCE` of the rows it had, raises `ShrinkRefused` before anything is committed, unless the caller
passes `allow_shrink=True` (ingestion assets expose it as the `allow_shrink` run config field). A source that
silently returns nothing must fail, not erase what was stored.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import AddAction
from tenacity import Retrying

from foundation.markdown import markdown_rows
from foundation.retries import retrying
from foundation.storage.parquet_files import PartitionFileWriter, file_schema

# Concurrent writers of disjoint partitions may race on the same commit number; deltalake's
# conflict checker lets the loser retry, which we do a bounded number of times.
_COMMIT_RETRIES = 8


def _commit_retrying() -> Retrying:
    return retrying(CommitFailedError, attempts=_COMMIT_RETRIES, first_wait=0.05)


PREVIEW_ROWS = 5
# A window overwrite keeping under this share of a partition's previous rows is refused unless allowed.
SHRINK_TOLERANCE = 0.5


class ShrinkRefused(ValueError):
    """An overwrite would empty or much shrink partitions that had rows; nothing was committed."""

    def __init__(self, uri: str, shrunk: Mapping[str, tuple[int, int]]) -> None:
        parts = ", ".join(f"{value}: {before:,} -> {after:,} rows" for value, (before, after) in sorted(shrunk.items()))
        super().__init__(
            f"refusing to shrink {uri} below {SHRINK_TOLERANCE:.0%} of its previous rows ({parts}); the table keeps "
            "its previous version. If the source really lost these rows, re-run with allow_shrink: true "
            "(run config of the asset, or the run tag storefront/allow_shrink=true)"
        )
        self.shrunk = dict(shrunk)


@dataclass(frozen=True)
class Window:
    """A set of partition values of one column: a list, or an inclusive range."""

    column: str
    values: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None

    @classmethod
    def of(cls, column: str, *values: str) -> Window:
        return cls(column=column, values=tuple(values))

    @classmethod
    def range(cls, column: str, start: str, end: str) -> Window:
        return cls(column=column, start=start, end=end)

    def predicate(self) -> str:
        """SQL predicate for deltalake's overwrite/delete."""
        col = f'"{self.column}"'
        if self.values:
            quoted = ", ".join(_quote(v) for v in self.values)
            return f"{col} IN ({quoted})"
        return f"{col} >= {_quote(self.start)} AND {col} <= {_quote(self.end)}"

    def partition_filters(self) -> list[tuple[str, str, Any]]:
        """The same window as deltalake partition filters, for commits of files written elsewhere."""
        if self.values:
            return [(self.column, "in", list(self.values))]
        return [(self.column, ">=", self.start), (self.column, "<=", self.end)]

    def expression(self) -> pads.Expression:
        """The same window as a pyarrow filter, for lazy reads."""
        col = pads.field(self.column)
        if self.values:
            return col.isin(list(self.values))
        return (col >= self.start) & (col <= self.end)

    def includes(self, value: str) -> bool:
        """Whether one partition value is in the window (string comparison, like `predicate`)."""
        if self.values:
            return value in self.values
        return str(self.start) <= value <= str(self.end)

    def contains(self, column: pa.ChunkedArray | pa.Array) -> pa.Array:
        if self.values:
            return pc.is_in(column, value_set=pa.array(list(self.values), column.type))
        return pc.and_(pc.greater_equal(column, self.start), pc.less_equal(column, self.end))


@dataclass
class _Streamed:
    """What a streamed write has seen so far: rows written and the first rows, for `WriteResult`."""

    rows: int = 0
    preview: pa.Table | None = None
    per_value: Counter = field(default_factory=Counter)  # rows per value of the window's column
    refused: ShrinkRefused | None = None  # raised at the end of the stream, re-raised unwrapped


def _local_root(uri: str) -> Path | None:
    """The folder of a table on the local file system; None for object stores."""
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    return None if "://" in uri else Path(uri)


def _split_by(table: pa.Table, column: str) -> Iterable[tuple[str, pa.Table]]:
    """(value, rows) per distinct value of `column`; a one-value table (the usual stream) is not copied."""
    bounds = pc.min_max(table[column])
    if table.num_rows == 0 or bounds["min"] == bounds["max"]:
        if table.num_rows:
            yield bounds["min"].as_py(), table
        return
    for value in pc.unique(table[column]).to_pylist():
        yield value, table.filter(pc.equal(table[column], value))


def _quote(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class WriteResult:
    """What one write did; `metadata()` is what assets put on their `MaterializeResult`."""

    uri: str
    version: int
    rows_written: int
    rows_total: int
    schema: pa.Schema
    partition_by: list[str] = field(default_factory=list)
    window: str | None = None
    seconds: float = 0.0
    preview: pa.Table | None = None  # the first rows written, shown as sample rows in the UI

    def metadata(self) -> dict[str, Any]:
        from dagster import MetadataValue, TableColumn, TableSchema

        columns = [TableColumn(f.name, str(f.type)) for f in self.schema]
        meta: dict[str, Any] = {
            "table_uri": MetadataValue.path(self.uri),
            "table_version": self.version,
            "rows_written": self.rows_written,
            "dagster/row_count": self.rows_total,
            "schema": MetadataValue.table_schema(TableSchema(columns=columns)),
            "write_seconds": round(self.seconds, 3),
        }
        if self.partition_by:
            meta["partition_by"] = ", ".join(self.partition_by)
        if self.window:
            meta["window"] = self.window
        if self.preview is not None and self.preview.num_rows:
            meta["sample_rows"] = MetadataValue.md(markdown_rows(self.preview))
        return meta


class DeltaStore:
    """One Delta table at `uri` with a fixed Arrow schema and partition columns."""

    def __init__(
        self,
        uri: str,
        schema: pa.Schema,
        partition_by: Sequence[str] = (),
        storage_options: Mapping[str, str] | None = None,
        personal_data: Sequence[str] = (),
    ) -> None:
        self.uri = uri
        self.schema = schema
        self.partition_by = list(partition_by)
        self.storage_options = dict(storage_options or {}) or None
        # Columns holding personal data never reach metadata: Dagster's event log keeps it for good.
        self.personal_data = [c for c in personal_data if c in schema.names]

    # -- reading -------------------------------------------------------------------------
    def exists(self) -> bool:
        return DeltaTable.is_deltatable(self.uri, storage_options=self.storage_options)

    def table(self, version: int | None = None) -> DeltaTable:
        return DeltaTable(self.uri, version=version, storage_options=self.storage_options)

    def version(self) -> int:
        return self.table().version()

    def count(self) -> int:
        return self.table().count() if self.exists() else 0

    def dataset(self, window: Window | None = None, version: int | None = None) -> pads.Dataset:
        """A lazy pyarrow dataset; filter it with `window.expression()` or read it whole."""
        ds = self.table(version).to_pyarrow_dataset()
        return ds.filter(window.expression()) if window is not None else ds

    def read(self, window: Window | None = None, columns: list[str] | None = None) -> pa.Table:
        if not self.exists():
            return self.schema.empty_table()
        return self.dataset(window).to_table(columns=columns)

    # -- writing -------------------------------------------------------------------------
    def ensure(self) -> DeltaTable:
        """Create the (empty) table with its explicit schema unless it exists."""
        try:
            return self.table()
        except TableNotFoundError:
            pass
        try:
            return DeltaTable.create(
                self.uri,
                schema=self.schema,
                partition_by=self.partition_by or None,
                mode="ignore",
                storage_options=self.storage_options,
            )
        except Exception:  # another process created it first
            return self.table()

    def overwrite(
        self, data: pa.Table | Iterable[pa.RecordBatch], window: Window, allow_shrink: bool = False
    ) -> WriteResult:
        """Replace exactly the rows of `window` with `data` (idempotent re-runs).

        Raises `ShrinkRefused` before committing when a partition of the window would keep under
        `SHRINK_TOLERANCE` of its previous rows (empty included), unless `allow_shrink`.
        """
        table = self._conform(data)
        self._check_window(table, window)
        if not allow_shrink:
            after = Counter({e["values"]: e["counts"] for e in pc.value_counts(table[window.column]).to_pylist()})
            self._check_shrink(self.partition_counts(window), after)
        return self._commit(table, mode="overwrite", predicate=window.predicate(), label=window.predicate())

    def partition_counts(self, window: Window) -> dict[str, int]:
        """Rows per value of the window's column in the current version, from the Delta log's file
        statistics when the column is a partition column (no data read), else by scanning that column."""
        if not self.exists():
            return {}
        if window.column in self.partition_by:
            actions = pa.table(self.table().get_add_actions(flatten=True))
            column = f"partition.{window.column}"
            if column in actions.column_names and actions["num_records"].null_count == 0:
                counts: Counter = Counter()
                for value, n in zip(actions[column].to_pylist(), actions["num_records"].to_pylist(), strict=True):
                    if value is not None and window.includes(str(value)):
                        counts[str(value)] += n
                return dict(counts)
        values = self.dataset(window).to_table(columns=[window.column])[window.column]
        return {str(e["values"]): e["counts"] for e in pc.value_counts(values).to_pylist()}

    def _check_shrink(self, before: Mapping[str, int], after: Mapping[str, int]) -> None:
        shrunk = {v: (n, after.get(v, 0)) for v, n in before.items() if n and after.get(v, 0) < n * SHRINK_TOLERANCE}
        if shrunk:
            raise ShrinkRefused(self.uri, shrunk)

    def overwrite_stream(
        self,
        batches: Iterable[pa.RecordBatch],
        window: Window,
        target_file_size: int | None = None,
        allow_shrink: bool = False,
    ) -> WriteResult:
        """`overwrite` for inputs larger than memory: batches stream into one commit.

        The shrink guard (see `overwrite`) runs when the stream ends, before the commit.

        An exception raised by the batch iterator aborts the write before the commit, so the table
        keeps its previous version (a broken file never replaces good rows). A local table whose only
        partition column is the window's gets the Parquet files written by pyarrow and committed as add
        actions (`parquet_files`, about half the CPU); any other table streams through `write_deltalake`.
        """
        started = time.perf_counter()
        self.ensure()
        before = None if allow_shrink else self.partition_counts(window)
        root = _local_root(self.uri)
        if root is None or self.partition_by != [window.column]:
            return self._overwrite_stream_with_delta_rs(batches, window, target_file_size, started, before)
        schema = file_schema(self.schema, self.partition_by)
        writers: dict[str, PartitionFileWriter] = {}
        seen = _Streamed()
        try:
            for table in self._conformed(batches, window, seen, before):
                for value, part in _split_by(table, window.column):
                    if value not in writers:
                        writers[value] = PartitionFileWriter(root, schema, {window.column: value}, target_file_size)
                    for piece in part.drop_columns(self.partition_by).cast(schema).to_batches():
                        writers[value].write(piece)
            actions = [action for writer in writers.values() for action in writer.close()]
            self._commit_files(actions, window)
        except BaseException:
            for writer in writers.values():
                writer.abort()
            raise
        return self._result(seen.rows, window.predicate(), started, seen.preview)

    def _overwrite_stream_with_delta_rs(
        self,
        batches: Iterable[pa.RecordBatch],
        window: Window,
        target_file_size: int | None,
        started: float,
        before: Mapping[str, int] | None,
    ) -> WriteResult:
        seen = _Streamed()
        conformed = (b for table in self._conformed(batches, window, seen, before) for b in table.to_batches())
        try:
            write_deltalake(
                self.uri,
                pa.RecordBatchReader.from_batches(self.schema, conformed),
                mode="overwrite",
                predicate=window.predicate(),
                partition_by=self.partition_by or None,
                storage_options=self.storage_options,
                target_file_size=target_file_size,
            )
        except Exception:
            if seen.refused is not None:  # delta-rs wraps errors of the batch reader
                raise seen.refused from None
            raise
        return self._result(seen.rows, window.predicate(), started, seen.preview)

    def _conformed(
        self,
        batches: Iterable[pa.RecordBatch],
        window: Window,
        seen: _Streamed,
        before: Mapping[str, int] | None = None,
    ) -> Iterator[pa.Table]:
        """Each batch in the declared schema and inside `window`; `seen` counts the rows and keeps the first few.
        With `before` (previous rows per partition), the shrink guard runs after the last batch."""
        for batch in batches:
            table = self._conform(pa.Table.from_batches([batch]))
            self._check_window(table, window)
            seen.rows += table.num_rows
            if before is not None:
                for value, part in _split_by(table, window.column):
                    seen.per_value[str(value)] += part.num_rows
            if seen.preview is None or not seen.preview.num_rows:
                seen.preview = table.slice(0, PREVIEW_ROWS)
            yield table
        if before is not None:
            try:
                self._check_shrink(before, seen.per_value)
            except ShrinkRefused as error:
                seen.refused = error
                raise

    def _commit_files(self, actions: list[AddAction], window: Window) -> None:
        """One commit that removes the window's files and adds `actions` (retried on a concurrent commit)."""
        for attempt in _commit_retrying():
            with attempt:
                table = self.table()
                table.create_write_transaction(
                    actions,
                    mode="overwrite",
                    schema=table.schema(),
                    partition_by=self.partition_by,
                    partition_filters=window.partition_filters(),
                )

    def append(self, data: pa.Table | Iterable[pa.RecordBatch]) -> WriteResult:
        return self._commit(self._conform(data), mode="append", predicate=None, label=None)

    def replace_all(self, data: pa.Table | Iterable[pa.RecordBatch]) -> WriteResult:
        """Overwrite the whole table (for unpartitioned, fully recomputed assets)."""
        return self._commit(self._conform(data), mode="overwrite", predicate=None, label="all")

    def delete(self, window: Window) -> int:
        self.ensure()
        metrics = self.table().delete(window.predicate())
        return int(metrics.get("num_deleted_rows", 0))

    def merge(self, data: pa.Table | Iterable[pa.RecordBatch], keys: Sequence[str]) -> WriteResult:
        """Upsert by key: update matching rows, insert new ones."""
        table = self._conform(data)
        started = time.perf_counter()
        self.ensure()
        on = " AND ".join(f't."{k}" = s."{k}"' for k in keys)
        for attempt in _commit_retrying():
            with attempt:
                (
                    self.table()
                    .merge(table, predicate=on, source_alias="s", target_alias="t")
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .execute()
                )
        return self._result(table.num_rows, f"merge on {', '.join(keys)}", started, table.slice(0, PREVIEW_ROWS))

    def _check_window(self, table: pa.Table, window: Window) -> None:
        inside = pc.sum(window.contains(table[window.column])).as_py() or 0
        if outside := table.num_rows - inside:
            raise ValueError(
                f"{outside} of {table.num_rows} rows fall outside the window {window.predicate()} "
                f"of {self.uri}; refusing to write them"
            )

    def _conform(self, data: pa.Table | Iterable[pa.RecordBatch]) -> pa.Table:
        """Cast to the declared schema; an unexpected or missing column is a loud error."""
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches(list(data), schema=self.schema)
        expected, got = set(self.schema.names), set(table.column_names)
        if expected != got:
            raise ValueError(
                f"columns of {self.uri} do not match its schema: "
                f"unexpected {sorted(got - expected)}, missing {sorted(expected - got)}"
            )
        return table.select(self.schema.names).cast(self.schema)

    def _commit(self, table: pa.Table, mode: str, predicate: str | None, label: str | None) -> WriteResult:
        started = time.perf_counter()
        self.ensure()
        for attempt in _commit_retrying():
            with attempt:
                write_deltalake(
                    self.uri,
                    table,
                    mode=mode,
                    predicate=predicate,
                    partition_by=self.partition_by or None,
                    storage_options=self.storage_options,
                )
        return self._result(table.num_rows, label, started, table.slice(0, PREVIEW_ROWS))

    def _result(
        self, rows_written: int, label: str | None, started: float, preview: pa.Table | None = None
    ) -> WriteResult:
        dt = self.table()
        return WriteResult(
            uri=self.uri,
            version=dt.version(),
            rows_written=rows_written,
            rows_total=dt.count(),
            schema=self.schema,
            partition_by=self.partition_by,
            window=label,
            seconds=time.perf_counter() - started,
            preview=self._masked(preview),
        )

    def _masked(self, preview: pa.Table | None) -> pa.Table | None:
        if preview is None or not self.personal_data:
            return preview
        hidden = pa.array(["(personal data)"] * preview.num_rows, pa.string())
        for column in self.personal_data:
            preview = preview.set_column(preview.schema.get_field_index(column), column, hidden)
        return preview
