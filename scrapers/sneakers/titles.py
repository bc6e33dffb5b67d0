"""Model and brand labels parsed from listing titles against a configurable vocabulary.

The original project labelled rows by their position in stitched CSVs; here a title says what it is:
"Travis Scott x Air Jordan 4 Retro 'Cactus Jack'" is AJ 4 by Air Jordan wherever it was scraped.
Patterns are tried in order, so specific ones (Jordan 11) come before general ones (Jordan 1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# label, brand, pattern (case-insensitive). Labels follow the original project's 24 classes + Air Max 97.
DEFAULT_VOCABULARY: tuple[tuple[str, str, str], ...] = (
    ("YZY SLIDES", "YEEZY", r"yeezy\b.*\bslides?\b"),
    ("YZY 350", "YEEZY", r"yeezy boost 350|yeezy 350"),
    ("YZY 700", "YEEZY", r"yeezy boost 700|yeezy 700"),
    ("YZY RNR", "YEEZY", r"yeezy foam r(?:unner|nnr)|foam rnnr"),
    ("AJ 11", "AIR JORDAN", r"jordan (?:fusion )?11\b"),
    ("AJ 12", "AIR JORDAN", r"jordan (?:fusion )?12\b"),
    ("AJ 1", "AIR JORDAN", r"jordan (?:fusion )?1\b"),
    ("AJ 2", "AIR JORDAN", r"jordan (?:fusion )?2\b"),
    ("AJ 3", "AIR JORDAN", r"jordan (?:fusion )?3\b"),
    ("AJ 4", "AIR JORDAN", r"jordan (?:fusion )?4\b"),
    ("AJ 5", "AIR JORDAN", r"jordan (?:fusion )?5\b"),
    ("AJ 6", "AIR JORDAN", r"jordan (?:fusion )?6\b"),
    ("BAPESTA", "BAPESTA", r"bape ?sta|\b(?:sk8|road) ?sta\b|\bsta\b"),
    ("NIKE DUNK LOW", "NIKE", r"\bdunk (?:sb |lux )?low\b"),
    ("NIKE DUNK HIGH", "NIKE", r"\bdunk (?:sb |lux )?high\b"),
    ("NIKE AF1", "NIKE", r"\bair force 1\b|\baf1\b"),
    ("AIR MAX 1", "NIKE", r"\bair max (?:lunar ?)?1\b"),
    ("NIKE AIR MAX 90", "NIKE", r"\bair max (?:terrascape |lunar ?|')?90\b"),
    ("NIKE AIR MAX 97", "NIKE", r"\bair max 97\b"),
    ("NB550", "NEW BALANCE", r"(?:^|\s|x\s)550\b"),
    ("NB990", "NEW BALANCE", r"\b990(?:v\d)?\b"),
    ("NB 2002R", "NEW BALANCE", r"\b2002r\b"),
    ("ADIDAS STAN SMITH", "ADIDAS", r"\bstan smith\b"),
    ("ADIDAS SAMBA", "ADIDAS", r"\bsamba\b"),
    ("ADIDAS FORUM", "ADIDAS", r"\bforum\b"),
)
ORIGINAL_MODELS = tuple(label for label, _, _ in DEFAULT_VOCABULARY if label != "NIKE AIR MAX 97")

_COLOURWAY = re.compile(r"'([^']+)'\s*(?:\d{4})?\s*$")
_CURRENCIES = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}


@dataclass(frozen=True)
class ParsedTitle:
    model: str | None
    brand: str | None
    colourway: str


class SneakerVocabulary:
    """Ordered (label, brand, regex) entries; `parse` returns the first that matches."""

    def __init__(self, entries: Iterable[tuple[str, str, str]] = DEFAULT_VOCABULARY) -> None:
        self.entries = [(label, brand, re.compile(pattern, re.IGNORECASE)) for label, brand, pattern in entries]
        self.models = sorted({label for label, _, _ in self.entries})
        self.brands = sorted({brand for _, brand, _ in self.entries})

    @classmethod
    def from_config(cls, entries: Iterable[Mapping[str, str]] | None) -> SneakerVocabulary:
        """From [{"label": ..., "brand": ..., "pattern": ...}] (YAML or Dagster config); None: the default."""
        if not entries:
            return cls()
        return cls((e["label"], e["brand"], e["pattern"]) for e in entries)

    def parse(self, title: str) -> ParsedTitle:
        colourway = colourway_of(title)
        for label, brand, pattern in self.entries:
            if pattern.search(title):
                return ParsedTitle(label, brand, colourway)
        return ParsedTitle(None, None, colourway)


def colourway_of(title: str) -> str:
    """The quoted colourway ("'Bred'") in lower case; near-identical listings share model + colourway."""
    match = _COLOURWAY.search(title)
    return (match.group(1) if match else title).strip().lower()


def parse_price(
    value: str | int | float | Decimal | None, default_currency: str = "USD", decimal_separator: str = "."
) -> tuple[Decimal | None, str | None]:
    """A price as a shop writes it: "$1,234" -> (Decimal("1234.00"), "USD"); 714.0 (a JSON number) ->
    (Decimal("714.00"), default); "1.234,50 €" with decimal_separator="," -> (Decimal("1234.50"), "EUR");
    "" or None -> (None, None); anything else raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"unparseable price {value!r}")
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))  # str(): 714.1 stays 714.1, not its binary expansion
        if number < 0 or not number.is_finite():
            raise ValueError(f"unparseable price {value!r}")
        return number.quantize(Decimal("0.01")), default_currency
    raw = (value or "").strip()
    if not raw:
        return None, None
    currency = default_currency
    for symbol, code in _CURRENCIES.items():
        if raw.startswith(symbol) or raw.endswith(symbol):
            currency, raw = code, raw.strip(symbol).strip()
            break
    else:
        coded = re.fullmatch(r"([A-Z]{3})\s*(.+)|(.+?)\s*([A-Z]{3})", raw)  # "EUR 99", "99 GBP"
        if coded:
            currency, raw = coded.group(1) or coded.group(4), coded.group(2) or coded.group(3)
    thousands = "," if decimal_separator == "." else "."
    digits = raw.replace(thousands, "").replace(" ", "").replace("\u00a0", "").replace(decimal_separator, ".")
    try:
        number = Decimal(digits)
    except InvalidOperation as err:
        raise ValueError(f"unparseable price {value!r}") from err
    if number < 0 or not number.is_finite():
        raise ValueError(f"unparseable price {value!r}")
    return number.quantize(Decimal("0.01")), currency
