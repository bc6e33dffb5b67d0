"""The site-profile language: validation errors that point at the mistake, the published JSON Schema, typed
prices, and every pagination kind walked page by page against the shop kit (in-process, plain httpx)."""

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import yaml

from sandbox.shops.server import SHOPS, Faults, KitConfig, ShopKitServer, profile_path
from scrapers.marketplace.pager import PageError, Pager
from scrapers.marketplace.profile import SCHEMA_FILE, ProfileError, SiteProfile, json_schema
from scrapers.sneakers.titles import parse_price


def _load_with(tmp_path: Path, shop: str, change) -> SiteProfile:
    raw = yaml.safe_load(profile_path(shop).read_text())
    change(raw)
    path = tmp_path / f"{shop}-edited.yaml"
    path.write_text(yaml.safe_dump(raw))
    return SiteProfile.load(path)


@pytest.mark.parametrize(
    ("shop", "change", "expected"),
    [
        (
            "pages",
            lambda d: d["http"]["items"]["fields"].update(titel=d["http"]["items"]["fields"].pop("title")),
            r"http\.items\.fields\.titel: unknown field; did you mean 'title'\?",
        ),
        ("pages", lambda d: d.update(queries="sneakers"), r"queries: Input should be a valid list"),
        (
            "pages",
            lambda d: d["http"].update(page_size="twenty-four"),
            r"http\.page_size: Input should be a valid integer",
        ),
        ("pages", lambda d: d["http"].update(page_size="24"), r"http\.page_size: Input should be a valid integer"),
        (
            "cursor",
            lambda d: d["http"]["pagination"].update(kind="curosr"),
            r"pagination\.kind: .*did you mean 'cursor'\?",
        ),
        (
            "pages",
            lambda d: d["http"]["pagination"].update(knd="page"),
            r"pagination\.knd: unknown field; did you mean 'kind'",
        ),
        ("pages", lambda d: d["http"].update(stop={}), r"pagination kind 'page' needs an explicit end"),
        ("pages", lambda d: d["browser"]["actions"].append({"scrol": "window"}), r"actions\.1: an action .*'scroll'\?"),
        (
            "pages",
            lambda d: d["http"]["items"]["fields"].update(price={"pth": "p"}),
            r"price\.pth: .*did you mean 'path'",
        ),
        ("cursor", lambda d: d["http"]["items"].update(path="edges[].node["), r"does not parse"),
        ("html", lambda d: d["http"]["items"].update(css="li..product"), r"css: 'li\.\.product' does not parse"),
        ("cursor", lambda d: d["http"]["pagination"].pop("cursor_path"), r"kind 'cursor' needs cursor_path"),
        ("pages", lambda d: d.update(brwser=d.pop("browser")), r"brwser: unknown field; did you mean 'browser'"),
    ],
)
def test_profile_errors_name_the_file_the_field_and_the_closest_valid_name(tmp_path, shop, change, expected):
    with pytest.raises(ProfileError, match=expected) as caught:
        _load_with(tmp_path, shop, change)
    assert str(caught.value).startswith(str(tmp_path / f"{shop}-edited.yaml"))


def test_every_shipped_profile_validates_and_the_published_schema_is_current():
    for shop in SHOPS:
        SiteProfile.load(profile_path(shop))
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema(), "run: python -m scrapers.marketplace.profile --schema"


def test_prices_are_typed_numbers_or_shop_written_strings():
    assert parse_price(714.0) == (Decimal("714.00"), "USD")  # a JSON number (was an AttributeError)
    assert parse_price(99) == (Decimal("99.00"), "USD")
    assert parse_price("$1,234") == (Decimal("1234.00"), "USD")
    assert parse_price("1,234.00 USD") == (Decimal("1234.00"), "USD")
    assert parse_price("1.234,50 €", decimal_separator=",") == (Decimal("1234.50"), "EUR")
    assert parse_price(None) == (None, None)
    for bad in ("call us", True, -5):
        with pytest.raises(ValueError, match="unparseable price"):
            parse_price(bad)


def walk(profile: SiteProfile, query: str) -> tuple[list[dict], Pager]:
    """A profile's http section walked with plain httpx (what the Scrapy strategy does, without a reactor)."""
    pager = Pager(profile, query)
    request, items = pager.first_request(), []
    with httpx.Client(timeout=10) as client:
        while request is not None:
            answer = client.request(request.method, request.url, headers=request.headers, content=request.body)
            page = pager.parse(answer.status_code, dict(answer.headers), answer.text, str(answer.url))
            items += page.items
            request = page.next
            if request is None:
                pager.report.stop_reason = page.stop_reason
    return items, pager


@pytest.fixture(scope="module")
def kit():
    with ShopKitServer() as server:
        yield server


VARIANTS = {
    # kinds the shipped profiles do not use, on the same shops
    "next_url": ("pages", lambda d: d["http"].update(pagination={"kind": "next_url", "next_url_path": "links.next"})),
    "link_header": ("html", lambda d: d["http"].update(pagination={"kind": "link_header"})),
    "has_next_false": ("cursor", lambda d: d["http"]["stop"].pop("total_path")),
}


@pytest.mark.parametrize("shop", SHOPS)
def test_every_shipped_profile_pages_its_shop_to_the_end(kit, shop):
    profile = SiteProfile.load(profile_path(shop), base_url=kit.base_url)
    items, pager = walk(profile, "jordans")
    assert sorted(str(i["id"]) for i in items) == sorted(kit.kit.expected(shop, ["jordans"]))
    assert pager.report.expected == 45 and pager.report.duplicates == 0 and pager.report.stop_reason


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_other_pagination_kinds(kit, tmp_path, variant):
    shop, change = VARIANTS[variant]
    profile = _load_with(tmp_path, shop, change).model_copy(update={"base_url": kit.base_url})
    items, pager = walk(profile, "dunks")
    assert len(items) == 45 == len({i["id"] for i in items})
    assert pager.report.stop_reason in {"no_next_url", "no_next_link", "has_next_false", "total_reached"}


def test_post_bodies_keep_their_types_and_get_gets_405(kit):
    profile = SiteProfile.load(profile_path("loadmore"), base_url=kit.base_url)
    request = Pager(profile, "jordans").first_request()
    assert request.method == "POST" and json.loads(request.body) == {"query": "jordans", "offset": 0, "limit": 10}
    assert httpx.get(request.url).status_code == 405
    with pytest.raises(PageError, match="HTTP 405"):
        Pager(profile, "jordans").parse(405, {}, "use POST", request.url)


def test_a_page_of_items_already_seen_is_an_error_unless_the_profile_says_it_ends(kit, tmp_path):
    # A page-number profile whose page parameter is misnamed re-reads page 1 forever.
    def misnamed(d):
        d["http"]["request"]["params"] = {"q": "{query}", "pg": "{page}", "per_page": "{page_size}"}

    profile = _load_with(tmp_path, "pages", misnamed).model_copy(update={"base_url": kit.base_url})
    with pytest.raises(PageError, match="repeats items already seen"):
        walk(profile, "jordans")


def test_an_empty_page_before_the_total_is_reported_short():
    with ShopKitServer(KitConfig(faults={"pages": Faults(empty_from_page=3)})) as server:
        profile = SiteProfile.load(profile_path("pages"), base_url=server.base_url)
        items, pager = walk(profile, "jordans")
    assert len(items) == 20 and pager.report.stop_reason == "empty_page"
    assert pager.report.problems(0.0) == ["jordans: 20 of 45 expected items (stopped by empty_page)"]
    assert pager.report.problems(0.6) == []  # a profile's tolerance
