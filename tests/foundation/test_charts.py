"""The shared metadata charts are real PNGs that a Markdown viewer can show inline."""

import base64
import io
import re

import numpy as np
from PIL import Image

from foundation.charts import bar_chart_png, heatmap_png, line_chart_png, markdown_image


def decoded(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_bar_chart_draws_one_bar_per_label_scaled_to_the_largest():
    png = decoded(bar_chart_png({"a": 2.0, "b": 1.0, "c": -0.5}, "title"))
    assert png.format == "PNG" and png.size[0] == 560
    image = png.convert("RGB")
    # bars start at x=170; each row is 26 px below a 34 px title band, and a bar's length is |value| / 2.0 of the span
    lengths = []
    for row in range(3):
        y = 34 + row * 26 + 12
        pixels = [image.getpixel((x, y)) for x in range(170, 560)]
        lengths.append(next(i for i, p in enumerate(pixels) if p == (255, 255, 255)))
    span = 560 - 170 - 80
    assert lengths == [span + 1, span // 2 + 1, int(span * 0.25) + 1]
    assert decoded(bar_chart_png({})).size[1] == 10 + 26 + 12  # an empty mapping still draws a "(none)" row


def test_line_chart_and_heatmap():
    assert decoded(line_chart_png({"train": [3.0, 2.0, 1.5], "validation": [3.1, 2.4]})).size == (560, 300)
    heat = decoded(heatmap_png(np.array([[3, 1], [0, 0]]), ["x", "yy"], cell=10)).convert("RGB")
    margin = 8 + 6 * 2
    assert heat.size == (margin + 24, margin + 24)
    assert heat.getpixel((margin + 2, margin + 2)) == (63, 63, 255)  # 3/4 of row "x" predicted "x"
    assert heat.getpixel((margin + 12, margin + 12)) == (255, 255, 255)  # an empty row stays white


def test_markdown_image_embeds_the_png():
    png = bar_chart_png({"a": 1.0})
    text = markdown_image(png, "alt text", "**caption**")
    caption, image = text.split("\n\n")
    assert caption == "**caption**"
    match = re.fullmatch(r"!\[alt text\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", image)
    assert match and base64.b64decode(match.group(1)) == png
    assert markdown_image(png, "x").startswith("![x](data:image/png;base64,")
