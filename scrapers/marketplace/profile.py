"""A shop described as data (a site profile, YAML): how to page its listings over plain HTTP, how to drive its
pages in a browser, and how to read a listing's fields. Validated by pydantic; the published JSON Schema is
`site_profile.schema.json` next to this file (`python -m scrapers.marketplace.profile --schema` writes it).

Everything is explicit: how pages follow each other (`pagination.kind`), when a crawl is over (`stop`) and
which fields hold what (JMESPath into JSON, CSS or XPath into HTML). Nothing is guessed; an unknown or
misspelt key is an error naming the file, the field and the closest valid name.
"""

from __future__ import annotations

import difflib
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urljoin

import jmespath
import yaml
from cssselect import ExpressionError, SelectorSyntaxError
from jmespath.exceptions import JMESPathError
from parsel.csstranslator import HTMLTranslator
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from scrapers.sneakers.titles import SneakerVocabulary, parse_price

SCHEMA_FILE = Path(__file__).with_name("site_profile.schema.json")
LISTING_FIELDS = (
    "listing_id",
    "title",
    "price",
    "currency",
    "image_url",
    "query",
    "brand",
    "model",
    "scraped_at",
    "source_url",
)


PARSEL_CSS_FIELDS = {"css", "next_css", "total_css", "total_selector", "script"}


class _Strict(BaseModel):
    # strict: `page_size: "24"` or `queries: sneakers` are errors, not coerced
    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="after")
    def _expressions_compile(self) -> Any:
        """JMESPath (`path`, `*_path`) and parsel CSS fields are checked when the profile loads, not mid-crawl."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if not isinstance(value, str):
                continue
            try:
                if name == "path" or name.endswith("_path"):
                    jmespath.compile(value)
                elif name in PARSEL_CSS_FIELDS:
                    HTMLTranslator().css_to_xpath(value)
            except (JMESPathError, SelectorSyntaxError, ExpressionError) as err:
                raise ValueError(f"{name}: {value!r} does not parse: {err}") from None
        return self


class FieldSpec(_Strict):
    """Where one value lives in an item: exactly one of a JMESPath (JSON), a CSS or an XPath selector (HTML)."""

    path: str | None = None
    css: str | None = None
    xpath: str | None = None
    decimal_separator: Literal[".", ","] = "."  # prices only: "1.234,50 €" needs ","

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        if sum(x is not None for x in (self.path, self.css, self.xpath)) != 1:
            raise ValueError("give exactly one of path (JMESPath), css or xpath")
        return self


# A plain string is a JMESPath for JSON responses and a CSS selector for HTML ones. The tags pick the member
# by the value's shape, so an error names what is wrong with that member only.
FieldValue = Annotated[
    Annotated[str, Tag("Text")] | Annotated[FieldSpec, Tag("Spec")],
    Discriminator(lambda v: "Text" if isinstance(v, str) else "Spec"),
]


class ItemFields(_Strict):
    id: FieldValue
    title: FieldValue
    price: FieldValue | None = None
    currency: FieldValue | None = None
    image_url: FieldValue | None = None
    url: FieldValue | None = None


class Items(_Strict):
    """Where a page's items are. JSON: `path` (JMESPath to the list). HTML: `css`/`xpath` (one node per card), or
    `script` (a CSS selector of <script> elements holding JSON, e.g. __NEXT_DATA__ or ld+json) plus `path`."""

    path: str | None = None
    css: str | None = None
    xpath: str | None = None
    script: str | None = None
    fields: ItemFields

    @model_validator(mode="after")
    def _one_source(self) -> Items:
        if self.script is not None:
            if self.path is None or self.css or self.xpath:
                raise ValueError("`script` takes a `path` (JMESPath into the script's JSON) and no css/xpath")
        elif sum(x is not None for x in (self.path, self.css, self.xpath)) != 1:
            raise ValueError("give exactly one of path (JSON), css or xpath (HTML cards), or script + path")
        return self


class Request(_Strict):
    """The first page's request. Templates: {query}, {page_size}, and the pagination's {cursor}, {page} or
    {offset}. A parameter whose template needs a value the page does not have yet (the first page's
    cursor) is left out. A body value that is exactly one placeholder keeps its type ({offset} stays an int)."""

    method: Literal["GET", "POST"] = "GET"
    url: str
    params: dict[str, str | int] = Field(default_factory=dict)
    body: dict[str, Any] | None = None  # sent as JSON (POST)
    headers: dict[str, str] = Field(default_factory=dict)


class Pagination(_Strict):
    kind: Literal["single", "cursor", "page", "offset", "next_url", "link_header", "next_link"]
    cursor_path: str | None = None  # cursor: JMESPath of the next cursor
    next_url_path: str | None = None  # next_url: JMESPath of the next page's URL
    next_css: str | None = None  # next_link: CSS of the next link's href (e.g. 'a[rel=next]::attr(href)')
    next_xpath: str | None = None  # next_link: XPath of it
    start: int = 1  # page: the first page's number (offset always starts at 0)

    @model_validator(mode="after")
    def _needs(self) -> Pagination:
        need = {"cursor": ("cursor_path",), "next_url": ("next_url_path",), "next_link": ("next_css", "next_xpath")}
        names = need.get(self.kind, ())
        if names and not any(getattr(self, n) for n in names):
            raise ValueError(f"pagination kind {self.kind!r} needs {' or '.join(names)}")
        return self


class Stop(_Strict):
    """When a crawl is over, and how many items it should have found. An empty page always ends a crawl;
    a page whose items were all seen before is an error unless `repeated_page: end`."""

    has_next_path: str | None = None  # JMESPath of a boolean: false ends the crawl
    total_path: str | None = None  # JMESPath of the expected number of items (JSON)
    total_css: str | None = None  # CSS of it (HTML), e.g. '#results::attr(data-total)'
    total_xpath: str | None = None
    stop_at_total: bool = True  # end when the total is reached
    repeated_page: Literal["error", "end"] = "error"
    max_pages: int = 10_000  # caps: a stop by a cap is reported, not a failure (you asked for it)
    max_items: int = 1_000_000
    tolerance: float = Field(0.0, ge=0.0, le=1.0)  # share of the expected total that may be missing
    expected_statuses: list[int] = Field(default_factory=list)  # non-2xx answers that are not errors (skipped)


class Http(_Strict):
    """Plain-HTTP paging (Scrapy, no browser)."""

    request: Request
    response: Literal["json", "html"] = "json"
    page_size: int = 48
    pagination: Pagination
    items: Items
    stop: Stop = Field(default_factory=Stop)

    @model_validator(mode="after")
    def _explicit_end(self) -> Http:
        s = self.stop
        if self.pagination.kind in ("page", "offset") and not (s.has_next_path or s.total_path or s.total_css):
            raise ValueError(
                f"pagination kind {self.pagination.kind!r} needs an explicit end: stop.has_next_path or "
                "stop.total_path/total_css (an empty page also ends it)"
            )
        if self.response == "json" and (self.items.css or self.items.xpath or self.items.script):
            raise ValueError("JSON responses take items.path; css/xpath/script are for html responses")
        if self.response == "html" and (s.total_path or s.has_next_path) and not self.items.script:
            raise ValueError("stop.total_path/has_next_path read JSON: on html pages use total_css, or items.script")
        return self


class ScrollAction(_Strict):
    scroll: str  # "window" or the CSS selector of a scrolling container
    step: float = Field(0.8, gt=0.0)  # share of the visible height per round: small steps keep virtual lists whole


class ClickAction(_Strict):
    click: str  # CSS of a "load more" / "next" control; the crawl ends when it is gone or disabled
    wait_for_response: str | None = None  # URL substring of the response the click triggers
    navigates: bool = False  # the click loads a new page (a "next" link)


class WaitAction(_Strict):
    wait_for: str  # CSS selector to wait for
    timeout_ms: int = 5_000


ACTION_KEYS = {"scroll": "Scroll", "click": "Click", "wait_for": "Wait"}


def _action_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return {ScrollAction: "Scroll", ClickAction: "Click", WaitAction: "Wait"}.get(type(value))
    keys = [ACTION_KEYS[k] for k in ACTION_KEYS if isinstance(value, dict) and k in value]
    return keys[0] if len(keys) == 1 else None


Action = Annotated[
    Annotated[ScrollAction, Tag("Scroll")] | Annotated[ClickAction, Tag("Click")] | Annotated[WaitAction, Tag("Wait")],
    Discriminator(
        _action_kind,
        custom_error_type="action_kind",
        custom_error_message="an action has exactly one of the keys scroll, click, wait_for",
    ),
]


class Browser(_Strict):
    """A page driven in real Chromium (Playwright). `capture: cards` reads the cards in the DOM after every
    action (while scrolling, so virtualised lists are complete); `capture: responses` reads the JSON
    answers whose URL contains `response_url` with the `http` section's items and stop rules."""

    url: str  # template with {query}
    capture: Literal["cards", "responses"] = "cards"
    cards: str | None = None  # CSS of one card (capture: cards)
    fields: ItemFields | None = None  # CSS/XPath inside a card
    response_url: str | None = None  # capture: responses
    actions: list[Action] = Field(default_factory=list)  # done in order every round
    end_selector: str | None = None  # visible: the list is complete
    total_selector: str | None = None  # CSS (::text / ::attr) of the expected total
    idle_rounds: int = 10  # rounds with no new item (and nothing left to click) before "scroll_end"
    settle_ms: int = 100  # wait after each round's actions
    max_rounds: int = 5_000
    max_items: int = 1_000_000
    max_seconds: float = 3_600.0
    tolerance: float = Field(0.0, ge=0.0, le=1.0)
    keep_cards: int = 0  # capture: responses only: prune rendered cards beyond this many (0: never)
    block_resources: list[str] = Field(default_factory=lambda: ["image", "media", "font"])

    @model_validator(mode="after")
    def _capture(self) -> Browser:
        if self.capture == "cards" and not (self.cards and self.fields):
            raise ValueError("capture: cards needs `cards` (a CSS selector) and `fields`")
        if self.capture == "responses" and not self.response_url:
            raise ValueError("capture: responses needs `response_url`")
        return self


class VocabularyEntry(_Strict):
    label: str
    brand: str
    pattern: str


class SiteProfile(_Strict):
    name: str
    base_url: str
    queries: list[str] = Field(min_length=1)
    http: Http | None = None
    browser: Browser | None = None
    default_currency: str = "USD"
    missing_price_texts: list[str] = Field(default_factory=lambda: ["Sold out"])
    concurrent_requests: int = 4
    vocabulary: list[VocabularyEntry] | None = None  # model/brand patterns; None: the default sneaker vocabulary

    @model_validator(mode="after")
    def _some_strategy(self) -> SiteProfile:
        if not self.http and not self.browser:
            raise ValueError("a profile needs an `http` section (Scrapy), a `browser` section (Playwright), or both")
        if self.browser and self.browser.capture == "responses" and (not self.http or self.http.response != "json"):
            raise ValueError("browser.capture: responses reads JSON answers with the `http` section's items")
        return self

    # -- loading -------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path, **overrides: Any) -> SiteProfile:
        """From a YAML file; `overrides` (base_url, queries, ...) replace top-level keys when not None."""
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ProfileError(f"{path}: not valid YAML: {err}") from err
        if not isinstance(raw, dict):
            raise ProfileError(f"{path}: a site profile is a mapping of fields, got {type(raw).__name__}")
        return cls.from_dict({**raw, **{k: v for k, v in overrides.items() if v is not None}}, source=str(path))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "<profile>") -> SiteProfile:
        try:
            return cls.model_validate(raw)
        except ValidationError as err:
            raise ProfileError(describe_errors(err, source)) from None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    @property
    def strategies(self) -> list[str]:
        return [s for s, section in (("scrapy", self.http), ("playwright", self.browser)) if section]

    def url(self, template: str, **values: Any) -> str:
        return urljoin(self.base_url, template.format(**values))

    def absolute(self, url: str) -> str:
        return urljoin(self.base_url, url)


class ProfileError(ValueError):
    """A site profile that cannot be used; the message names the file, the field and the closest valid name."""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Every pydantic model an annotation can hold (through Optional, unions, lists, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def _models_at(loc: tuple[Any, ...]) -> list[type[BaseModel]]:
    """The models that may own the fields at `loc` (several for a union such as a browser action)."""
    models: list[type[BaseModel]] = [SiteProfile]
    for part in loc:
        if isinstance(part, int):
            continue
        models = [
            m for model in models if part in model.model_fields for m in _models_in(model.model_fields[part].annotation)
        ]
    return models


def describe_errors(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        # Union members add their class names to the location; drop them so the path reads as the YAML does.
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and (p[:1].isupper() or "[" in p)))
        where = ".".join(str(p) for p in loc) or "(top level)"
        message = e["msg"]
        if e["type"] == "extra_forbidden":
            names = list(dict.fromkeys(n for m in _models_at(loc[:-1]) for n in m.model_fields))
            close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.5)
            message = f"unknown field{f'; did you mean {close[0]!r}?' if close else ''} (valid: {', '.join(names)})"
        elif e["type"] == "literal_error":
            expected = [x.strip(" '") for x in e.get("ctx", {}).get("expected", "").replace(" or ", ",").split(",")]
            close = difflib.get_close_matches(str(e.get("input")), [x for x in expected if x], n=1, cutoff=0.5)
            if close:
                message += f"; did you mean {close[0]!r}?"
        elif e["type"] == "action_kind" and isinstance(e.get("input"), dict):
            close = [m for k in e["input"] for m in difflib.get_close_matches(str(k), list(ACTION_KEYS), 1, 0.5)]
            if close:
                message += f"; did you mean {close[0]!r}?"
        got = repr(e.get("input"))
        lines.append(f"{source}: {where}: {message} (got {got if len(got) <= 80 else got[:77] + '...'})")
    # A union reports one error per member: keep the distinct lines only.
    return "\n".join(dict.fromkeys(lines))


def json_schema() -> dict[str, Any]:
    return SiteProfile.model_json_schema()


# -- reading fields -----------------------------------------------------------------------------------------


class ListingBuilder:
    """Turns one item's extracted values ({id, title, price, ...}) into the listing record every strategy emits."""

    def __init__(self, profile: SiteProfile) -> None:
        self.profile = profile
        self.vocabulary = SneakerVocabulary.from_config(
            [e.model_dump() for e in profile.vocabulary] if profile.vocabulary else None
        )

    def build(
        self, values: dict[str, Any], query: str, scraped_at: datetime, decimal_separator: str = "."
    ) -> dict[str, Any]:
        """A listing record; raises ValueError (with the reason) for an item that cannot be one."""
        listing_id, title = values.get("id"), _text(values.get("title"))
        if listing_id in (None, ""):
            raise ValueError("missing_id")
        if not title:
            raise ValueError("missing_title")
        price_value = values.get("price")
        if isinstance(price_value, str) and price_value.strip() in self.profile.missing_price_texts:
            price_value = None
        price, currency = parse_price(price_value, self.profile.default_currency, decimal_separator)
        if values.get("currency") and price is not None:
            currency = _text(values["currency"])
        parsed = self.vocabulary.parse(title)
        image, url = _text(values.get("image_url")), _text(values.get("url"))
        return {
            "listing_id": str(listing_id),
            "title": title,
            "price": str(price) if price is not None else None,
            "currency": currency,
            # absent stays absent (None), not the shop's base URL
            "image_url": (image if image.startswith("data:") else self.profile.absolute(image)) if image else None,
            "query": query,
            "brand": parsed.brand,
            "model": parsed.model,
            "scraped_at": scraped_at.isoformat(),
            "source_url": self.profile.absolute(url) if url else None,
        }


def _text(value: Any) -> str:
    return "" if value is None else (str(value) if not isinstance(value, str) else value).strip()


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if args[:1] == ["--schema"]:
        SCHEMA_FILE.write_text(json.dumps(json_schema(), indent=1, sort_keys=True) + "\n")
        print(SCHEMA_FILE)
        return 0
    for path in args:  # validate profiles
        SiteProfile.load(path)
        print(f"{path}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
