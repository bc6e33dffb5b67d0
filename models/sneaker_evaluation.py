"""The sneaker evaluation report: CNN, stacked CNN and baselines on the same held-out test rows."""

from __future__ import annotations

from collections.abc import Mapping


def metrics_markdown(results: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    """results[head][method] = {"accuracy", "macro_f1", "top3_accuracy"} -> one markdown table."""
    methods = sorted({m for per_head in results.values() for m in per_head}, key=_method_order)
    lines = ["| head | metric | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for head, per_method in results.items():
        for metric in ("accuracy", "macro_f1", "top3_accuracy"):
            cells = [f"{per_method[m][metric]:.3f}" if m in per_method else "–" for m in methods]
            lines.append(f"| {head} | {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _method_order(method: str) -> tuple[int, str]:
    order = ["cnn", "stacked", "majority", "median_model_price", "title_only"]
    return (order.index(method) if method in order else len(order), method)
