"""Product images of the sandbox marketplace, generated per listing in the awkward forms real shops serve.

The drawing carries what a classifier can learn: the silhouette (sole height, collar, toe) depends on the
sneaker model, a logo mark on the brand, the colours on the colourway. The file form is chosen per listing:
transparent RGBA cut-outs, palette PNGs, CMYK JPEGs, JPEGs stored sideways with an EXIF orientation, plain
RGB, and a few broken ones (truncated, not an image at all, a decompression bomb header).
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from typing import Literal

from PIL import Image, ImageChops, ImageDraw

Form = Literal[
    "rgba_png",
    "palette_png",
    "cmyk_jpeg",
    "exif_rotated_jpeg",
    "rgb_jpeg",
    "oversized_jpeg",
    "truncated",
    "not_image",
    "bomb",
]
GOOD_FORMS: tuple[Form, ...] = ("rgba_png", "palette_png", "cmyk_jpeg", "exif_rotated_jpeg", "rgb_jpeg")
BROKEN_FORMS: tuple[Form, ...] = ("truncated", "not_image", "bomb")

_COLOURS = {
    "Black": (20, 20, 20),
    "White": (245, 245, 245),
    "University Red": (200, 20, 40),
    "Royal Blue": (30, 60, 200),
    "Bred": (150, 10, 20),
    "Chicago": (220, 30, 30),
    "Panda": (90, 90, 90),
    "Sail": (240, 230, 210),
    "Cream": (250, 240, 200),
    "Olive": (110, 120, 50),
    "Volt": (200, 250, 30),
    "Obsidian": (20, 30, 60),
    "Wolf Grey": (160, 160, 165),
    "Pine Green": (20, 100, 60),
    "Mocha": (120, 80, 50),
    "Infrared": (250, 70, 80),
    "Zebra": (200, 200, 200),
    "Bone": (230, 220, 200),
    "Gum": (180, 120, 60),
    "Pink Foam": (250, 190, 200),
}
_BRAND_MARK = {
    "Nike": "swoosh",
    "Air Jordan": "wings",
    "Adidas": "stripes",
    "Yeezy": "wave",
    "New Balance": "letter",
    "Bapesta": "star",
}


def form_for(listing_id: str, seed: int, broken_share: float = 0.03) -> Form:
    """Which file form this listing's image takes (deterministic)."""
    h = int(hashlib.sha256(f"{seed}:{listing_id}:form".encode()).hexdigest(), 16)
    if (h % 10_000) / 10_000 < broken_share:
        return BROKEN_FORMS[(h // 10_000) % len(BROKEN_FORMS)]
    if (h >> 40) % 150 == 0:
        return "oversized_jpeg"
    return GOOD_FORMS[(h // 10_000) % len(GOOD_FORMS)]


_BRAND_SOLE = {
    "Nike": (250, 250, 250),
    "Air Jordan": (200, 30, 40),
    "Adidas": (190, 130, 60),
    "Yeezy": (120, 120, 110),
    "New Balance": (70, 90, 160),
    "Bapesta": (40, 120, 60),
}


def draw_sneaker(
    model_index: int, brand: str, colourway: tuple[str, str], size: tuple[int, int], jitter: int, collab: bool = False
) -> Image.Image:
    """An RGBA cut-out: transparent background, the shoe drawn from its model's and brand's traits.

    What a classifier can learn: the stripe pattern on the upper (orientation x width) and the silhouette
    identify the model, the sole colour and logo mark the brand, a gold heel tag a collaboration; the
    colourway (primary, accent) varies per listing and is the nuisance.
    """
    w, h = size
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    primary, accent = _COLOURS.get(colourway[0], (128, 128, 128)), _COLOURS.get(colourway[1], (60, 60, 60))
    collar = 0.25 + 0.4 * ((model_index * 7) % 5) / 4
    toe = 0.15 + 0.25 * ((model_index * 3) % 4) / 3
    dx = (jitter % 7 - 3) * w // 100
    base = int(h * 0.78)
    top = int(base - h * 0.5 * collar - h * 0.15)
    upper = [
        (w * 0.1 + dx, base),
        (w * 0.1 + dx, top),
        (w * (0.45 - toe / 2) + dx, top + h * 0.05),
        (w * 0.9 + dx, base - h * toe * 0.6),
        (w * 0.92 + dx, base),
    ]
    d.polygon(upper, fill=(*primary, 255))
    # Model stripes: 5 orientations x 5 widths = 25 patterns, clipped to the upper.
    stripes = Image.new("RGBA", size, (0, 0, 0, 0))
    sd = ImageDraw.Draw(stripes)
    width = max(2, int(w / (8, 11, 15, 20, 28)[(model_index // 5) % 5]))
    orientation = model_index % 5
    for k in range(-2 * w // width, 2 * w // width):
        off = k * 2 * width
        lines = {
            0: [((0, off), (w, off))],
            1: [((off, 0), (off, h))],
            2: [((off, 0), (off + h, h))],
            3: [((off, h), (off + h, 0))],
            4: [((off, 0), (off + h, h)), ((off, h), (off + h, 0))],
        }[orientation]
        for a, b in lines:
            sd.line([a, b], fill=(*accent, 255), width=width)
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).polygon(upper, fill=255)
    stripes.putalpha(ImageChops.multiply(stripes.getchannel("A"), mask))
    img.alpha_composite(stripes)
    sole = 0.08 + 0.06 * (list(_BRAND_SOLE).index(brand) % 3 if brand in _BRAND_SOLE else 0)
    d.rectangle(
        [w * 0.08 + dx, base, w * 0.94 + dx, base + h * sole], fill=(*_BRAND_SOLE.get(brand, (90, 90, 90)), 255)
    )
    cx, cy = w * 0.5 + dx, base - h * 0.12
    mark = _BRAND_MARK.get(brand, "star")
    ink = (*_BRAND_SOLE.get(brand, (90, 90, 90)), 255)
    if mark == "swoosh":
        d.arc([cx - w * 0.2, cy - h * 0.15, cx + w * 0.2, cy + h * 0.05], 20, 160, fill=ink, width=max(4, w // 30))
    elif mark == "stripes":
        for k in range(3):
            x = cx - w * 0.1 + k * w * 0.08
            d.line([(x, cy + h * 0.05), (x + w * 0.05, cy - h * 0.15)], fill=ink, width=max(4, w // 35))
    elif mark == "wings":
        d.ellipse([cx - w * 0.07, cy - h * 0.14, cx + w * 0.07, cy], fill=ink)
    elif mark == "wave":
        d.line(
            [(cx - w * 0.25 + k * w * 0.05, cy + (k % 2) * h * 0.06) for k in range(11)],
            fill=ink,
            width=max(4, w // 40),
        )
    elif mark == "letter":
        d.line(
            [
                (cx - w * 0.06, cy + h * 0.05),
                (cx - w * 0.06, cy - h * 0.12),
                (cx + w * 0.06, cy + h * 0.05),
                (cx + w * 0.06, cy - h * 0.12),
            ],
            fill=ink,
            width=max(4, w // 35),
        )
    else:
        d.regular_polygon((cx, cy - h * 0.05, h * 0.09), 5, fill=ink)
    if collab:
        d.rectangle([w * 0.1 + dx, top - h * 0.08, w * 0.2 + dx, top + h * 0.02], fill=(212, 175, 55, 255))
    return img


def render(
    listing_id: str,
    seed: int,
    model_index: int,
    brand: str,
    colourway: tuple[str, str],
    form: Form,
    collab: bool = False,
) -> tuple[bytes, str]:
    """The image file's bytes and content type for one listing."""
    h = int(hashlib.sha256(f"{seed}:{listing_id}:size".encode()).hexdigest(), 16)
    size = (320 + h % 400, 240 + (h >> 12) % 300)  # never square: normalisation must letterbox
    if form == "oversized_jpeg":
        size = (4000 + h % 400, 3000)
    img = draw_sneaker(model_index, brand, colourway, size, jitter=h >> 24, collab=collab)
    out = io.BytesIO()
    if form == "rgba_png":
        img.save(out, "PNG")
        return out.getvalue(), "image/png"
    flat = Image.new("RGB", size, (255, 255, 255))
    flat.paste(img, mask=img.getchannel("A"))
    if form == "palette_png":
        flat.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(out, "PNG")
        return out.getvalue(), "image/png"
    if form == "cmyk_jpeg":
        flat.convert("CMYK").save(out, "JPEG", quality=90)
        return out.getvalue(), "image/jpeg"
    if form == "exif_rotated_jpeg":
        # Stored rotated; EXIF orientation 6 tells viewers to rotate it back (90 degrees clockwise).
        exif = Image.Exif()
        exif[0x0112] = 6
        flat.transpose(Image.Transpose.ROTATE_90).save(out, "JPEG", quality=90, exif=exif.tobytes())
        return out.getvalue(), "image/jpeg"
    if form in ("rgb_jpeg", "oversized_jpeg"):
        flat.save(out, "JPEG", quality=90)
        return out.getvalue(), "image/jpeg"
    if form == "truncated":
        flat.save(out, "JPEG", quality=90)
        return out.getvalue()[: len(out.getvalue()) // 2], "image/jpeg"
    if form == "not_image":
        return b"<html><body>Access denied</body></html>", "image/jpeg"
    return bomb_png(), "image/png"


def bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A tiny PNG whose header claims a huge canvas: decoding it would need gigabytes."""
    raw = zlib.compress(b"\x00" * 16)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
