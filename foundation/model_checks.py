"""The asset check every model comparison gets: the served champion against the strongest baseline on test.

Reads `foundation.model_selection.Comparison.to_json()` (what the training assets save) and warns, not blocks:
the champion was chosen on validation, and a test result below the strongest baseline beyond bootstrap noise is
something a person should look at, not a reason to stop serving.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg


def champion_holds(comparison: Mapping[str, Any]) -> bool:
    """The champion is a baseline, or it is not worse than the strongest baseline beyond bootstrap noise (the
    paired 95% interval of their test difference reaches zero or above)."""
    difference = comparison.get("champion_minus_best_baseline_test")  # None: the champion is that baseline
    return bool(comparison["champion_is_baseline"] or difference is None or difference["high"] >= 0.0)


def champion_check_result(
    comparison: Mapping[str, Any], metric: str, extra: Mapping[str, Any] | None = None
) -> dg.AssetCheckResult:
    """`champion_holds` as a warning check, with both models' test `metric` (and intervals) as metadata."""
    champion, strongest = comparison["champion"], comparison["best_baseline"]
    test = comparison["test"]
    return dg.AssetCheckResult(
        passed=champion_holds(comparison),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "champion": champion,
            "champion_is_baseline": comparison["champion_is_baseline"],
            "strongest_baseline": strongest,
            f"champion_test_{metric}": dg.MetadataValue.json(test[champion][metric]),
            f"strongest_baseline_test_{metric}": dg.MetadataValue.json(test[strongest][metric]),
            "champion_minus_strongest_baseline": dg.MetadataValue.json(
                comparison.get("champion_minus_best_baseline_test") or {}
            ),
            **(extra or {}),
        },
    )
