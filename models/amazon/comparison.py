"""Every recommender of a tag side by side on the same split: a Markdown table (best value of each metric in
bold), one row per model for the `amazon_model_metrics` table, an NDCG@10 bar chart, and the champion: the
model with the best validation NDCG@10 (random and most-popular included), with every model's test metrics and
bootstrap 95% intervals over test users (`foundation.model_selection`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from foundation.charts import bar_chart_png, markdown_image
from foundation.markdown import markdown_table
from foundation.model_selection import Comparison as Selection
from foundation.model_selection import compare_candidates
from models.amazon.training import REPORTED_METRICS

MODEL_METRICS_SCHEMA = pa.schema(
    [("tag", pa.string()), ("model", pa.string())]
    + [(m, pa.float64()) for m in REPORTED_METRICS]
    + [("fit_seconds", pa.float64()), ("test_users", pa.int64()), ("items", pa.int64())]
)


BASELINES = ("random", "popular")  # the recommenders that learn nothing about a user
SELECTION_METRIC = "ndcg@10"
INTERVAL_METRICS = ("ndcg@10", "recall@10", "hit_rate@10")


@dataclass
class Comparison:
    header: str  # what was compared: the split, test users and catalogue size
    table: str  # Markdown, one row per model
    rows: pa.Table  # MODEL_METRICS_SCHEMA
    ndcg_chart: str  # Markdown image
    stale: dict[str, dict[str, Any]] = field(default_factory=dict)  # model -> setting -> [recorded, expected]
    selection: Selection | None = None  # champion on validation, test intervals (None: no per-user scores)

    @property
    def champion(self) -> str | None:
        return self.selection.champion if self.selection else None

    @property
    def markdown(self) -> str:
        return self.header + self.table + (f"\n\n{self.champion_markdown()}" if self.selection else "")

    def champion_markdown(self) -> str:
        c = self.selection
        if c is None:
            return ""
        table = markdown_table(c.table_header(INTERVAL_METRICS), c.table_rows(INTERVAL_METRICS))
        margin = (
            f"; test {c.metric} minus the strongest baseline ({c.best_baseline}): {c.champion_vs_best_baseline} "
            "(paired bootstrap over test users)"
            if c.champion_vs_best_baseline
            else ""
        )
        kind = " (a baseline)" if c.champion_is_baseline else ""
        return f"**Champion (served): {c.champion}**{kind}, chosen by validation {c.metric}{margin}.\n\n{table}"


def select_champion(
    per_user: dict[str, dict[str, np.ndarray]], settings: dict[str, Any] | None = None
) -> Selection | None:
    """The champion by validation NDCG@10 and every model's test intervals, from each model's `per_user.npz`
    (`validation/<metric>`, `test/<metric>`); None when a model has no validation scores (older reports)."""
    per_query = {}
    for name in sorted(per_user, key=lambda n: (n not in BASELINES, n)):  # baselines first: ties go to them
        parts = per_user[name]
        if f"validation/{SELECTION_METRIC}" not in parts:
            return None
        per_query[name] = {
            split: {m: parts[f"{split}/{m}"] for m in INTERVAL_METRICS if f"{split}/{m}" in parts}
            for split in ("validation", "test")
        }
    return (
        compare_candidates(per_query, SELECTION_METRIC, baselines=BASELINES, settings=settings) if per_query else None
    )


def comparison_table(reports: list[dict[str, Any]]) -> str:
    """Markdown table, one row per model, best value of each metric in bold."""
    best = {m: max(r["metrics"][m] for r in reports) for m in REPORTED_METRICS}
    rows = [
        [r["model"]]
        + [
            f"**{r['metrics'][m]:.4f}**" if r["metrics"][m] == best[m] else f"{r['metrics'][m]:.4f}"
            for m in REPORTED_METRICS
        ]
        + [f"{r['fit_seconds']:.1f}", _settings_text(r.get("settings"))]
        for r in reports
    ]
    return markdown_table(("model", *REPORTED_METRICS, "fit s", "settings"), rows)


def _protocol_text(report: dict[str, Any]) -> str:
    split = report.get("split_settings") or {}
    if split.get("protocol") == "global_time":
        return f"Global time cut at {split.get('cut')}"
    return "Temporal leave-last-out"


def _settings_text(settings: dict[str, Any] | None) -> str:
    if settings is None:
        return "not recorded"
    return ", ".join(f"{k}={v}" for k, v in settings.items()) or "-"


def stale_settings(reports: list[dict[str, Any]], expected: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per model, the settings its report recorded that differ from `expected` (None in `expected`: not checked)."""
    stale = {}
    for r in reports:
        recorded = r.get("settings") or {}
        diff = {
            k: [recorded.get(k), v]
            for k, v in expected.get(r["model"], {}).items()
            if v is not None and recorded.get(k) != v
        }
        if diff:
            stale[r["model"]] = diff
    return stale


def compare(
    tag: str,
    reports: list[dict[str, Any]],
    expected: dict[str, dict[str, Any]] | None = None,
    per_user: dict[str, dict[str, np.ndarray]] | None = None,
) -> Comparison:
    """The comparison of `reports` (from `train_and_evaluate`, all on the same tag's split).

    Raises ValueError when the reports were made on different splits (tie-break seed, rating threshold, data):
    their numbers are not comparable. Models whose recorded settings differ from `expected` (the settings a run
    now would use) are flagged in the header and in `Comparison.stale`, not refused: a deliberately tuned model
    is legitimate, a silently mixed one is not.
    """
    splits = {json.dumps(r.get("split_settings"), sort_keys=True) for r in reports}
    if len(splits) > 1:
        detail = "; ".join(f"{r['model']}: {r.get('split_settings') or 'not recorded'}" for r in reports)
        raise ValueError(f"the reports of {tag!r} were made on different splits, retrain them together: {detail}")
    stale = stale_settings(reports, expected or {})
    tied = reports[0].get("tied_share")
    min_rating = (reports[0].get("split_settings") or {}).get("min_rating")
    header = (
        f"{_protocol_text(reports[0])} on `{tag}`: {reports[0]['test_users']:,} test users, full ranking over "
        f"{reports[0]['items']:,} items, training items excluded"
        + (f"; {tied:.1%} of test users had several latest ratings (held-out one drawn at random)" if tied else "")
        + (f"; positives are ratings >= {min_rating}" if min_rating else "")
        + ".\n\n"
        + "".join(
            f"**Settings differ from the current ones** for {m}: "
            + ", ".join(f"{k} {a} (now {b})" for k, (a, b) in d.items())
            + ".\n\n"
            for m, d in stale.items()
        )
    )
    rows = [
        {"tag": tag, "model": r["model"], **{m: r["metrics"][m] for m in REPORTED_METRICS}}
        | {"fit_seconds": r["fit_seconds"], "test_users": r["test_users"], "items": r["items"]}
        for r in reports
    ]
    title = f"NDCG@10 on {tag}"
    chart = markdown_image(bar_chart_png({r["model"]: r["metrics"]["ndcg@10"] for r in reports}, title), title)
    table = pa.Table.from_pylist(rows, schema=MODEL_METRICS_SCHEMA)
    selection = select_champion(per_user, reports[0].get("split_settings")) if per_user else None
    return Comparison(header, comparison_table(reports), table, chart, stale, selection)
