"""Small PNG charts drawn with Pillow (matplotlib is not a dependency), embedded in Dagster metadata."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

from PIL import Image, ImageDraw

_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]


def _markdown(image: Image.Image, title: str) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return f"**{title}**\n\n![{title}](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()})"


def bar_chart_markdown(values: Mapping[str, float], title: str, width: int = 560) -> str:
    """Horizontal bars, one per label, as Markdown with an embedded PNG."""
    rows = list(values.items()) or [("(none)", 0.0)]
    height = 30 + 22 * len(rows)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    top = max(max(v for _, v in rows), 1e-9)
    for i, (label, value) in enumerate(rows):
        y = 20 + 22 * i
        bar = int((width - 230) * value / top)
        draw.text((5, y + 3), str(label)[:24], fill="black")
        draw.rectangle([170, y, 170 + bar, y + 16], fill=_COLOURS[0])
        draw.text((175 + bar, y + 3), f"{value:g}", fill="black")
    return _markdown(image, title)


def line_chart_markdown(series: Mapping[str, Sequence[float]], title: str, width: int = 560, height: int = 300) -> str:
    """Lines over their index (e.g. loss per epoch), with a legend and the y range."""
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
        colour = _COLOURS[k % len(_COLOURS)]
        xy = [
            (left + (right - left) * i / max(longest - 1, 1), bottom - (bottom - top) * (v - lo) / (hi - lo))
            for i, v in enumerate(values)
        ]
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=2)
        for x, y in xy:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        draw.text((left + 10 + 120 * k, 8), name, fill=colour)
    return _markdown(image, title)
