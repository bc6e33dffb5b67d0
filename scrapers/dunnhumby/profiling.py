"""Profiling ingested dunnhumby weeks: row counts, missing shares, out-of-domain values, numeric ranges and
dates outside the shop week (what the `dunnhumby_transactions_profile` check reports)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import polars as pl

from foundation.markdown import markdown_table
from scrapers.dunnhumby.week_files import VALUE_DOMAINS, shop_week_start

CUSTOMER_COLUMNS = {"CUST_CODE", "CUST_PRICE_SENSITIVITY", "CUST_LIFESTAGE"}  # missing for anonymous rows


def profile_week(frame: pl.DataFrame, week: str) -> dict[str, Any]:
    """Row counts, missing shares, out-of-domain values and numeric ranges of one week."""
    start = shop_week_start(week)
    missing = {c: round(frame[c].null_count() / max(frame.height, 1), 4) for c in frame.columns}
    out_of_domain = {}
    for column, domain in VALUE_DOMAINS.items():
        values = frame[column].drop_nulls().unique().to_list()
        if unexpected := sorted(set(values) - domain):
            out_of_domain[column] = unexpected[:10]
    profile = {
        "week": week,
        "rows": frame.height,
        "baskets": frame["BASKET_ID"].n_unique(),
        "customers": frame["CUST_CODE"].drop_nulls().n_unique(),
        "anonymous_share": round(float(frame["IS_ANONYMOUS"].mean() or 0.0), 4),
        "missing_required": {c: s for c, s in missing.items() if s > 0 and c not in CUSTOMER_COLUMNS},
        "missing_customer_fields": {c: missing[c] for c in sorted(CUSTOMER_COLUMNS)},
        "out_of_domain": out_of_domain,
        "quantity_range": [frame["QUANTITY"].min(), frame["QUANTITY"].max()],
        "spend_range": [frame["SPEND"].min(), frame["SPEND"].max()],
        "hour_range": [frame["SHOP_HOUR"].min(), frame["SHOP_HOUR"].max()],
        "dates_outside_week": frame.filter(~pl.col("SHOP_DATE").is_between(start, start + timedelta(days=6))).height,
    }
    problems = []
    if not frame.height:
        problems.append("no rows")
    if profile["missing_required"]:
        problems.append(f"missing values in {sorted(profile['missing_required'])}")
    if out_of_domain:
        problems.append(f"values outside their domain: {out_of_domain}")
    if frame.height and (profile["quantity_range"][0] < 1 or profile["spend_range"][0] < 0):
        problems.append("non-positive quantity or negative spend")
    if profile["dates_outside_week"]:
        problems.append(f"{profile['dates_outside_week']} rows dated outside the shop week")
    if profile["anonymous_share"] > 0.5:
        problems.append(f"anonymous share {profile['anonymous_share']:.0%} > 50%")
    profile["problems"] = problems
    return profile


def profile_weeks(lines: pl.DataFrame, weeks: Sequence[str]) -> list[dict[str, Any]]:
    """`profile_week` of every week in `weeks`, from transaction lines that hold (at least) those weeks."""
    return [profile_week(lines.filter(pl.col("SHOP_WEEK") == week), week) for week in weeks]


def empty_or_broken(profiles: Sequence[dict[str, Any]]) -> bool:
    """A week without rows, with missing required values or with rows dated outside it: bad enough to block what
    is built from it. Ingestion quarantines lines dated outside their week (`date_outside_week`), so any found
    here got past it."""
    return any(not p["rows"] or p["missing_required"] or p["dates_outside_week"] for p in profiles)


def profiles_markdown(profiles: Sequence[dict[str, Any]]) -> str:
    """One row per week: rows, baskets, customers, anonymous share, ranges and the problems found."""
    header = ("week", "rows", "baskets", "customers", "anonymous", "quantity", "spend", "problems")
    rows = [
        (
            p["week"],
            p["rows"],
            p["baskets"],
            p["customers"],
            f"{p['anonymous_share']:.1%}",
            p["quantity_range"],
            p["spend_range"],
            "; ".join(p["problems"]) or "none",
        )
        for p in profiles
    ]
    return markdown_table(header, rows)
