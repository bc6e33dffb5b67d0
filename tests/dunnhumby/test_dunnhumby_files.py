"""Reading landed dunnhumby files: both column variants, mangled ids, quarantined lines, the calendar."""

import csv
import gzip
import shutil
from pathlib import Path

import pyarrow.compute as pc
import pytest

from sandbox.dunnhumby import DunnhumbySandbox, format_rows, write_calendar, write_excel_mangled
from scrapers.dunnhumby.week_files import (
    OFFICIAL_COLUMNS,
    FileRejected,
    parse_week_file,
    shop_week_start,
    shop_weeks,
    week_of,
)


@pytest.fixture(scope="module")
def sandbox() -> DunnhumbySandbox:
    return DunnhumbySandbox(seed=11, n_customers=80, n_products=200)


def test_week_of_accepts_only_week_file_names():
    assert week_of("transactions_200607.csv.gz") == "200607"
    assert week_of("/x/transactions_200652.csv") == "200652"
    for name in (
        "transactions_200653.csv",
        "transactions_200607.csv.tmp",
        ".transactions_200607.csv.gz.tmp",
        "time.csv",
    ):
        assert week_of(name) is None


def test_both_column_variants_give_the_same_rows(sandbox, tmp_path):
    seg = parse_week_file(sandbox.write_week(tmp_path / "a", "200610", variant="seg"))
    official = parse_week_file(sandbox.write_week(tmp_path / "b", "200610", variant="official", compress=False))
    assert (seg.variant, official.variant) == ("seg", "official")
    assert seg.rejects == [] and official.rejects == []
    drop = ["SOURCE_FILE"]
    assert seg.table.drop(drop).equals(official.table.drop(drop))
    assert set(pc.unique(seg.table["CUST_PRICE_SENSITIVITY"]).to_pylist()) <= {"LA", "MM", "UM", "XX", None}


def test_anonymous_rows_are_kept_and_flagged(sandbox, tmp_path):
    parsed = parse_week_file(sandbox.write_week(tmp_path, "200607"))
    anonymous = parsed.table.filter(parsed.table["IS_ANONYMOUS"])
    assert 0.05 < anonymous.num_rows / parsed.table.num_rows < 0.4
    assert anonymous["CUST_CODE"].null_count == anonymous.num_rows
    assert parsed.table.num_rows == parsed.rows_read


def test_mangled_basket_ids_reject_the_file_with_its_reason(sandbox, tmp_path):
    path = write_excel_mangled(sandbox, tmp_path / "transactions_200607.csv", "200607")
    with pytest.raises(FileRejected) as error:
        parse_week_file(path)
    assert error.value.reason == "mangled_basket_ids"
    assert "9.94E+14" in str(error.value) and "spreadsheet" in str(error.value)


def test_unknown_columns_reject_the_file(tmp_path):
    path = tmp_path / "transactions_200607.csv"
    path.write_text("SHOP_WEEK,SOMETHING\n200607,1\n")
    with pytest.raises(FileRejected, match="unexpected_columns"):
        parse_week_file(path)


def test_bad_lines_are_quarantined_with_reason_and_line(sandbox, tmp_path):
    rows = sandbox.week_rows("200607")[:6]
    rows[0]["SHOP_WEEK"] = "200609"
    rows[1]["QUANTITY"] = "two"
    rows[2]["SHOP_DATE"] = "2006-04-11"
    rows[3]["QUANTITY"] = "2.0"  # a spreadsheet's integer: accepted
    rows[4]["CUST_PRICE_SENSITIVITY"], rows[4]["CUST_CODE"] = "QQ", "CUST0000000001"
    rows[5]["SHOP_WEEK"] = ""  # empty: wrong, not silently unknown (it used to fail the whole run later)
    path = tmp_path / "transactions_200607.csv"
    text = format_rows(rows, "official")
    path.write_text(text)
    parsed = parse_week_file(path)
    reasons = {r.location: r.reason.split(":")[0] for r in parsed.rejects}
    assert reasons == {
        "transactions_200607.csv:2": "wrong_shop_week",
        "transactions_200607.csv:3": "bad_quantity",
        "transactions_200607.csv:4": "bad_shop_date",
        "transactions_200607.csv:7": "wrong_shop_week",
    }
    assert parsed.table.num_rows == 2
    assert 2 in parsed.table["QUANTITY"].to_pylist()
    # An unknown code in the seg variant is a reject too (the recoding table is closed).
    seg_rows = sandbox.week_rows("200607")[:2]
    seg_path = tmp_path / "seg" / "transactions_200607.csv"
    seg_path.parent.mkdir()
    seg_path.write_text(
        format_rows(seg_rows, "seg")
        .replace(",BG,", ",ZZ,")
        .replace(",AZ,", ",ZZ,")
        .replace(",CT,", ",ZZ,")
        .replace(",DY,", ",ZZ,")
    )
    seg = parse_week_file(seg_path)
    known = [r for r in seg_rows if r["CUST_CODE"]]
    assert sum(r.reason.startswith("unknown_segment_code") for r in seg.rejects) == len(known)


def test_calendar_rule(tmp_path):
    assert shop_week_start("200607").isoformat() == "2006-04-10"
    assert shop_weeks("200651", 3) == ["200651", "200652", "200701"]
    path = write_calendar(tmp_path)
    lines = path.read_text().splitlines()
    assert lines[0] == "shop_week,date_from,date_to" and lines[1] == "200607,20060410,20060416"


@pytest.mark.real_data
def test_calendar_rule_matches_the_real_time_csv(shared_data, tmp_path):
    def first_days(path):
        with open(path) as f:
            return {r["shop_week"]: r["date_from"] for r in csv.DictReader(f)}

    real = first_days(shared_data / "dunnhumby" / "time.csv")
    assert real == first_days(write_calendar(tmp_path, count=len(real)))


@pytest.mark.real_data
def test_real_week_parses_completely(shared_data):
    path = shared_data / "dunnhumby" / "transactions_200607.csv.gz"
    parsed = parse_week_file(path)
    assert parsed.variant == "seg" and parsed.rejects == []
    with gzip.open(path, "rt") as f:
        assert parsed.table.num_rows == sum(1 for _ in f) - 1
    assert parsed.table.schema.names[: len(OFFICIAL_COLUMNS)] == OFFICIAL_COLUMNS
    share = pc.mean(parsed.table["IS_ANONYMOUS"].cast("int8")).as_py()
    assert 0.1 < share < 0.3  # README: about 20% anonymous
    assert set(pc.unique(parsed.table["CUST_LIFESTAGE"]).to_pylist()) <= {"OT", "YF", "YA", "PE", "OA", "OF", None}


@pytest.mark.real_data
def test_real_excel_mangled_file_is_rejected(shared_data, tmp_path):
    path = tmp_path / "transactions_200607.csv"
    shutil.copy(shared_data / "dunnhumby" / "variant_seed_column_names_excel_mangled_200607.csv", path)
    with pytest.raises(FileRejected, match="mangled_basket_ids") as error:
        parse_week_file(path)
    assert "25240 of 25240" in str(error.value)


def test_sandbox_week_is_deterministic(tmp_path):
    a = DunnhumbySandbox(seed=3, n_customers=50).write_week(tmp_path / "a", "200612")
    b = DunnhumbySandbox(seed=3, n_customers=50).write_week(tmp_path / "b", "200612")
    assert Path(a).read_bytes() == Path(b).read_bytes()
