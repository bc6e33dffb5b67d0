"""Every recommender of a tag side by side on the same split: a Markdown table (best value of each metric in
bold), one row per model for the `amazon_model_metrics` table, and an NDCG@10 bar chart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from foundation.charts import bar_chart_png, markdown_image
from foundation.markdown import markdown_table
from models.amazon.training import REPORTED_METRICS

MODEL_METRICS_SCHEMA = pa.schema(
    [("tag", pa.string()), ("model", pa.string())]
    + [(m, pa.float64()) for m in REPORTED_METRICS]
    + [("fit_seconds", pa.float64()), ("test_users", pa.int64()), ("items", pa.int64())]
)


@dataclass
class Comparison:
    header: str  # what was compared: the split, test users and catalogue size
    table: str  # Markdown, one row per model
    rows: pa.Table  # MODEL_METRICS_SCHEMA
    ndcg_chart: str  # Markdown image

    @property
    def markdown(self) -> str:
        return self.header + self.table


def comparison_table(reports: list[dict[str, Any]]) -> str:
    """Markdown table, one row per model, best value of each metric in bold."""
    best = {m: max(r["metrics"][m] for r in reports) for m in REPORTED_METRICS}
    rows = [
        [r["model"]]
        + [
            f"**{r['metrics'][m]:.4f}**" if r["metrics"][m] == best[m] else f"{r['metrics'][m]:.4f}"
            for m in REPORTED_METRICS
        ]
        + [f"{r['fit_seconds']:.1f}"]
        for r in reports
    ]
    return markdown_table(("model", *REPORTED_METRICS, "fit s"), rows)


def compare(tag: str, reports: list[dict[str, Any]]) -> Comparison:
    """The comparison of `reports` (from `train_and_evaluate`, all on the same tag's split)."""
    header = (
        f"Temporal leave-last-out on `{tag}`: {reports[0]['test_users']:,} test users, full ranking over "
        f"{reports[0]['items']:,} items, training items excluded.\n\n"
    )
    rows = [
        {"tag": tag, "model": r["model"], **{m: r["metrics"][m] for m in REPORTED_METRICS}}
        | {"fit_seconds": r["fit_seconds"], "test_users": r["test_users"], "items": r["items"]}
        for r in reports
    ]
    title = f"NDCG@10 on {tag}"
    chart = markdown_image(bar_chart_png({r["model"]: r["metrics"]["ndcg@10"] for r in reports}, title), title)
    return Comparison(header, comparison_table(reports), pa.Table.from_pylist(rows, schema=MODEL_METRICS_SCHEMA), chart)
