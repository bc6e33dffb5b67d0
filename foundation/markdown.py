"""Markdown tables for Dagster metadata (the UI renders `MetadataValue.md`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa


def _cell(value: Any, width: int | None = None) -> str:
    text = "" if value is None else str(value)
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]], width: int | None = None) -> str:
    """`| a | b |` rows under a header; values are escaped and, with `width`, cut to that many characters.
    Format numbers before passing them when a fixed precision matters."""
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v, width) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_rows(table: pa.Table, width: int = 40) -> str:
    """A few rows of an Arrow table, each value cut to `width` characters (review texts, nested lists)."""
    return markdown_table(table.column_names, (row.values() for row in table.to_pylist()), width=width)
