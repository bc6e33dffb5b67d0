"""Product images: fetch each once, normalise to exactly 224x224 RGB, reject what cannot be trusted.

Normalisation: EXIF orientation applied, transparency composited on white (product cut-outs would turn
black otherwise), CMYK/palette/greyscale converted to RGB, the long side scaled to 224 and the short side
letterbox-padded with white (no stretching). Guards: a pixel budget against decompression bombs and
truncated files are errors (never half-grey images).

Speed (benchmarks/bench_sneakers_images.py): JPEGs are decoded at 1/2..1/8 scale in the DCT domain (`draft`),
aimed at the letterboxed size rather than 224x224, so a 600x400 photo decodes at 300x200 instead of in full;
other images are box-reduced by an integer factor before the bilinear resize; transparency is composited by
one masked paste (no full-size copies, no premultiplied-alpha round trip); `normalise_all` runs a batch on
every core with threads.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from foundation.outbound import GuardedClient, OutboundLimits
from foundation.progress import Progress
from foundation.storage.filesystems import object_info, write_bytes

if TYPE_CHECKING:  # workers unpickle `fetch_and_normalise` from this module: it must not import Dagster
    from foundation.compute import Engine

SIZE = 224
MAX_PIXELS = 50_000_000  # larger claims are decompression bombs, not product photos
MAX_BYTES = 20 * 1024 * 1024
JPEG_QUALITY = 90
WHITE = (255, 255, 255)
# Box-reduce (an exact area average) by the largest integer factor that keeps the image >= the target, then
# resample bilinearly: the pixel-domain twin of JPEG draft decoding; outputs differ from a full-size bilinear
# resize by < 0.5/255 on average (measured on the sandbox images) at about half the resize cost.
REDUCING_GAP = 1.0


IMAGES_SCHEMA = pa.schema(
    [
        ("image_url", pa.string()),
        ("query", pa.string()),
        ("content_sha256", pa.string()),
        ("path", pa.string()),  # normalised 224x224 JPEG, content-addressed
        ("source_mode", pa.string()),
        ("source_width", pa.int32()),
        ("source_height", pa.int32()),
        ("normalised_at", pa.timestamp("us", tz="UTC")),
    ]
)


class ImageRejected(ValueError):
    """An image that must be quarantined; the message starts with a short reason code."""


@dataclass(frozen=True)
class NormalisedImage:
    sha256: str  # of the downloaded bytes: the same file fetched twice is stored once
    jpeg: bytes  # 224x224 RGB JPEG
    source_mode: str
    source_size: tuple[int, int]


def letterboxed_size(width: int, height: int) -> tuple[int, int]:
    """The size with the long side at SIZE and the aspect ratio kept (what gets padded to SIZE x SIZE)."""
    scale = SIZE / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def normalise(data: bytes) -> NormalisedImage:
    """Exactly 224x224 RGB JPEG bytes from any image file; ImageRejected for what cannot be one."""
    if len(data) > MAX_BYTES:
        raise ImageRejected(f"too_large: {len(data)} bytes")
    digest = hashlib.sha256(data).hexdigest()
    img, source_mode, source_size = _decode(data)
    img = _to_rgb(img)
    target = letterboxed_size(*img.size)
    if img.size != target:
        img = img.resize(target, Image.Resampling.BILINEAR, reducing_gap=REDUCING_GAP)
    if target == (SIZE, SIZE):
        canvas = img
    else:
        canvas = Image.new("RGB", (SIZE, SIZE), WHITE)
        canvas.paste(img, ((SIZE - target[0]) // 2, (SIZE - target[1]) // 2))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=JPEG_QUALITY)
    return NormalisedImage(digest, out.getvalue(), source_mode, source_size)


_OBJECT_REPR = re.compile(r"<[^<>]* object at 0x[0-9a-fA-F]+>")


def _decode(data: bytes) -> tuple[Image.Image, str, tuple[int, int]]:
    """Decode with the guards, EXIF rotation applied; JPEGs at the smallest DCT scale still >= the target size."""
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        # No warnings.catch_warnings() here: it swaps process-global filters, which is unsafe under
        # normalise_all's threads. Pillow warns (DecompressionBombWarning) above its own limit and raises
        # above twice that; both are far above MAX_PIXELS, so such a file is rejected below either way.
        img = Image.open(io.BytesIO(data))
        width, height = img.size
        if width * height > MAX_PIXELS:
            raise ImageRejected(f"decompression_bomb: {width}x{height}")
        mode = img.mode
        if img.format == "JPEG":
            img.draft(None, letterboxed_size(width, height))  # EXIF rotation swaps both sides alike
        img.load()
        ImageOps.exif_transpose(img, in_place=True)  # on the (reduced) decoded pixels; no-op without orientation
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageRejected(f"decompression_bomb: {err}") from err
    except UnidentifiedImageError as err:
        # Pillow names the buffer by its memory address ("<_io.BytesIO object at 0x7f..>"): a reason must not vary.
        raise ImageRejected(f"not_an_image: {_OBJECT_REPR.sub('', str(err)).strip()}") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageRejected(f"corrupt: {err}") from err
    return img, mode, (width, height)


def _to_rgb(img: Image.Image) -> Image.Image:
    """RGB, with any transparency composited on white by one masked paste (no full-size copies)."""
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("LA", "PA", "La", "RGBa") or (img.mode in ("RGB", "L") and "transparency" in img.info):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        white = Image.new("RGB", img.size, WHITE)
        white.paste(img, (0, 0), img)  # the alpha band is the mask
        return white
    return img if img.mode == "RGB" else img.convert("RGB")


@dataclass(frozen=True)
class Download:
    url: str
    data: bytes | None
    error: str | None  # reason code: placeholder_image, blocked_address: loopback, http_404, too_large, ...


def download_all(
    urls: Iterable[str],
    allow: Iterable[str] = (),
    limits: OutboundLimits | None = None,
    concurrency: int = 16,
) -> list[Download]:
    """Fetch each URL once through the guarded client (foundation.outbound: http(s) only, no internal
    addresses unless `allow` names them, byte cap, one deadline per download, redirects re-checked), on threads
    (the work is waiting on the network). 429/5xx and timeouts are retried with backoff from 1 s, at least the
    server's Retry-After, capped at 30 s; a failure is the URL's reason code, never an exception for the batch."""
    limits = limits or OutboundLimits(max_bytes=MAX_BYTES)
    with GuardedClient(allow, limits, max_connections=concurrency) as client:

        def fetch(url: str) -> Download:
            if url.startswith("data:"):
                return Download(url, None, "placeholder_image")
            fetched = client.fetch_with_retries(url)
            return Download(url, fetched.data, fetched.reason)

        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(fetch, list(dict.fromkeys(urls))))


def normalise_or_reason(data: bytes) -> tuple[NormalisedImage | None, str | None]:
    """For pools: never raises for a bad image, returns its reason instead."""
    try:
        return normalise(data), None
    except ImageRejected as err:
        return None, str(err)


def normalise_all(
    blobs: Iterable[bytes], workers: int | None = None
) -> Iterator[tuple[NormalisedImage | None, str | None]]:
    """normalise_or_reason for each blob, in order, on every core.

    Threads, not processes: Pillow releases the GIL while it decodes, converts, resizes, pastes and encodes,
    so two threads keep two cores busy (measured 1.86 cores) with no process start-up, no pickling of the
    images, and no fork of a threaded Dagster worker.
    """
    workers = workers or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    if workers < 2:
        yield from map(normalise_or_reason, blobs)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="normalise") as pool:
        yield from pool.map(normalise_or_reason, blobs)


# -- one batch of listing images, as rows of the images table -----------------------------------------------


@dataclass
class ImageBatch:
    rows: list[dict[str, Any]]  # IMAGES_SCHEMA rows, one per wanted (image URL, query)
    rejects: list[tuple[dict[str, str], str, str]]  # (raw record, reason, location) to quarantine
    downloaded: int
    reused: int
    metadata: dict[str, float] = field(default_factory=dict)  # download and normalisation rates


def store_jpeg(image_dir: str | Path, image: NormalisedImage) -> str:
    """The normalised JPEG at `image_dir/<sha[:2]>/<sha>.jpg` (a folder or an object-store prefix), written once
    (atomically: temp name and rename locally, one PUT on an object store); returns its path or URI."""
    uri = f"{str(image_dir).rstrip('/')}/{image.sha256[:2]}/{image.sha256}.jpg"
    if object_info(uri) is None:  # content-addressed: an existing file already holds these bytes
        write_bytes(uri, image.jpeg)
    return uri


Normalised = tuple[NormalisedImage | None, str | None]  # an image or the reason it was rejected
IMAGE_BATCH = 64  # URLs per cluster work unit: enough to keep a worker's download threads busy


@dataclass(frozen=True)
class ImageUnit:
    """One cluster work unit: URLs to download and normalise, with the outbound guard's settings."""

    urls: tuple[str, ...]
    allow: tuple[str, ...] = ()
    limits: OutboundLimits | None = None


def fetch_and_normalise(unit: ImageUnit) -> list[tuple[str, str | None, Normalised | None]]:
    """On a worker: (url, download error, (normalised image, rejection reason) when downloaded) for each URL of
    `unit`, by the same `download_all` and `normalise_all` as in-process."""
    downloads = download_all(unit.urls, unit.allow, unit.limits)
    fetched = [d for d in downloads if d.data is not None]
    normalised = dict(zip([d.url for d in fetched], normalise_all([d.data for d in fetched]), strict=True))
    return [(d.url, d.error, normalised.get(d.url)) for d in downloads]


def collect_images(
    wanted: list[tuple[str, str]],
    known: dict[str, dict[str, Any]],
    image_dir: str | Path,
    log: Any,
    allow: Iterable[str] = (),
    limits: OutboundLimits | None = None,
    engine: Engine | None = None,
) -> ImageBatch:
    """Rows for each wanted (image URL, query): reused when the URL was normalised before (for any query),
    else downloaded once (guarded; `allow` lists internal host:port or CIDR entries that may be fetched),
    normalised and stored content-addressed; failures come back as rejects with their reason.

    With `engine` (a Ray cluster, foundation/compute.py) the workers download and normalise batches of URLs with
    `fetch_and_normalise`; the JPEGs (~15 KB each) come back and are stored here, like in-process."""
    todo = sorted({url for url, _ in wanted if url not in known})
    if engine is None:
        with Progress(log, "images downloaded", len(todo)) as downloading:
            downloads = {d.url: d for d in download_all(todo, allow, limits)}
            downloading.advance(len(todo))
        fetched = [d for d in downloads.values() if d.data is not None]
        with Progress(log, "images normalised", len(fetched)) as normalising:
            normalised = dict(zip([d.url for d in fetched], normalise_all([d.data for d in fetched]), strict=True))
            normalising.advance(len(fetched))
        rates = downloading.metadata() | normalising.metadata()
    else:
        with Progress(log, "images downloaded and normalised on the cluster", len(todo)) as progress:
            downloads, normalised = {}, {}
            units = [
                ImageUnit(tuple(todo[i : i + IMAGE_BATCH]), tuple(allow), limits)
                for i in range(0, len(todo), IMAGE_BATCH)
            ]
            for results in engine.map_ordered(fetch_and_normalise, units):
                for url, error, pair in results:
                    downloads[url] = Download(url, None, error)  # the source bytes stay on the worker
                    if pair is not None:
                        normalised[url] = pair
                progress.advance(len(results))
        fetched = list(normalised)
        rates = progress.metadata()
    now = datetime.now(UTC)
    batch = ImageBatch([], [], len(fetched), 0, rates)
    for url, query in wanted:
        if url in known:
            batch.rows.append({**known[url], "query": query})
            batch.reused += 1
            continue
        image, reason = normalised.get(url, (None, downloads[url].error))
        if image is None:
            location = url if not url.startswith("data:") else "data: URL"  # the quarantine strips query strings
            batch.rejects.append(({"image_url": url, "query": query}, reason or "unknown", location))
            continue
        batch.rows.append(
            {
                "image_url": url,
                "query": query,
                "content_sha256": image.sha256,
                "path": store_jpeg(image_dir, image),
                "source_mode": image.source_mode,
                "source_width": image.source_size[0],
                "source_height": image.source_size[1],
                "normalised_at": now,
            }
        )
    return batch
