"""Small PNG charts for asset metadata, drawn with Pillow (matplotlib is not a dependency)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

from PIL import Image, ImageDraw

_PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"]


def bar_chart_png(labels: Sequence[str], values: Sequence[float], title: str, width: int = 560) -> bytes:
    """Horizontal bars, one per label, with the value printed at the end of each bar."""
    row, top, left = 26, 34, 170
    height = top + row * len(labels) + 12
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((10, 10), title, fill="black")
    peak = max([abs(v) for v in values] + [1e-12])
    span = width - left - 80
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row
        draw.text((10, y + 5), str(label)[:26], fill="black")
        length = int(span * abs(value) / peak)
        draw.rectangle([left, y + 3, left + max(length, 1), y + row - 5], fill=_PALETTE[i % len(_PALETTE)])
        draw.text((left + length + 6, y + 5), f"{value:.4g}", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
