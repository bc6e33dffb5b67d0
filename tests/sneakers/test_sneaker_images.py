"""Image normalisation: every awkward mode becomes exactly 224x224 RGB; every broken file is rejected."""

import io

import pytest
from PIL import Image

from sandbox.marketplace_images import BROKEN_FORMS, GOOD_FORMS, render
from scrapers.sneaker_images import ImageRejected, normalise

COLOURWAY = ("University Red", "Black")


def _decode(jpeg: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(jpeg))
    img.load()
    return img


@pytest.mark.parametrize("form", [*GOOD_FORMS, "oversized_jpeg"])
def test_every_awkward_mode_becomes_224_rgb(form):
    data, _ = render("00000042", seed=7, model_index=3, brand="Nike", colourway=COLOURWAY, form=form)
    out = normalise(data)
    img = _decode(out.jpeg)
    assert (img.size, img.mode, img.format) == ((224, 224), "RGB", "JPEG")
    assert len(out.sha256) == 64


def test_transparent_cutout_is_composited_on_white_not_black():
    data, _ = render("00000042", seed=7, model_index=3, brand="Nike", colourway=COLOURWAY, form="rgba_png")
    assert Image.open(io.BytesIO(data)).mode == "RGBA"
    corner = _decode(normalise(data).jpeg).getpixel((2, 2))
    assert min(corner) > 240


def test_exif_rotation_is_applied():
    upright, _ = render("00000042", seed=7, model_index=3, brand="Nike", colourway=COLOURWAY, form="rgb_jpeg")
    rotated, _ = render("00000042", seed=7, model_index=3, brand="Nike", colourway=COLOURWAY, form="exif_rotated_jpeg")
    assert Image.open(io.BytesIO(rotated)).size == Image.open(io.BytesIO(upright)).size[::-1]
    a, b = _decode(normalise(upright).jpeg), _decode(normalise(rotated).jpeg)
    diff = sum(abs(x - y) for pa, pb in zip(a.getdata(), b.getdata(), strict=True) for x, y in zip(pa, pb, strict=True))
    assert diff / (224 * 224 * 3) < 8  # same picture up to JPEG noise


def test_cmyk_colours_survive():
    data, _ = render("00000042", seed=7, model_index=3, brand="Nike", colourway=("Royal Blue", "Royal Blue"), form="cmyk_jpeg")
    img = _decode(normalise(data).jpeg)
    r, g, b = img.getpixel((112, 130))
    assert b > r and b > g  # still blue, not inverted


@pytest.mark.parametrize(("form", "reason"), [("truncated", "corrupt"), ("not_image", "not_an_image"), ("bomb", "decompression_bomb")])
def test_broken_files_are_rejected_with_a_reason(form, reason):
    assert form in BROKEN_FORMS
    data, _ = render("00000042", seed=7, model_index=3, brand="Nike", colourway=COLOURWAY, form=form)
    with pytest.raises(ImageRejected, match=f"^{reason}"):
        normalise(data)
