"""The sandbox marketplace's catalogue: sneaker listings generated deterministically from a seed.

It stands in for a GOAT-like shop: ~25 search queries (one per sneaker model, 6 brands), titles in the
shop's own style (collaborations, trims, colourways in quotes), "$1,234" prices with some empty, a few
placeholder images and some listings repeated across result pages. With `real_titles` it serves the
titles and prices of the real GOAT scrape in ../shared/data/sneakers instead of invented ones.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

PLACEHOLDER_IMAGE = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"

# query -> (brand, how the shop spells the model in titles, typical price in dollars)
MODELS: dict[str, tuple[str, list[str], int]] = {
    "air-jordan-1": ("Air Jordan", ["Air Jordan 1 Retro High OG", "Air Jordan 1 Low", "Air Jordan 1 Mid"], 260),
    "air-jordan-2": ("Air Jordan", ["Air Jordan 2 Retro", "Air Jordan 2 Retro Low"], 180),
    "air-jordan-3": ("Air Jordan", ["Air Jordan 3 Retro", "Air Jordan 3 Retro SE"], 240),
    "air-jordan-4": ("Air Jordan", ["Air Jordan 4 Retro", "Air Jordan 4 Retro SE"], 380),
    "air-jordan-5": ("Air Jordan", ["Air Jordan 5 Retro", "Air Jordan 5 Retro Low"], 230),
    "air-jordan-6": ("Air Jordan", ["Air Jordan 6 Retro", "Air Jordan 6 Retro Low"], 250),
    "air-jordan-11": ("Air Jordan", ["Air Jordan 11 Retro", "Air Jordan 11 Retro Low"], 300),
    "air-jordan-12": ("Air Jordan", ["Air Jordan 12 Retro"], 210),
    "nike-dunk-low": ("Nike", ["Dunk Low", "Dunk Low Pro SB", "Dunk Low Retro"], 170),
    "nike-dunk-high": ("Nike", ["Dunk High", "Dunk High Pro SB"], 190),
    "nike-air-force-1": ("Nike", ["Air Force 1 '07 Low", "Air Force 1 High", "Air Force 1 Mid"], 120),
    "nike-air-max-1": ("Nike", ["Air Max 1", "Air Max 1 Premium"], 160),
    "nike-air-max-90": ("Nike", ["Air Max 90", "Air Max 90 Essential"], 140),
    "yeezy-boost-350": ("Yeezy", ["Yeezy Boost 350 V2"], 330),
    "yeezy-boost-700": ("Yeezy", ["Yeezy Boost 700", "Yeezy Boost 700 V2"], 350),
    "yeezy-foam-runner": ("Yeezy", ["Yeezy Foam Runner"], 150),
    "yeezy-slide": ("Yeezy", ["Yeezy Slides"], 90),
    "adidas-stan-smith": ("Adidas", ["Stan Smith", "Stan Smith Primeknit"], 95),
    "adidas-samba": ("Adidas", ["Samba OG", "Samba Classic"], 110),
    "adidas-forum": ("Adidas", ["Forum Low", "Forum 84 High"], 105),
    "new-balance-550": ("New Balance", ["550", "550 Vintage"], 140),
    "new-balance-990": ("New Balance", ["990v5 Made in USA", "990v3 Made in USA"], 200),
    "new-balance-2002r": ("New Balance", ["2002R", "2002R Protection Pack"], 160),
    "bapesta": ("Bapesta", ["Bapesta FS-001 Low", "Bapesta Mid"], 280),
    "nike-air-max-97": ("Nike", ["Air Max 97", "Air Max 97 OG"], 170),
}
COLOURS = [
    "Black",
    "White",
    "University Red",
    "Royal Blue",
    "Bred",
    "Chicago",
    "Panda",
    "Sail",
    "Cream",
    "Olive",
    "Volt",
    "Obsidian",
    "Wolf Grey",
    "Pine Green",
    "Mocha",
    "Infrared",
    "Zebra",
    "Bone",
    "Gum",
    "Pink Foam",
]
COLLABS = ["Travis Scott", "Off-White", "Union", "Kith", "Supreme", "Concepts", "Patta", "Aime Leon Dore"]


# How real GOAT titles mention each query's model (first match wins, so specific before general).
_REAL_TITLE_PATTERNS = {
    **{f"air-jordan-{n}": f"jordan {n}" for n in (11, 12, 1, 2, 3, 4, 5, 6)},
    "nike-air-max-97": "air max 97",
    "nike-dunk-low": "dunk low",
    "nike-dunk-high": "dunk high",
    "nike-air-force-1": "air force 1",
    "nike-air-max-1": "air max 1",
    "nike-air-max-90": "air max 90",
    "yeezy-boost-350": "yeezy boost 350",
    "yeezy-boost-700": "yeezy boost 700",
    "yeezy-foam-runner": "foam r(?:unner|nnr)",
    "yeezy-slide": "yeezy slides?",
    "adidas-stan-smith": "stan smith",
    "adidas-samba": "samba",
    "adidas-forum": "forum",
    "new-balance-550": "550",
    "new-balance-990": "990(?:v\\d)?",
    "new-balance-2002r": "2002r",
    "bapesta": "bapesta",
}


@dataclass(frozen=True)
class Listing:
    """One product card as the shop knows it (the scraper only sees what the API returns)."""

    id: str
    query: str
    title: str
    price: str  # "$1,234" or "" like the real shop
    image: str  # path under /images/ or a placeholder data: URL
    colourway: tuple[str, str]  # what the generated image draws (primary, accent)
    collab: bool = False  # collaborations cost more and carry a heel tag in the image


@dataclass
class CatalogueConfig:
    seed: int = 7
    listings_per_query: int = 120
    queries: list[str] = field(default_factory=lambda: list(MODELS))
    empty_price_share: float = 0.08
    placeholder_share: float = 0.03
    real_titles: Path | None = None  # a GOAT listings CSV; titles and prices are taken from it


def _price(rng: random.Random, typical: int, collab: bool) -> int:
    price = typical * rng.lognormvariate(0.0, 0.15) * (2.0 if collab else 1.0)
    return max(40, int(price))


def generate(config: CatalogueConfig) -> dict[str, list[Listing]]:
    """Listings per query, deterministic from `config.seed`."""
    real = _real_rows(config.real_titles) if config.real_titles else None
    catalogue: dict[str, list[Listing]] = {}
    for q_index, query in enumerate(config.queries):
        brand, names, typical = MODELS[query]
        rng = random.Random(f"{config.seed}:{query}")
        listings = []
        for i in range(config.listings_per_query):
            primary, accent = rng.sample(COLOURS, 2)
            collab = rng.random() < 0.12
            if real and real.get(query):
                title, price_text = real[query][i % len(real[query])]
            else:
                name = rng.choice(names)
                title = f"{rng.choice(COLLABS) + ' x ' if collab else ''}{name} '{primary} {accent}'"
                if rng.random() < 0.1:
                    title += f" {rng.choice([2015, 2018, 2020, 2022, 2023])}"
                price_text = f"${_price(rng, typical, collab):,}"
            if rng.random() < config.empty_price_share:
                price_text = ""
            listing_id = f"{q_index:02d}{i:06d}"
            image = PLACEHOLDER_IMAGE if rng.random() < config.placeholder_share else f"/images/{listing_id}"
            listings.append(Listing(listing_id, query, title, price_text, image, (primary, accent), collab))
        catalogue[query] = listings
    return catalogue


def _real_rows(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Real GOAT titles grouped under the sandbox query whose model name they mention."""
    patterns = {q: re.compile(rf"\b{p}\b", re.I) for q, p in _REAL_TITLE_PATTERNS.items()}
    grouped: dict[str, list[tuple[str, str]]] = {q: [] for q in MODELS}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for query, pattern in patterns.items():
                if pattern.search(row["title"]):
                    grouped[query].append((row["title"], row["price"]))
                    break
    return grouped
