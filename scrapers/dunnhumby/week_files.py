"""Reading landed dunnhumby weekly transaction files into the table schema.

A file is either taken (bad lines go to the quarantine with a reason) or rejected whole with a
`FileRejected` that says why: no rows, unknown columns, or spreadsheet-mangled basket ids. The last is
the dangerous one: `9.94E+14` for every `BASKET_ID` would silently merge a week into one basket.

Bad lines include ragged ones (more or fewer fields than the header: pyarrow's CSV reader hands each to
`invalid_row_handler` with its line number and text, where polars either raises for the whole file or fills
the missing fields with nulls) and lines dated outside the file's shop week.
"""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv

from foundation.storage.filesystems import ObjectInfo

# Shop week 200601 starts on Monday 2006-02-27; every shop year has 52 weeks (checked against the
# real time.csv in tests).
FIRST_SHOP_WEEK_START = date(2006, 2, 27)
WEEKS_PER_SHOP_YEAR = 52

OFFICIAL_COLUMNS = [
    "SHOP_WEEK", "SHOP_DATE", "SHOP_WEEKDAY", "SHOP_HOUR", "QUANTITY", "SPEND", "PROD_CODE", "PROD_CODE_10",
    "PROD_CODE_20", "PROD_CODE_30", "PROD_CODE_40", "CUST_CODE", "CUST_PRICE_SENSITIVITY", "CUST_LIFESTAGE",
    "BASKET_ID", "BASKET_SIZE", "BASKET_PRICE_SENSITIVITY", "BASKET_TYPE", "BASKET_DOMINANT_MISSION",
    "STORE_CODE", "STORE_FORMAT", "STORE_REGION",
]  # fmt: skip
SEG_COLUMNS = [
    c.replace("CUST_PRICE_SENSITIVITY", "seg_1").replace("CUST_LIFESTAGE", "seg_2") for c in OFFICIAL_COLUMNS
]

# The public copy recodes the two customer segments 1:1 (see ../shared/data/README.md).
SEG_1_TO_PRICE_SENSITIVITY = {"CT": "MM", "AZ": "LA", "BG": "UM", "DY": "XX"}
SEG_2_TO_LIFESTAGE = {"BU": "OT", "DI": "YF", "AT": "YA", "FN": "PE", "CZ": "OA", "EQ": "OF"}
PRICE_SENSITIVITY_TO_SEG_1 = {v: k for k, v in SEG_1_TO_PRICE_SENSITIVITY.items()}
LIFESTAGE_TO_SEG_2 = {v: k for k, v in SEG_2_TO_LIFESTAGE.items()}


def shop_week_start(week: str | int) -> date:
    """Monday on which shop week `YYYYWW` starts."""
    year, number = divmod(int(week), 100)
    if not 1 <= number <= WEEKS_PER_SHOP_YEAR:
        raise ValueError(f"not a shop week: {week}")
    return FIRST_SHOP_WEEK_START + timedelta(weeks=(year - 2006) * WEEKS_PER_SHOP_YEAR + number - 1)


def next_shop_week(week: str) -> str:
    year, number = divmod(int(week), 100)
    return f"{year + 1}01" if number == WEEKS_PER_SHOP_YEAR else f"{year}{number + 1:02d}"


def shop_weeks(first: str, count: int) -> list[str]:
    weeks = [first]
    while len(weeks) < count:
        weeks.append(next_shop_week(weeks[-1]))
    return weeks


def shop_weekday(day: date) -> int:
    """The files count weekdays from Sunday = 1 to Saturday = 7."""
    return day.isoweekday() % 7 + 1


WEEK_FILE = re.compile(r"^transactions_(?P<week>\d{4}(0[1-9]|[1-4]\d|5[0-2]))\.csv(\.gz)?$")
CALENDAR_FILE = "time.csv"  # the shop-week calendar, landed next to the week files


def week_file_name(week: str, compress: bool = True) -> str:
    """`transactions_YYYYWW.csv[.gz]`: the name a week is delivered (and picked up) under."""
    return f"transactions_{week}.csv{'.gz' if compress else ''}"


def landed_file(listing: Iterable[ObjectInfo], week: str) -> ObjectInfo | None:
    """The landed file of a week in a landing listing (`LandingFolder.files()`); if both .csv and .csv.gz are
    there, the newer one."""
    names = {week_file_name(week), week_file_name(week, False)}
    candidates = [f for f in listing if f.name in names]
    return max(candidates, key=lambda f: f.mtime_ns) if candidates else None


TRANSACTIONS_SCHEMA = pa.schema(
    [
        ("SHOP_WEEK", pa.string()),
        ("SHOP_DATE", pa.date32()),
        ("SHOP_WEEKDAY", pa.int8()),
        ("SHOP_HOUR", pa.int8()),
        ("QUANTITY", pa.int32()),
        ("SPEND", pa.float64()),
        ("PROD_CODE", pa.string()),
        ("PROD_CODE_10", pa.string()),
        ("PROD_CODE_20", pa.string()),
        ("PROD_CODE_30", pa.string()),
        ("PROD_CODE_40", pa.string()),
        ("CUST_CODE", pa.string()),
        ("CUST_PRICE_SENSITIVITY", pa.string()),
        ("CUST_LIFESTAGE", pa.string()),
        ("BASKET_ID", pa.int64()),
        ("BASKET_SIZE", pa.string()),
        ("BASKET_PRICE_SENSITIVITY", pa.string()),
        ("BASKET_TYPE", pa.string()),
        ("BASKET_DOMINANT_MISSION", pa.string()),
        ("STORE_CODE", pa.string()),
        ("STORE_FORMAT", pa.string()),
        ("STORE_REGION", pa.string()),
        # Added by ingestion: anonymous rows (no loyalty card) are kept and flagged.
        ("IS_ANONYMOUS", pa.bool_()),
        ("SOURCE_FILE", pa.string()),
        ("SOURCE_LINE", pa.int32()),
    ]
)

# Value domains of the coded columns (the profiling check reports anything else).
VALUE_DOMAINS: dict[str, set[str]] = {
    "BASKET_SIZE": {"S", "M", "L"},
    "BASKET_PRICE_SENSITIVITY": {"LA", "MM", "UM", "XX"},
    "BASKET_TYPE": {"Small Shop", "Top Up", "Full Shop", "XX"},
    "BASKET_DOMINANT_MISSION": {"Fresh", "Grocery", "Mixed", "Nonfood", "XX"},
    "STORE_FORMAT": {"LS", "MS", "SS", "XLS"},
    "CUST_PRICE_SENSITIVITY": {"LA", "MM", "UM", "XX"},
    "CUST_LIFESTAGE": {"OT", "YF", "YA", "PE", "OA", "OF", "XX"},
    "PROD_CODE_40": {f"D{i:05d}" for i in range(1, 10)},
}

# A mangled id is a number in scientific notation; one such id means the spreadsheet touched the
# column, but a handful could be a stray line, so the file is rejected above this share.
_SCIENTIFIC = r"^\d(\.\d+)?[eE][+-]?\d+$"
MAX_MANGLED_ID_SHARE = 0.005


class FileRejected(ValueError):
    """The whole file is unusable; `reason` is a short code, the message says what to do."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass
class Reject:
    raw: str
    reason: str
    location: str


@dataclass
class ParsedWeek:
    week: str
    table: pa.Table
    variant: str  # "official" or "seg"
    rows_read: int  # data lines that are not blank (kept + rejected)
    rejects: list[Reject] = field(default_factory=list)
    blank_lines: int = 0


def week_of(path: str | Path) -> str | None:
    """The shop week named by a landed file, or None when the name is not a week file."""
    match = WEEK_FILE.match(Path(path).name)
    return match.group("week") if match else None


def _column_variant(columns: list[str], path: Path) -> str:
    if columns == OFFICIAL_COLUMNS or set(columns) == set(OFFICIAL_COLUMNS):
        return "official"
    if set(columns) == set(SEG_COLUMNS):
        return "seg"
    missing = sorted(set(OFFICIAL_COLUMNS) - set(columns) - {"CUST_PRICE_SENSITIVITY", "CUST_LIFESTAGE"})
    extra = sorted(set(columns) - set(OFFICIAL_COLUMNS) - set(SEG_COLUMNS))
    raise FileRejected(
        "unexpected_columns",
        f"{path.name} has columns that match neither the official variant (CUST_PRICE_SENSITIVITY, "
        f"CUST_LIFESTAGE) nor the public seg_1/seg_2 variant; missing {missing}, unexpected {extra}",
    )


def _check_basket_ids(frame: pl.DataFrame, path: Path) -> None:
    ids = frame["BASKET_ID"].fill_null("")
    mangled = int(ids.str.contains(_SCIENTIFIC).sum())
    if mangled and mangled / max(frame.height, 1) > MAX_MANGLED_ID_SHARE:
        example = ids.filter(ids.str.contains(_SCIENTIFIC)).head(1).item()
        distinct = ids.n_unique()
        raise FileRejected(
            "mangled_basket_ids",
            f"{path.name}: {mangled} of {frame.height} BASKET_ID values are in scientific notation "
            f"(e.g. {example!r}), so the file was saved through a spreadsheet and the basket ids are lost "
            f"({distinct} distinct ids for {frame.height} lines); ingesting it would merge different baskets. "
            "Re-export the week from the source system without opening it in a spreadsheet.",
        )


def _integer(column: str) -> pl.Expr:
    """Integers, also when a spreadsheet wrote them as `2.0`; anything else becomes null."""
    as_float = pl.col(column).cast(pl.Float64, strict=False)
    return pl.when(as_float == as_float.round(0)).then(as_float).otherwise(None).cast(pl.Int64, strict=False)


def _header(path: Path) -> list[str]:
    """The column names (pyarrow needs them up front to read every column as text)."""
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="") as lines:
            return next(csv.reader(lines), [])
    with open(path, encoding="utf-8", errors="replace", newline="") as lines:
        return next(csv.reader(lines), [])


def _read_text(path: Path) -> tuple[pl.DataFrame, list[Reject]]:
    """Every field as text, with each row's 1-based file line in `line`; ragged lines become rejects."""
    columns = _header(path)
    if not columns:
        raise FileRejected("empty_file", f"{path.name} is empty (no header, no rows)")
    ragged: list[Reject] = []

    def invalid(row: pa_csv.InvalidRow) -> str:
        where = "?" if row.number is None else row.number
        reason = f"ragged_row: {row.actual_columns} fields, the header has {row.expected_columns}"
        ragged.append(Reject(raw=row.text, reason=reason, location=f"{path.name}:{where}"))
        return "skip"

    table = pa_csv.read_csv(
        path,
        # Single-threaded, so every invalid row comes with its line number.
        read_options=pa_csv.ReadOptions(use_threads=False),
        # Blank lines stay rows (of empty fields), so row i is still line i + 2 once ragged lines are removed.
        parse_options=pa_csv.ParseOptions(invalid_row_handler=invalid, ignore_empty_lines=False),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()), strings_can_be_null=False
        ),
    )
    skipped = {int(r.location.rsplit(":", 1)[1]) for r in ragged if not r.location.endswith(":?")}
    lines = np.arange(2, 2 + table.num_rows + len(ragged), dtype=np.int64)
    lines = lines[~np.isin(lines, list(skipped))][: table.num_rows] if skipped else lines[: table.num_rows]
    return pl.from_arrow(table).with_columns(pl.Series("line", lines)), ragged


def parse_week_file(path: str | Path, expected_week: str | None = None) -> ParsedWeek:
    """Parse one landed file into TRANSACTIONS_SCHEMA; raise FileRejected when it is unusable."""
    path = Path(path)
    week = expected_week or week_of(path)
    if week is None:
        raise FileRejected("bad_file_name", f"{path.name} is not named transactions_YYYYWW.csv[.gz]")
    raw, ragged = _read_text(path)
    variant = _column_variant([c for c in raw.columns if c != "line"], path)
    if variant == "seg":
        raw = raw.rename({"seg_1": "CUST_PRICE_SENSITIVITY", "seg_2": "CUST_LIFESTAGE"})
    # Empty and quoted-empty ("") fields both mean missing; a line without any field is blank, not a row.
    text = raw.select(pl.col(OFFICIAL_COLUMNS).str.strip_chars().replace("", None), pl.col("line"))
    blank = pl.all_horizontal(pl.col(OFFICIAL_COLUMNS).is_null())
    blank_lines = int(text.select(blank.sum()).item())
    text = text.filter(~blank)
    if text.height + len(ragged) == 0:
        raise FileRejected("no_rows", f"{path.name} has a header but no transaction lines")
    _check_basket_ids(text, path)
    start = shop_week_start(week)
    end = start + timedelta(days=6)

    parsed = text.with_columns(
        pl.col("SHOP_DATE").str.strptime(pl.Date, "%Y%m%d", strict=False).alias("date"),
        _integer("SHOP_WEEKDAY").alias("weekday"),
        _integer("SHOP_HOUR").alias("hour"),
        _integer("QUANTITY").alias("quantity"),
        pl.col("SPEND").cast(pl.Float64, strict=False).alias("spend"),
        pl.when(pl.col("BASKET_ID").str.contains(r"^\d{1,18}$"))
        .then(pl.col("BASKET_ID").cast(pl.Int64, strict=False))
        .alias("basket_id"),
    )
    if variant == "seg":
        parsed = parsed.with_columns(
            pl.col("CUST_PRICE_SENSITIVITY").replace_strict(SEG_1_TO_PRICE_SENSITIVITY, default=None).alias("sens"),
            pl.col("CUST_LIFESTAGE").replace_strict(SEG_2_TO_LIFESTAGE, default=None).alias("life"),
        )
        unknown_segment = (pl.col("CUST_PRICE_SENSITIVITY").is_not_null() & pl.col("sens").is_null()) | (
            pl.col("CUST_LIFESTAGE").is_not_null() & pl.col("life").is_null()
        )
    else:
        parsed = parsed.with_columns(
            pl.col("CUST_PRICE_SENSITIVITY").alias("sens"), pl.col("CUST_LIFESTAGE").alias("life")
        )
        unknown_segment = pl.lit(False)

    # First failing rule names the reject; details after the colon are per-line. The reason text is built for
    # the failing lines only: concatenating strings for every line cost more than all the checks together.
    rules = [
        (
            pl.col("SHOP_WEEK").is_null() | (pl.col("SHOP_WEEK") != week),  # an empty week is wrong, not unknown
            pl.lit("wrong_shop_week: ") + pl.col("SHOP_WEEK").fill_null("<empty>") + f" in the file of {week}",
        ),
        (pl.col("date").is_null(), pl.lit("bad_shop_date: ") + pl.col("SHOP_DATE").fill_null("<empty>")),
        (
            ~pl.col("date").is_between(start, end),
            pl.lit("date_outside_week: ") + pl.col("SHOP_DATE") + f" is not in shop week {week} ({start}..{end})",
        ),
        (
            ~pl.col("weekday").is_between(1, 7) | pl.col("weekday").is_null(),
            pl.lit("bad_shop_weekday: ") + pl.col("SHOP_WEEKDAY").fill_null("<empty>"),
        ),
        (
            ~pl.col("hour").is_between(0, 23) | pl.col("hour").is_null(),
            pl.lit("bad_shop_hour: ") + pl.col("SHOP_HOUR").fill_null("<empty>"),
        ),
        (
            (pl.col("quantity") <= 0) | pl.col("quantity").is_null(),
            pl.lit("bad_quantity: ") + pl.col("QUANTITY").fill_null("<empty>"),
        ),
        (
            pl.col("spend").is_null() | pl.col("spend").is_nan(),
            pl.lit("bad_spend: ") + pl.col("SPEND").fill_null("<empty>"),
        ),
        (pl.col("basket_id").is_null(), pl.lit("bad_basket_id: ") + pl.col("BASKET_ID").fill_null("<empty>")),
        (pl.col("PROD_CODE").is_null(), pl.lit("missing_prod_code")),
        (
            unknown_segment,
            pl.lit("unknown_segment_code: ")
            + pl.col("CUST_PRICE_SENSITIVITY").fill_null("")
            + "/"
            + pl.col("CUST_LIFESTAGE").fill_null(""),
        ),
    ]
    reason = pl.when(rules[0][0]).then(rules[0][1])
    for condition, text_of in rules[1:]:
        reason = reason.when(condition).then(text_of)
    # A rule whose condition is null (a null SHOP_WEEK compared with the week) does not fire, as in `when`.
    failed = pl.any_horizontal([condition.fill_null(False) for condition, _ in rules])
    parsed = parsed.with_columns(failed.alias("failed"))

    bad = parsed.filter(pl.col("failed")).with_columns(reason.otherwise(None).alias("reject_reason"))
    raw_lines = bad.select(pl.concat_str([pl.col(c).fill_null("") for c in OFFICIAL_COLUMNS], separator=","))
    rejects = [
        Reject(raw=line, reason=why, location=f"{path.name}:{n}")
        for line, why, n in zip(raw_lines.to_series(), bad["reject_reason"], bad["line"], strict=True)
    ]
    rejects = sorted(ragged + rejects, key=lambda r: _line_number(r.location))

    good = parsed.filter(~pl.col("failed")).select(
        pl.col("SHOP_WEEK"),
        pl.col("date").alias("SHOP_DATE"),
        pl.col("weekday").alias("SHOP_WEEKDAY"),
        pl.col("hour").alias("SHOP_HOUR"),
        pl.col("quantity").alias("QUANTITY"),
        pl.col("spend").alias("SPEND"),
        *[pl.col(c) for c in ("PROD_CODE", "PROD_CODE_10", "PROD_CODE_20", "PROD_CODE_30", "PROD_CODE_40")],
        pl.col("CUST_CODE"),
        pl.col("sens").alias("CUST_PRICE_SENSITIVITY"),
        pl.col("life").alias("CUST_LIFESTAGE"),
        pl.col("basket_id").alias("BASKET_ID"),
        *[pl.col(c) for c in OFFICIAL_COLUMNS[15:]],
        pl.col("CUST_CODE").is_null().alias("IS_ANONYMOUS"),
        pl.lit(path.name).alias("SOURCE_FILE"),
        pl.col("line").alias("SOURCE_LINE"),
    )
    table = good.to_arrow().cast(TRANSACTIONS_SCHEMA)
    return ParsedWeek(
        week=week,
        table=table,
        variant=variant,
        rows_read=text.height + len(ragged),
        rejects=rejects,
        blank_lines=blank_lines,
    )


def _line_number(location: str) -> int:
    number = location.rsplit(":", 1)[1]
    return int(number) if number.isdigit() else 0


def read_calendar(path: str | Path) -> pa.Table:
    """`time.csv` (shop_week,date_from,date_to) as a typed table with upper-case names."""
    frame = pl.read_csv(path, infer_schema_length=0)
    frame = frame.rename({c: c.strip().upper() for c in frame.columns})
    expected = {"SHOP_WEEK", "DATE_FROM", "DATE_TO"}
    if set(frame.columns) != expected:
        raise FileRejected("unexpected_columns", f"{Path(path).name} has {frame.columns}, expected {sorted(expected)}")
    typed = frame.select(
        pl.col("SHOP_WEEK"),
        pl.col("DATE_FROM").str.strptime(pl.Date, "%Y%m%d"),
        pl.col("DATE_TO").str.strptime(pl.Date, "%Y%m%d"),
    )
    return typed.to_arrow().cast(CALENDAR_SCHEMA)


CALENDAR_SCHEMA = pa.schema([("SHOP_WEEK", pa.string()), ("DATE_FROM", pa.date32()), ("DATE_TO", pa.date32())])
