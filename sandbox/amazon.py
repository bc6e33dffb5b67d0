"""Deterministic stand-in for the Amazon Reviews 2023 files (McAuley lab, `<Category>.jsonl`, `meta_<Category>.jsonl`).

Lines follow the 2023 format field for field: reviews carry `rating, title, text, images, asin, parent_asin,
user_id, timestamp (ms), helpful_vote, verified_purchase`; item metadata carries `main_category, title,
average_rating, rating_number, features, description, price, images, videos, store, categories, details,
parent_asin, bought_together`. Popularity and user activity are long-tailed, and users have a taste cluster,
so that collaborative models have something to find. A known number of bad lines of each kind is mixed in so
that ingestion tests can check exact quarantine counts.

Everything is a pure function of the spec (seed included), and reviews are produced in blocks of users so a
multi-gigabyte file for the benchmark is written in bounded memory.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scrapers.amazon.landing import file_name

# Kinds of bad line the generator writes, named by the quarantine reason ingestion gives them.
BAD_REVIEW_KINDS = ("bad_json", "bad_type", "missing_field", "out_of_range")
BAD_ITEM_KINDS = ("bad_json", "missing_field")

_WORDS = [
    "great",
    "quality",
    "cheap",
    "works",
    "fine",
    "broke",
    "after",
    "week",
    "battery",
    "charger",
    "cable",
    "sound",
    "bright",
    "screen",
    "case",
    "fits",
    "perfectly",
    "returned",
    "love",
    "it",
    "recommend",
    "disappointed",
    "easy",
    "setup",
    "sturdy",
    "flimsy",
    "fast",
    "shipping",
    "value",
    "money",
    "color",
    "exactly",
    "described",
    "small",
    "large",
    "heavy",
    "light",
    "strong",
    "weak",
    "noisy",
    "quiet",
    "comfortable",
    "warm",
    "cold",
    "sharp",
    "clear",
    "blurry",
    "reliable",
    "stopped",
    "working",
    "customer",
    "service",
    "replacement",
    "arrived",
    "damaged",
    "packaging",
    "gift",
    "daughter",
    "son",
    "husband",
    "wife",
    "kitchen",
    "office",
    "travel",
    "car",
    "home",
    "outdoor",
    "waterproof",
    "durable",
    "stylish",
]
_WORD_ARRAY = np.array(_WORDS, dtype=object)
_STORES = ("Anker", "Sony", "Logitech", "AmazonBasics", "Belkin", "Sabrent", "UGREEN", "JBL", "Generic", "TP-Link")
_FIRST = 1_262_304_000_000  # 2010-01-01 in ms
_LAST = 1_693_526_400_000  # 2023-09-01 in ms (the 2023 crawl ends in September)
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class AmazonSandboxSpec:
    """Size and shape of one generated category."""

    category: str = "Sandbox_Electronics"
    n_users: int = 5_000
    n_items: int = 600
    activity_exponent: float = 1.6  # reviews per user ~ Zipf: most write one, a few write a hundred
    n_clusters: int = 8
    in_cluster_share: float = 0.8
    bad_reviews_per_kind: int = 3
    bad_items_per_kind: int = 2
    text_words: int = 24
    seed: int = 7
    gzip: bool = False


@dataclass
class GeneratedFiles:
    """What was written, with the exact counts ingestion should report."""

    reviews_path: Path
    meta_path: Path
    review_lines: int = 0
    good_reviews: int = 0
    bad_reviews: Counter = field(default_factory=Counter)
    item_lines: int = 0
    good_items: int = 0
    bad_items: Counter = field(default_factory=Counter)


def user_id(index: int) -> str:
    """28 upper-case characters like the real anonymised ids, unique per index."""
    mixed = (index * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
    return f"AE{mixed:016X}{index:010X}"


def parent_asin(index: int) -> str:
    return f"B0{index:08X}"


def _variant_asin(index: int) -> str:
    return f"B1{index:08X}"


class _Catalogue:
    """Item popularity, clusters and quality shared by the review and metadata writers."""

    def __init__(self, spec: AmazonSandboxSpec) -> None:
        rng = np.random.default_rng([spec.seed, 1])
        n = spec.n_items
        # Zipf-like popularity: a handful of blockbusters, a long tail of items reviewed once or twice.
        self.popularity = 1.0 / np.arange(1, n + 1) ** 1.07
        rng.shuffle(self.popularity)
        self.cluster = rng.integers(0, spec.n_clusters, n)
        self.quality = np.clip(rng.normal(4.1, 0.6, n), 1.5, 5.0)
        self.has_variant = rng.random(n) < 0.2
        self.global_cdf = np.cumsum(self.popularity) / self.popularity.sum()
        self.cluster_items = [np.flatnonzero(self.cluster == c) for c in range(spec.n_clusters)]
        self.cluster_cdf = [
            np.cumsum(self.popularity[idx]) / max(self.popularity[idx].sum(), 1e-12) for idx in self.cluster_items
        ]


def _words(rng: np.random.Generator, n: int) -> str:
    return " ".join(_WORDS[i] for i in rng.integers(0, len(_WORDS), n))


def _review_lines(spec: AmazonSandboxSpec, cat: _Catalogue, block_users: int = 20_000) -> Iterator[tuple[str, int]]:
    """(line, item index) for every review, user block by user block."""
    for start in range(0, spec.n_users, block_users):
        users = np.arange(start, min(start + block_users, spec.n_users))
        rng = np.random.default_rng([spec.seed, 2, start])
        # Long-tailed activity: most users review once or twice, a few review dozens of items.
        counts = rng.zipf(spec.activity_exponent, users.size).clip(max=60).astype(np.int64)
        taste = rng.integers(0, spec.n_clusters, users.size)
        owner = np.repeat(np.arange(users.size), counts)
        in_cluster = rng.random(owner.size) < spec.in_cluster_share
        items = np.searchsorted(cat.global_cdf, rng.random(owner.size)).clip(max=spec.n_items - 1)
        for c in range(spec.n_clusters):
            pick = in_cluster & (taste[owner] == c)
            if cat.cluster_items[c].size and pick.any():
                local = np.searchsorted(cat.cluster_cdf[c], rng.random(pick.sum())).clip(
                    max=cat.cluster_items[c].size - 1
                )
                items[pick] = cat.cluster_items[c][local]
        # Re-draw most repeated (user, item) pairs from the whole catalogue; real files keep only a few repeats.
        for _ in range(3):
            key = owner * spec.n_items + items
            _, first = np.unique(key, return_index=True)
            repeat = np.ones(key.size, bool)
            repeat[first] = False
            if not repeat.any():
                break
            items[repeat] = np.searchsorted(cat.global_cdf, rng.random(repeat.sum())).clip(max=spec.n_items - 1)
        # Each user's reviews move forward in time from a personal start date.
        begin = rng.integers(_FIRST, _LAST - 400 * _DAY_MS, users.size)
        gaps = rng.exponential(20 * _DAY_MS, owner.size).astype(np.int64) + rng.integers(0, 1000, owner.size)
        first_of_user = np.r_[0, np.cumsum(counts)[:-1]]
        steps = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first_of_user] - gaps[first_of_user], counts)
        stamps = np.minimum(begin[owner] + steps, _LAST)
        ratings = np.clip(np.rint(cat.quality[items] + rng.normal(0, 0.9, owner.size)), 1, 5)
        helpful = rng.geometric(0.6, owner.size) - 1
        verified = rng.random(owner.size) < 0.88
        with_image = rng.random(owner.size) < 0.05
        # All words of the block drawn at once: one numpy call instead of two per review.
        title_words = _WORD_ARRAY[rng.integers(0, len(_WORDS), (owner.size, 4))]
        text_words = _WORD_ARRAY[rng.integers(0, len(_WORDS), (owner.size, spec.text_words))]
        for j in range(owner.size):
            item = int(items[j])
            asin = _variant_asin(item) if cat.has_variant[item] and j % 3 == 0 else parent_asin(item)
            images = (
                f'[{{"small_image_url": "https://m.media-amazon.com/images/I/{asin}{j}._SL256_.jpg", '
                f'"medium_image_url": "https://m.media-amazon.com/images/I/{asin}{j}._SL800_.jpg", '
                f'"large_image_url": "https://m.media-amazon.com/images/I/{asin}{j}.jpg", "attachment_type": "IMAGE"}}]'
                if with_image[j]
                else "[]"
            )
            yield (
                f'{{"rating": {ratings[j]:.1f}, "title": "{" ".join(title_words[j])}", "text": "{" ".join(text_words[j])}", '
                f'"images": {images}, "asin": "{asin}", "parent_asin": "{parent_asin(item)}", '
                f'"user_id": "{user_id(int(users[owner[j]]))}", "timestamp": {int(stamps[j])}, '
                f'"helpful_vote": {int(helpful[j])}, "verified_purchase": {"true" if verified[j] else "false"}}}',
                item,
            )


def _bad_review(kind: str, good: str) -> str:
    record = json.loads(good)
    if kind == "bad_json":
        return good[: len(good) // 2]  # a line cut mid-way, as when a download is interrupted
    if kind == "bad_type":
        record["rating"] = "five stars"
    elif kind == "missing_field":
        del record["user_id"]
    elif kind == "out_of_range":
        record["rating"] = 7.0
    return json.dumps(record)


def _meta_line(spec: AmazonSandboxSpec, cat: _Catalogue, item: int, reviews: int, rng: np.random.Generator) -> str:
    asin = parent_asin(item)
    # rating_number counts every rating on the site, so it is at least the reviews in the file.
    rating_number = int(reviews + rng.poisson(reviews * 0.5 + 1))
    price: float | None | str = round(float(rng.lognormal(3.2, 0.8)), 2) if rng.random() < 0.85 else None
    if rng.random() < 0.02:
        price = "from 12.99"  # a real quirk: a few prices are text
    record = {
        "main_category": "All Electronics",
        "title": f"{_STORES[item % len(_STORES)]} {_words(rng, 5).title()}",
        "average_rating": round(float(np.clip(cat.quality[item] + rng.normal(0, 0.2), 1, 5)), 1),
        "rating_number": rating_number,
        "features": [_words(rng, 8) for _ in range(int(rng.integers(0, 4)))],
        "description": [_words(rng, 20)] if rng.random() < 0.7 else [],
        "price": price,
        "images": [
            {
                "thumb": f"https://m.media-amazon.com/images/I/{asin}-{v}._SS40_.jpg",
                "large": f"https://m.media-amazon.com/images/I/{asin}-{v}.jpg",
                "variant": "MAIN" if v == 0 else f"PT0{v}",
                "hi_res": f"https://m.media-amazon.com/images/I/{asin}-{v}._SL1500_.jpg"
                if rng.random() < 0.7
                else None,
            }
            for v in range(int(rng.integers(1, 4)))
        ],
        "videos": (
            [{"title": f"{_words(rng, 3)} review", "url": f"https://www.amazon.com/vdp/{asin}", "user_id": ""}]
            if rng.random() < 0.1
            else []
        ),
        "store": _STORES[item % len(_STORES)],
        "categories": ["Electronics", f"Cluster {int(cat.cluster[item])}"],
        "details": {
            "Brand": _STORES[item % len(_STORES)],
            "Item Weight": f"{rng.uniform(0.1, 5):.2f} pounds",
            "Date First Available": f"March {1 + item % 28}, {2010 + item % 13}",
            "Best Sellers Rank": {"Electronics": int(rng.integers(1, 500_000))},
        },
        "parent_asin": asin,
        "bought_together": None,
    }
    return json.dumps(record)


def _spaced_positions(total: int, count: int, salt: int) -> list[int]:
    """`count` distinct, spread-out line positions in [0, total)."""
    if count <= 0 or total <= 0:
        return []
    step = max(total // (count + 1), 1)
    return sorted(
        {min(total - 1, step * (i + 1) + (salt * 7919 + i * 104729) % max(step // 2, 1)) for i in range(count)}
    )


def _open(path: Path, compress: bool):
    return gzip.open(path, "wt", encoding="utf-8", compresslevel=1) if compress else open(path, "w", encoding="utf-8")


def generate(folder: str | Path, spec: AmazonSandboxSpec = AmazonSandboxSpec()) -> GeneratedFiles:
    """Write `<category>.jsonl[.gz]` and `meta_<category>.jsonl[.gz]` (the landing names, scrapers/amazon/landing.py)
    into `folder`, atomically (tmp + rename)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = GeneratedFiles(
        folder / file_name("reviews", spec.category, spec.gzip), folder / file_name("items", spec.category, spec.gzip)
    )
    cat = _Catalogue(spec)

    n_bad = spec.bad_reviews_per_kind * len(BAD_REVIEW_KINDS)
    # Bad lines replace good ones at fixed positions among the first lines, so counts stay exact.
    bad_at = {
        p: BAD_REVIEW_KINDS[i % len(BAD_REVIEW_KINDS)]
        for i, p in enumerate(_spaced_positions(min(spec.n_users, 5_000), n_bad, spec.seed))
    }
    reviews_per_item = np.zeros(spec.n_items, np.int64)
    tmp = out.reviews_path.with_name(out.reviews_path.name + ".tmp")
    with _open(tmp, spec.gzip) as fh:
        buffer: list[str] = []
        for line_no, (line, item) in enumerate(_review_lines(spec, cat)):
            kind = bad_at.get(line_no)
            if kind:
                line = _bad_review(kind, line)
                out.bad_reviews[kind] += 1
            else:
                out.good_reviews += 1
                reviews_per_item[item] += 1
            buffer.append(line)
            if len(buffer) >= 10_000:
                fh.write("\n".join(buffer) + "\n")
                buffer.clear()
            out.review_lines += 1
        if buffer:
            fh.write("\n".join(buffer) + "\n")
    tmp.replace(out.reviews_path)

    rng = np.random.default_rng([spec.seed, 3])
    bad_items = {
        p: BAD_ITEM_KINDS[i % len(BAD_ITEM_KINDS)]
        for i, p in enumerate(
            _spaced_positions(spec.n_items, spec.bad_items_per_kind * len(BAD_ITEM_KINDS), spec.seed + 1)
        )
    }
    tmp = out.meta_path.with_name(out.meta_path.name + ".tmp")
    with _open(tmp, spec.gzip) as fh:
        for item in range(spec.n_items):
            line = _meta_line(spec, cat, item, int(reviews_per_item[item]), rng)
            kind = bad_items.get(item)
            if kind == "bad_json":
                line = line[: len(line) // 3]
            elif kind == "missing_field":
                record = json.loads(line)
                del record["parent_asin"]
                line = json.dumps(record)
            if kind:
                out.bad_items[kind] += 1
            else:
                out.good_items += 1
            fh.write(line + "\n")
            out.item_lines += 1
    tmp.replace(out.meta_path)
    return out


def spec_for_size(target_bytes: int, category: str = "Bench_Electronics", seed: int = 11) -> AmazonSandboxSpec:
    """A spec whose reviews file is at least about `target_bytes` (~420 bytes a review, 8.8 reviews a user)."""
    reviews = max(1, target_bytes // 400)
    users = max(1, int(reviews / 8.8))
    return AmazonSandboxSpec(category=category, n_users=users, n_items=max(1000, users // 20), seed=seed)
