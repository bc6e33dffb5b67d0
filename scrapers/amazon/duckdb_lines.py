"""Strict JSON lines through DuckDB's reader: DuckDB's speed without its coercions.

DuckDB parses a chunk of JSON lines about twice as cheaply as Arrow's reader, but casts whatever it finds to the
declared type: 1.5 into a BIGINT becomes 2, `true` becomes 1, a number or an object in a VARCHAR becomes its text.
A bad line must be rejected, not repaired, so DuckDB only gets the work it cannot get wrong:

- strings are read as VARCHAR (the bulk of the bytes, decoded and UTF-8-checked by DuckDB);
- every other field is read as loose `JSON` text and judged here, vectorised, with Arrow's strict rules: numbers
  must cast (an integer column refuses `1.5`, `"5"`, `true`, overflow), booleans must be `true`/`false`, and
  nested values (lists of structs) are re-read by Arrow's own parser with the explicit schema, which is cheap
  because they are short;
- a string that DuckDB may have made out of a non-string (its text looks like a number, `true`/`false`, or a
  serialised object or list) marks its line as a candidate; candidate lines are re-read by Arrow's strict parser,
  and the chunk is refused if any of them is not what the schema says. Ordinary text almost never looks like that.

`strict_table` returns None whenever it cannot vouch for the chunk (malformed JSON, blank lines, a value of the
wrong type, a line DuckDB cannot read); the caller then takes its exact, slower path for that chunk, which finds
and explains the bad lines. So this module never decides what a reject is: it only proves a chunk clean.
"""

from __future__ import annotations

import os
import tempfile
import threading

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from scrapers.amazon.mapped_chunks import BY_DESCRIPTOR, RAM_DISK, descriptor_path

# First characters of the text DuckDB writes for a non-string in a VARCHAR column (numbers, NaN, Infinity, true,
# false, objects, lists); only strings starting with one of these are tested further.
_SUSPECT_FIRST = np.zeros(256, bool)
_SUSPECT_FIRST[np.frombuffer(b"-0123456789tfNI{[", np.uint8)] = True
# What that text looks like in full (`1e5` comes out as `100000.0`; objects and lists are re-serialised).
_COERCED_TEXT = r"^(?:-?[0-9][0-9.eE+\-]*|true|false|NaN|-?Infinity|\{.*\}|\[.*\])$"
_NEWLINE = ord("\n")


def _duckdb_type(data_type: pa.DataType) -> str:
    return "VARCHAR" if pa.types.is_string(data_type) else "JSON"


class StrictJsonLines:
    """Parses chunks of JSON lines into `schema` (fields absent from a line are null, other fields are ignored),
    or refuses them. One DuckDB connection per calling thread, each single-threaded: callers parse whole chunks
    side by side (`scrapers.amazon.jsonl.read_chunks`), and DuckDB releases the GIL while it reads."""

    def __init__(self, schema: pa.Schema, parse_options: pa_json.ParseOptions) -> None:
        self.schema = schema
        self.parse_options = parse_options  # Arrow's strict reading of the same schema, for re-reads
        columns = ", ".join(f"{_quote(f.name)}: '{_duckdb_type(f.type)}'" for f in schema)
        self._query = f"SELECT * FROM read_json($path, format='newline_delimited', columns={{{columns}}})"
        self._local = threading.local()

    def strict_table(
        self, chunk: bytes | bytearray | memoryview, lines: int, path: str | None = None
    ) -> pa.Table | None:
        """The chunk's rows in `schema`, exactly as Arrow's strict reader would give them, one row per line;
        None when the chunk needs the exact path (see the module docstring). `path`: a file holding exactly the
        chunk's bytes, which DuckDB then reads instead of a scratch copy (`scrapers.amazon.mapped_chunks`)."""
        try:
            loose = self._read(chunk, path)
        except (duckdb.Error, pa.ArrowException, OSError):  # OSError: no room for the scratch copy in /dev/shm
            return None
        if loose.num_rows != lines:  # blank lines (DuckDB skips them) or a line it read as several rows
            return None
        columns = []
        for field in self.schema:
            column = loose[field.name]
            if not pa.types.is_string(field.type):  # strings (the bulk) stay in DuckDB's pieces, uncopied
                column = _strict_column(column.combine_chunks(), field, self.parse_options)
            if column is None:
                return None
            columns.append(column)
        table = pa.Table.from_arrays(columns, schema=self.schema)
        suspects = self._suspect_rows(table)
        if suspects.size and not self._reread_is_identical(chunk, suspects, table):
            return None
        return table

    def _read(self, chunk: bytes | bytearray | memoryview, path: str | None) -> pa.Table:
        local = self._local
        if getattr(local, "connection", None) is None:
            # The file cache is off: the files below keep their names while their bytes change.
            local.connection = duckdb.connect(config={"threads": 1, "enable_external_file_cache": False})
            # Queries are prepared once per file: DuckDB's Python layer tokenises and binds SQL text on every
            # call (~5% more).
            local.relations = {}
            # DuckDB reads files, not Python buffers (a file-like object is read back through the GIL). Without a
            # `path`, each thread rewrites one unlinked file in memory, which DuckDB opens by its descriptor:
            # filling a fresh file took ~9% of the parse in page allocation, and nothing is left behind however
            # the thread ends.
            # Chunks go to DuckDB as files in memory where the system has a RAM disk (a 16 MB copy costs ~2 ms).
            local.scratch = tempfile.TemporaryFile(dir=RAM_DISK) if BY_DESCRIPTOR else None  # noqa: SIM115 (per thread)
        if path is None and local.scratch is not None:
            fd = local.scratch.fileno()
            os.pwrite(fd, chunk, 0)
            os.ftruncate(fd, len(chunk))
            path = descriptor_path(fd)
        if path is None:
            with tempfile.NamedTemporaryFile(dir=RAM_DISK, suffix=".jsonl") as scratch:
                scratch.write(chunk)
                scratch.flush()
                return local.connection.sql(self._query, params={"path": scratch.name}).to_arrow_table()
        relation = local.relations.get(path)
        if relation is None:
            relation = local.relations[path] = local.connection.sql(self._query.replace("$path", _literal(path)))
        return relation.to_arrow_table()

    def _suspect_rows(self, table: pa.Table) -> np.ndarray:
        """Rows whose strings might be DuckDB's text for a non-string value: first bytes from the offsets (numpy),
        the regular expression only on the few strings that start like a number, a literal, an object or a list."""
        suspect = np.zeros(table.num_rows, bool)
        for field in self.schema:
            if not pa.types.is_string(field.type):
                continue
            row = 0
            for piece in table[field.name].chunks:
                first = _first_bytes_suspect(piece)
                if first.any():
                    rows = np.flatnonzero(first)
                    coerced = pc.match_substring_regex(piece.take(pa.array(rows)), _COERCED_TEXT)
                    suspect[row + rows[pc.fill_null(coerced, False).to_numpy(zero_copy_only=False)]] = True
                row += len(piece)
        return np.flatnonzero(suspect)

    def _reread_is_identical(self, chunk: bytes | bytearray | memoryview, rows: np.ndarray, table: pa.Table) -> bool:
        """Arrow's strict reader on the suspect lines alone: they must parse, into the same values."""
        ends = np.flatnonzero(np.frombuffer(chunk, np.uint8) == _NEWLINE)
        starts = np.concatenate([[0], ends[:-1] + 1])
        view = memoryview(chunk)
        lines = b"".join(view[starts[row] : ends[row] + 1] for row in rows)
        try:
            strict = pa_json.read_json(
                pa.BufferReader(lines),
                read_options=pa_json.ReadOptions(use_threads=False, block_size=max(1 << 20, len(lines) + 1)),
                parse_options=self.parse_options,
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return False
        return strict.num_rows == rows.size and strict.select(self.schema.names).equals(table.take(pa.array(rows)))


def _first_bytes_suspect(strings: pa.Array) -> np.ndarray:
    """Per value of a string array: is it non-empty and does its first byte start a suspect text."""
    offsets = np.frombuffer(strings.buffers()[1], np.int32, count=len(strings) + 1, offset=4 * strings.offset)
    data = strings.buffers()[2]
    if data is None or not data.size:
        return np.zeros(len(strings), bool)
    starts, lengths = offsets[:-1], np.diff(offsets)
    first = np.frombuffer(data, np.uint8)[np.minimum(starts, data.size - 1)]
    flagged = _SUSPECT_FIRST[first] & (lengths > 0)
    if strings.null_count:
        flagged &= strings.is_valid().to_numpy(zero_copy_only=False)
    return flagged


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _strict_column(raw: pa.Array, field: pa.Field, parse_options: pa_json.ParseOptions) -> pa.Array | None:
    """`raw` (DuckDB's VARCHAR, or JSON text) as `field.type` under Arrow's rules; None where a value breaks them."""
    data_type = field.type
    if pa.types.is_string(data_type):
        return raw
    if pa.types.is_boolean(data_type):
        if not pc.all(pc.is_in(raw, value_set=pa.array(["true", "false"]), skip_nulls=True)).as_py():
            return None
        return pc.equal(raw, "true")
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
        # Arrow's string -> number casts refuse `1.5` for an integer, quoted numbers, `true`, and overflow; DuckDB
        # writes numbers plainly (`1e5` as `100000.0`, which an integer column refuses like Arrow's reader does).
        try:
            return pc.cast(raw, data_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    # Nested values: Arrow's reader, with the explicit schema, on `{"value": <value>}` for each value that is not
    # null or an empty list (most rows: no images), then put back in place with one `take`.
    rows = np.flatnonzero(~_empty_list_or_null(raw))
    parsed = _read_nested(raw.take(pa.array(rows)), data_type, parse_options) if rows.size else pa.array([], data_type)
    if parsed is None:
        return None
    if rows.size == len(raw):
        return parsed
    # Index into [parsed values..., an empty list, a null]: each row picks its own.
    index = np.where(pc.is_null(raw).to_numpy(zero_copy_only=False), len(parsed) + 1, len(parsed))
    index[rows] = np.arange(rows.size)
    empty_or_null = (
        pa.array([[], None], data_type) if pa.types.is_list(data_type) else pa.array([None, None], data_type)
    )
    return pa.concat_arrays([parsed, empty_or_null]).take(pa.array(index))


def _empty_list_or_null(raw: pa.Array) -> np.ndarray:
    """Per JSON text: is it `[]` or null (the only two-byte JSON starting with `[`), from the offsets with numpy
    (`pc.equal` against a string scalar measured ~40x slower here)."""
    offsets = np.frombuffer(raw.buffers()[1], np.int32, count=len(raw) + 1, offset=4 * raw.offset)
    data = raw.buffers()[2]
    if data is None or not data.size:
        return np.ones(len(raw), bool)
    first = np.frombuffer(data, np.uint8)[np.minimum(offsets[:-1], data.size - 1)]
    empty = (np.diff(offsets) == 2) & (first == ord("["))
    return empty | ~raw.is_valid().to_numpy(zero_copy_only=False) if raw.null_count else empty


def _read_nested(raw: pa.Array, data_type: pa.DataType, parse_options: pa_json.ParseOptions) -> pa.Array | None:
    wrapped = pc.binary_join_element_wise('{"value":', pc.fill_null(raw, "null"), "}\n", "")
    # The joined values are the document: one line per row, taken from the array's data buffer without a copy.
    offsets = np.frombuffer(wrapped.buffers()[1], np.int32, count=len(wrapped) + 1, offset=4 * wrapped.offset)
    text = wrapped.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    options = pa_json.ParseOptions(
        explicit_schema=pa.schema([("value", data_type)]),
        unexpected_field_behavior=parse_options.unexpected_field_behavior,
    )
    try:
        table = pa_json.read_json(
            pa.BufferReader(text),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=max(1 << 20, text.size + 1)),
            parse_options=options,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table["value"].combine_chunks() if table.num_rows == len(raw) else None
