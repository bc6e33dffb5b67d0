"""Product images: fetch each once, normalise to exactly 224x224 RGB, reject what cannot be trusted.

Normalisation: EXIF orientation applied, transparency composited on white (product cut-outs would turn
black otherwise), CMYK/palette/greyscale converted to RGB, the long side scaled to 224 and the short side
letterbox-padded with white (no stretching). Guards: a pixel budget against decompression bombs and
truncated files are errors (never half-grey images). JPEGs are decoded at reduced scale (`draft`), which
is most of the speed-up over a plain decode-then-resize.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

SIZE = 224
MAX_PIXELS = 50_000_000  # larger claims are decompression bombs, not product photos
MAX_BYTES = 20 * 1024 * 1024
JPEG_QUALITY = 90


class ImageRejected(ValueError):
    """An image that must be quarantined; the message starts with a short reason code."""


@dataclass(frozen=True)
class NormalisedImage:
    sha256: str  # of the downloaded bytes: the same file fetched twice is stored once
    jpeg: bytes  # 224x224 RGB JPEG
    source_mode: str
    source_size: tuple[int, int]


def normalise(data: bytes) -> NormalisedImage:
    """Exactly 224x224 RGB JPEG bytes from any image file; ImageRejected for what cannot be one."""
    digest = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_BYTES:
        raise ImageRejected(f"too_large: {len(data)} bytes")
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise ImageRejected(f"decompression_bomb: {width}x{height}")
            mode = img.mode
            if img.format == "JPEG":
                img.draft("RGB" if mode != "CMYK" else "CMYK", (SIZE, SIZE))  # decode at 1/2..1/8 scale
            img.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageRejected(f"decompression_bomb: {err}") from err
    except UnidentifiedImageError as err:
        raise ImageRejected(f"not_an_image: {err}") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageRejected(f"corrupt: {err}") from err
    img = ImageOps.exif_transpose(img)
    img = _to_rgb(img)
    img.thumbnail((SIZE, SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)  # box-reduce first, then filter
    canvas = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
    canvas.paste(img, ((SIZE - img.width) // 2, (SIZE - img.height) // 2))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=JPEG_QUALITY)
    return NormalisedImage(digest, out.getvalue(), mode, (width, height))


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode in ("RGB", "L") and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return img.convert("RGB") if img.mode != "RGB" else img


@dataclass(frozen=True)
class Download:
    url: str
    data: bytes | None
    error: str | None  # reason code: placeholder, http_404, timeout, ...


def download_all(urls: Iterable[str], concurrency: int = 16, timeout_s: float = 20.0, retries: int = 3) -> list[Download]:
    """Fetch each URL once (threads: the work is waiting on the network); 429/5xx and timeouts are retried."""
    import httpx  # here, so process-pool workers that only normalise do not pay for it

    transport = httpx.HTTPTransport(retries=1)
    with httpx.Client(timeout=timeout_s, transport=transport, follow_redirects=True) as client:

        def fetch(url: str) -> Download:
            if url.startswith("data:"):
                return Download(url, None, "placeholder_image")
            for attempt in range(retries + 1):
                try:
                    response = client.get(url)
                except httpx.TimeoutException:
                    if attempt == retries:
                        return Download(url, None, "timeout")
                    continue
                except httpx.HTTPError as err:
                    return Download(url, None, f"http_error: {err}")
                if response.status_code == 429 or response.status_code >= 500:
                    if attempt == retries:
                        return Download(url, None, f"http_{response.status_code}")
                    import time

                    time.sleep(min(float(response.headers.get("Retry-After", "1") or 1), 30.0))
                    continue
                if response.status_code != 200:
                    return Download(url, None, f"http_{response.status_code}")
                return Download(url, response.content, None)
            return Download(url, None, "retries_exhausted")

        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(fetch, list(dict.fromkeys(urls))))


def normalise_or_reason(data: bytes) -> tuple[NormalisedImage | None, str | None]:
    """For process pools: never raises for a bad image, returns its reason instead."""
    try:
        return normalise(data), None
    except ImageRejected as err:
        return None, str(err)
