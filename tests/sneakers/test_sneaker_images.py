"""Image normalisation: every awkward mode becomes exactly 224x224 RGB; every broken file is rejected."""

import io

import numpy as np
import pytest
from PIL import Image

from sandbox.sneakers.images import BROKEN_FORMS, GOOD_FORMS, render
from scrapers.sneakers.images import ImageRejected, normalise, normalise_all, normalise_or_reason

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
    data, _ = render(
        "00000042", seed=7, model_index=3, brand="Nike", colourway=("Royal Blue", "Royal Blue"), form="cmyk_jpeg"
    )
    img = _decode(normalise(data).jpeg)
    r, g, b = img.getpixel((112, 130))
    assert b > r and b > g  # still blue, not inverted


@pytest.mark.parametrize(
    ("form", "reason"), [("truncated", "corrupt"), ("not_image", "not_an_image"), ("bomb", "decompression_bomb")]
)
def test_broken_files_are_rejected_with_a_reason(form, reason):
    assert form in BROKEN_FORMS
    data, _ = render("00000042", seed=7, model_index=3, brand="Nike", colourway=COLOURWAY, form=form)
    with pytest.raises(ImageRejected, match=f"^{reason}"):
        normalise(data)


def _full_size_reference(data: bytes) -> np.ndarray:
    """The slow, obvious normalisation: full decode, composite on white, bilinear from full size, letterbox."""
    from PIL import ImageOps

    img = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    rgba = img.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, (0, 0), rgba)
    scale = 224 / max(flat.size)
    size = (round(flat.width * scale), round(flat.height * scale))
    canvas = Image.new("RGB", (224, 224), (255, 255, 255))
    canvas.paste(flat.resize(size, Image.Resampling.BILINEAR), ((224 - size[0]) // 2, (224 - size[1]) // 2))
    return np.asarray(canvas, dtype=float)


@pytest.mark.parametrize("form", [*GOOD_FORMS, "oversized_jpeg"])
def test_fast_paths_match_a_full_size_normalisation(form):
    """Draft (DCT-scaled) JPEG decoding, box-reduce-then-bilinear and compositing by masked paste give the same
    picture as the slow obvious path: orientation, colours, placement and white background all agree."""
    for listing in ("00000042", "00000043", "00000044"):
        data, _ = render(listing, seed=7, model_index=3, brand="Nike", colourway=COLOURWAY, form=form)
        fast = np.asarray(_decode(normalise(data).jpeg), dtype=float)
        assert np.abs(fast - _full_size_reference(data)).mean() < 2.0  # of 255; JPEG re-encoding alone is ~1


@pytest.mark.parametrize("mode", ["LA", "L", "1", "I;16", "P_transparent", "RGB_transparent"])
def test_unusual_modes_become_224_rgb_with_transparency_on_white(mode):
    base = Image.new("RGBA", (300, 120), (0, 0, 0, 0))
    base.paste((30, 60, 200, 255), (100, 20, 200, 100))
    if mode == "P_transparent":
        img = base.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
        img.info["transparency"] = img.getpixel((0, 0))
    elif mode == "RGB_transparent":
        img = base.convert("RGB")
        img.info["transparency"] = (0, 0, 0)
    elif mode == "I;16":
        img = base.convert("L").convert("I;16")
    else:
        img = base.convert(mode)
    out = io.BytesIO()
    img.save(out, "TIFF" if mode == "I;16" else "PNG")
    result = _decode(normalise(out.getvalue()).jpeg)
    assert (result.size, result.mode) == ((224, 224), "RGB")
    if mode in ("LA", "P_transparent", "RGB_transparent"):
        assert min(result.getpixel((112, 62))) > 240  # transparent background, now white (letterboxed: y 62..161)


def test_small_images_are_scaled_up_to_fill_the_long_side():
    img = Image.new("RGB", (100, 50), (200, 20, 40))
    out = io.BytesIO()
    img.save(out, "PNG")
    result = _decode(normalise(out.getvalue()).jpeg)
    assert result.getpixel((5, 112))[1] < 60  # red reaches the left edge: not a 100 px picture in a white frame
    assert min(result.getpixel((112, 10))) > 240  # letterbox padding above


def test_parallel_normalisation_keeps_order_and_reasons():
    forms = [*GOOD_FORMS, *BROKEN_FORMS] * 3
    blobs = [
        render(f"000001{i:02d}", seed=7, model_index=i % 25, brand="Nike", colourway=COLOURWAY, form=form)[0]
        for i, form in enumerate(forms)
    ]
    serial = [normalise_or_reason(b) for b in blobs]
    parallel = list(normalise_all(blobs, workers=2))
    assert [r and r.split(":")[0] for _, r in parallel] == [r and r.split(":")[0] for _, r in serial]
    assert [i.jpeg if i else None for i, _ in parallel] == [i.jpeg if i else None for i, _ in serial]
    assert sum(r is not None for _, r in parallel) == 3 * len(BROKEN_FORMS)
