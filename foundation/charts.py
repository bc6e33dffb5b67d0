"""Small PNG charts for asset metadata, shared by every domain; drawn with Pillow (matplotlib is not a dependency).

Each chart function returns PNG bytes; `markdown_image` turns them into the Markdown that
`dg.MetadataValue.md` shows inline in the Dagster UI (a data URL, so the chart travels with the event).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw

PALETTE = [(76, 114, 176), (221, 132, 82), (85, 168, 104), (196, 78, 82), (129, 114, 179), (147, 120, 96)]


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str, caption: str | None = None) -> str:
    """Markdown showing `png` inline, with `caption` (itself Markdown) as a paragraph above it when given."""
    image = f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
    return image if caption is None else f"{caption}\n\n{image}"


def bar_chart_png(values: Mapping[str, float], title: str = "", width: int = 560) -> bytes:
    """Horizontal bars, one per label in the mapping's order, scaled to the largest |value|, value at each end."""
    rows = list(values.items()) or [("(none)", 0.0)]
    row, left = 26, 170
    top = 34 if title else 10
    image = Image.new("RGB", (width, top + row * len(rows) + 12), "white")
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((10, 10), title, fill="black")
    peak = max([abs(v) for _, v in rows] + [1e-12])
    span = width - left - 80  # room for the value printed after the longest bar
    for i, (label, value) in enumerate(rows):
        y = top + i * row
        length = int(span * abs(value) / peak)
        draw.text((10, y + 5), str(label)[:26], fill="black")
        draw.rectangle([left, y + 3, left + max(length, 1), y + row - 5], fill=PALETTE[i % len(PALETTE)])
        draw.text((left + length + 6, y + 5), f"{value:.4g}", fill="black")
    return _png(image)


def line_chart_png(series: Mapping[str, Sequence[float]], width: int = 560, height: int = 300) -> bytes:
    """Lines over their index (e.g. loss per epoch) on one shared y range, with a legend and that range."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    points = [v for values in series.values() for v in values]
    lo, hi = (min(points), max(points)) if points else (0.0, 1.0)
    hi = hi if hi > lo else lo + 1.0
    longest = max((len(v) for v in series.values()), default=1)
    left, right, top, bottom = 60, width - 20, 30, height - 30
    draw.rectangle([left, top, right, bottom], outline="grey")
    draw.text((5, top), f"{hi:.3f}", fill="black")
    draw.text((5, bottom - 10), f"{lo:.3f}", fill="black")
    for k, (name, values) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        xy = [
            (left + (right - left) * i / max(longest - 1, 1), bottom - (bottom - top) * (v - lo) / (hi - lo))
            for i, v in enumerate(values)
        ]
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=2)
        for x, y in xy:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        draw.text((left + 10 + 120 * k, 8), name, fill=colour)
    return _png(image)


def heatmap_png(matrix: np.ndarray, labels: Sequence[str], cell: int = 18) -> bytes:
    """A square matrix as a heat map of each row's shares (a confusion matrix: rows true, columns predicted)."""
    n = len(labels)
    margin = 8 + 6 * max((len(label) for label in labels), default=1)
    image = Image.new("RGB", (margin + n * cell + 4, margin + n * cell + 4), "white")
    draw = ImageDraw.Draw(image)
    shares = matrix / matrix.sum(axis=1, keepdims=True).clip(min=1)
    for i in range(n):
        draw.text((2, margin + i * cell + 4), labels[i][:20], fill="black")
        for j in range(n):
            level = int(255 * (1 - shares[i, j]))
            x, y = margin + j * cell, margin + i * cell
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=(level, level, 255))
    return _png(image)
