"""The sneaker evaluation report: CNN, stacked CNN and baselines on the same held-out test rows."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping

import numpy as np
from PIL import Image, ImageDraw


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


def confusion_png(matrix: np.ndarray, labels: list[str], cell: int = 18) -> bytes:
    """A small heat-map PNG (rows: true class, columns: predicted), drawn with Pillow."""
    n = len(labels)
    margin = 8 + 6 * max((len(label) for label in labels), default=1)
    img = Image.new("RGB", (margin + n * cell + 4, margin + n * cell + 4), "white")
    d = ImageDraw.Draw(img)
    rows = matrix.sum(axis=1, keepdims=True).clip(min=1)
    shares = matrix / rows
    for i in range(n):
        d.text((2, margin + i * cell + 4), labels[i][:20], fill="black")
        for j in range(n):
            level = int(255 * (1 - shares[i, j]))
            d.rectangle([margin + j * cell, margin + i * cell, margin + (j + 1) * cell - 1, margin + (i + 1) * cell - 1],
                        fill=(level, level, 255))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def embedded_png(data: bytes, title: str) -> str:
    return f"![{title}](data:image/png;base64,{base64.b64encode(data).decode()})"
