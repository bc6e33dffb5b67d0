"""Hostile image URLs and servers (issue 16 items 1-3): the guarded client (foundation.outbound) refuses
internal addresses before connecting, re-checks every redirect, caps bytes and time, and never lets a bad
Retry-After fail a batch; the sneaker image batch quarantines each bad URL with its reason and stores the
good images. Every server is real, on 127.0.0.1."""

import contextlib
import io
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import pyarrow as pa
import pytest
from PIL import Image

from assets.sneakers.definitions import defs
from assets.sneakers.partitions import add_queries
from assets.sneakers.resources import SneakersMarketplaceResource
from assets.sneakers.tables import IMAGES, LISTINGS
from foundation.outbound import CHUNK, AllowList, GuardedClient, OutboundLimits, address_class, retry_after_seconds
from sandbox.sneakers.marketplace import PROFILE
from scrapers.sneakers.images import collect_images

CAP = 1024 * 1024  # byte cap in these tests (production: 20 MiB)
LIMITS = OutboundLimits(
    max_bytes=CAP, deadline_s=1.5, read_timeout_s=5.0, retries=2, first_retry_wait_s=0.01, max_retry_wait_s=0.3
)


def _png(n: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40 + n, 30), (20 * n % 256, 90, 200)).save(out, "PNG")
    return out.getvalue()


class _Server:
    """A hostile (or innocent) image host on 127.0.0.1 that counts what it is asked and what it sends."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.sent: dict[str, int] = {}
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):  # HTTP/1.0: a body without Content-Length ends at close
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                with server.lock:
                    server.hits[url.path] = server.hits.get(url.path, 0) + 1
                    hits = server.hits[url.path]
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client aborted: intended
                    server.route(self, url.path, parse_qs(url.query), hits)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _stream(self, h: BaseHTTPRequestHandler, path: str, chunk: bytes, count: int, pause: float = 0.0) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "image/png")
        h.end_headers()
        for _ in range(count):
            h.wfile.write(chunk)
            with self.lock:
                self.sent[path] = self.sent.get(path, 0) + len(chunk)
            if pause:
                time.sleep(pause)

    def route(self, h: BaseHTTPRequestHandler, path: str, query: dict, hits: int) -> None:
        def send(status: int, body: bytes = b"", headers: dict | None = None) -> None:
            h.send_response(status)
            for key, value in (headers or {}).items():
                h.send_header(key, value)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)

        if path.startswith("/img/"):
            return send(200, _png(int(path.split("/")[2].split(".")[0])), {"Content-Type": "image/png"})
        if path == "/text":
            return send(200, b"<html><body>not a picture</body></html>", {"Content-Type": "image/png"})
        if path == "/redirect":
            return send(302, headers={"Location": query["to"][0]})
        if path.startswith("/chain/"):
            return send(302, headers={"Location": f"/chain/{int(path.split('/')[2]) + 1}"})
        if path == "/huge-declared":  # claims 200 MB, would send it
            h.send_response(200)
            h.send_header("Content-Length", str(200 * 1024 * 1024))
            h.end_headers()
            return self._stream(h, path, b"\0" * CHUNK, 200 * 16)
        if path == "/huge-stream":  # 200 MB with no Content-Length
            return self._stream(h, path, b"\0" * CHUNK, 200 * 16)
        if path == "/endless":  # a trickle that never ends: every read returns in time, the download never does
            return self._stream(h, path, b"\0" * 512, 10**9, pause=0.02)
        if path == "/stall":  # headers and 10 bytes, then silence longer than the read timeout
            self._stream(h, path, b"\0" * 10, 1)
            h.wfile.flush()
            time.sleep(8)
            return None
        if path == "/gzip":
            return send(200, b"\x1f\x8b" + b"\0" * 100, {"Content-Encoding": "gzip", "Content-Type": "image/png"})
        if path.startswith("/limited/"):  # /limited/<form>/<n>.png: 429 once with that Retry-After, then the image
            form, name = path.split("/")[2:4]
            if hits == 1:
                value = {
                    "date": format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True),
                    "negative": "-5",
                    "garbage": "soon, maybe",
                    "huge": "9" * 5000,
                }[form]
                return send(429 if form != "date" else 503, b"slow down", {"Retry-After": value})
            return send(200, _png(int(name.split(".")[0])), {"Content-Type": "image/png"})
        if path == "/always-429":
            return send(429, b"no", {"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"})
        return send(404, b"not found")


@pytest.fixture
def host():
    server = _Server()
    yield server
    server.close()


@pytest.fixture
def internal():
    """A local service that must never be reached (not allow-listed), serving a perfectly good image."""
    server = _Server()
    yield server
    server.close()


def _client(host: _Server, limits: OutboundLimits = LIMITS) -> GuardedClient:
    return GuardedClient([f"127.0.0.1:{host.port}"], limits)


# -- addresses ----------------------------------------------------------------------------------------------


def test_loopback_not_allow_listed_is_refused_before_connecting_and_hides_whether_a_port_answers(host, internal):
    with _client(host) as client:
        listening = client.fetch(f"{internal.base}/img/1.png")
        closed = client.fetch("http://127.0.0.1:1/img/1.png")
        allowed = client.fetch(f"{host.base}/img/1.png")
    assert listening.reason == closed.reason == "blocked_address: loopback"
    assert (listening.data, closed.data) == (None, None)
    assert internal.hits == {}  # not even a connection: the service saw nothing
    assert allowed.reason is None and allowed.data == _png(1)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "blocked_address: link_local"),
        ("http://10.0.0.1/a.jpg", "blocked_address: private"),
        ("http://192.168.1.1:8080/a.jpg", "blocked_address: private"),
        ("http://[::1]:{port}/img/1.png", "blocked_address: loopback"),
        ("http://[::ffff:127.0.0.1]:{port}/img/1.png", "blocked_address: loopback"),
        ("http://localhost:{port}/img/1.png", "blocked_address: loopback"),
        ("http://0.0.0.0:{port}/img/1.png", "blocked_address: unspecified"),
        ("http://100.64.0.1/a.jpg", "blocked_address: shared"),
        ("http://224.0.0.1/a.jpg", "blocked_address: multicast"),
        ("file:///etc/passwd", "unsupported_scheme: file"),
        ("gopher://example.com/", "unsupported_scheme: gopher"),
    ],
)
def test_internal_addresses_and_other_schemes_are_refused_without_a_connection(host, internal, url, reason):
    with _client(host) as client:
        fetched = client.fetch(url.format(port=internal.port))
    # blocked_address is raised only between resolution and connect: had a connection been tried, an unroutable
    # 10.0.0.1 would end as connect_error or deadline_exceeded instead.
    assert (fetched.data, fetched.reason) == (None, reason)
    assert internal.hits == {}


def test_redirects_to_internal_addresses_or_files_are_refused_at_the_hop(host, internal):
    with _client(host) as client:
        to_internal = client.fetch(f"{host.base}/redirect?to={internal.base}/img/1.png")
        to_metadata = client.fetch(f"{host.base}/redirect?to=http://169.254.169.254/latest/meta-data/")
        to_file = client.fetch(f"{host.base}/redirect?to=file:///etc/passwd")
        loop = client.fetch(f"{host.base}/chain/0")
        relative = client.fetch(f"{host.base}/redirect?to=/img/2.png")
    assert to_internal.reason == "blocked_address: loopback after 1 redirect"
    assert to_metadata.reason == "blocked_address: link_local after 1 redirect"
    assert to_file.reason == "unsupported_scheme: file after 1 redirect"
    assert loop.reason == "too_many_redirects: more than 5"
    assert relative.data == _png(2)  # an allowed hop is still followed
    assert internal.hits == {}


def test_allow_list_takes_host_port_and_cidr_and_rejects_malformed_entries(host):
    with GuardedClient(["127.0.0.0/8"], LIMITS) as by_cidr, GuardedClient([f"127.0.0.1:{host.port + 1}"]) as other:
        assert by_cidr.fetch(f"{host.base}/img/3.png").data == _png(3)
        assert other.fetch(f"{host.base}/img/3.png").reason == "blocked_address: loopback"  # another port
    for bad in ("127.0.0.1", "10.0.0.0/33", "host:notaport", ":80"):
        with pytest.raises(ValueError, match="allow-list entry"):
            AllowList.parse([bad])
    assert AllowList.parse(["[::1]:8080"]).host_ports == {("::1", 8080)}


def test_address_classes_see_through_ipv6_wrappers():
    import ipaddress

    assert address_class(ipaddress.ip_address("93.184.215.14")) is None
    assert address_class(ipaddress.ip_address("2606:4700::1111")) is None
    assert address_class(ipaddress.ip_address("::ffff:10.1.2.3")) == "private"
    assert address_class(ipaddress.ip_address("2002:7f00:1::")) == "loopback"  # 6to4 around 127.0.0.1
    assert address_class(ipaddress.ip_address("fe80::1")) == "link_local"
    assert address_class(ipaddress.ip_address("fd00::1")) == "private"


# -- size and time ------------------------------------------------------------------------------------------


def test_declared_oversize_body_is_refused_before_reading(host):
    with _client(host) as client:
        fetched = client.fetch(f"{host.base}/huge-declared")
    assert fetched.reason == f"too_large: declared {200 * 1024 * 1024} bytes > {CAP}"
    assert fetched.bytes_read == 0


def test_undeclared_oversize_body_is_aborted_as_soon_as_the_cap_is_passed(host):
    tracemalloc.start()
    try:
        with _client(host) as client:
            fetched = client.fetch(f"{host.base}/huge-stream")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fetched.reason == f"too_large: over {CAP} bytes"
    assert CAP < fetched.bytes_read <= CAP + CHUNK  # one read past the cap, not the 200 MB body
    assert peak < 3 * CAP  # the kept chunks plus one read, not the body
    time.sleep(0.2)
    assert host.sent["/huge-stream"] < 40 * CAP  # the server was cut off (socket buffers aside), not 200 MB


def test_endless_trickle_is_stopped_by_the_total_deadline_not_a_per_read_timeout(host):
    started = time.monotonic()
    with _client(host) as client:
        fetched = client.fetch(f"{host.base}/endless")
    elapsed = time.monotonic() - started
    assert fetched.reason == "deadline_exceeded"
    assert LIMITS.deadline_s <= elapsed < LIMITS.read_timeout_s - 0.5  # generous slack: the machine is shared
    assert 0 < fetched.bytes_read < CAP


def test_a_stalled_body_ends_at_the_deadline_even_when_the_read_timeout_is_longer(host):
    started = time.monotonic()
    with _client(host) as client:  # read_timeout_s 5 > deadline 1.5: the deadline bounds each socket wait
        fetched = client.fetch(f"{host.base}/stall")
    assert fetched.reason == "deadline_exceeded"
    assert time.monotonic() - started < LIMITS.read_timeout_s - 0.5  # a per-read timeout alone would take >= 5 s


def test_compressed_bodies_are_refused(host):
    with _client(host) as client:
        assert client.fetch(f"{host.base}/gzip").reason == "content_encoding: compressed body refused"


# -- Retry-After --------------------------------------------------------------------------------------------


def test_retry_after_parses_both_forms_and_ignores_garbage():
    now = datetime(2026, 10, 21, 7, 27, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("Wed, 21 Oct 2026 07:28:00 GMT", now) == 60.0
    assert retry_after_seconds("Wed, 21 Oct 2026 07:00:00 GMT", now) == 0.0  # in the past: go now
    assert retry_after_seconds("Fri, 01 Jan 9999 00:00:00 GMT", now) == 300.0  # bounded
    assert retry_after_seconds("9" * 5000, now, maximum=30) == 30.0
    for garbage in (None, "", "-5", "soon", "nan", "inf", "-inf", "1e400", "Wed, 99 Foo 2026"):
        assert retry_after_seconds(garbage, now) is None, garbage


@pytest.mark.parametrize("form", ["date", "negative", "garbage", "huge"])
def test_any_retry_after_is_retried_within_bounds_and_never_raises(host, form):
    started = time.monotonic()
    with _client(host) as client:
        fetched = client.fetch_with_retries(f"{host.base}/limited/{form}/4.png")
    assert fetched.data == _png(4)
    assert host.hits[f"/limited/{form}/4.png"] == 2
    assert time.monotonic() - started < 5.0  # a 2-hour date or 10^5000 s, capped at 0.3 s (slack: shared machine)


def test_persistent_429_gives_up_with_a_reason_after_the_retries(host):
    with _client(host) as client:
        fetched = client.fetch_with_retries(f"{host.base}/always-429")
    assert (fetched.data, fetched.reason, fetched.status) == (None, "http_429", 429)
    assert host.hits["/always-429"] == LIMITS.retries + 1


# -- the image batch: exact rows and rejects ------------------------------------------------------------------


def _hostile_batch(host: _Server, internal: _Server) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(image URL, query) pairs and the reason each bad URL must be quarantined with."""
    good = [f"{host.base}/img/5.png", f"{host.base}/img/6.png?sig=s3cret", f"{host.base}/limited/garbage/7.png"]
    bad = {
        f"{internal.base}/img/1.png": "blocked_address: loopback",
        "http://169.254.169.254/latest/meta-data/": "blocked_address: link_local",
        f"{host.base}/redirect?to={internal.base}/img/1.png": "blocked_address: loopback after 1 redirect",
        f"{host.base}/huge-stream": f"too_large: over {CAP} bytes",
        f"{host.base}/endless": "deadline_exceeded",
        f"{host.base}/text?sig=s3cret": "not_an_image",
        f"{host.base}/always-429": "http_429",
        "file:///etc/passwd": "unsupported_scheme: file",
    }
    wanted = [(url, "air-jordan-1") for url in good] + [(url, "air-jordan-1") for url in bad]
    return wanted + [(good[0], "air-jordan-2")], bad


def test_image_batch_quarantines_each_hostile_url_with_its_reason_and_keeps_the_good_images(host, internal, tmp_path):
    wanted, bad = _hostile_batch(host, internal)
    batch = collect_images(
        wanted, {}, tmp_path / "images", dg.get_dagster_logger(), allow=[f"127.0.0.1:{host.port}"], limits=LIMITS
    )
    good_rows = {(r["image_url"], r["query"]) for r in batch.rows}
    assert good_rows == {
        (f"{host.base}/img/5.png", "air-jordan-1"),
        (f"{host.base}/img/5.png", "air-jordan-2"),
        (f"{host.base}/img/6.png?sig=s3cret", "air-jordan-1"),
        (f"{host.base}/limited/garbage/7.png", "air-jordan-1"),  # 429 with a garbage Retry-After, then fine
    }
    assert all((tmp_path / "images").joinpath(r["path"]).exists() for r in batch.rows)
    reasons = {raw["image_url"]: reason.split(":", 1)[0] if "not_an_image" in reason else reason
               for raw, reason, _ in batch.rejects}  # fmt: skip
    assert reasons == bad
    assert batch.downloaded == 4  # distinct good URLs fetched (img/5 once for both queries) + the text body
    assert internal.hits == {}


def test_images_asset_stores_the_good_images_and_quarantines_the_rest(host, internal, instance, storage):
    wanted, bad = _hostile_batch(host, internal)
    now = datetime.now(UTC)
    listings = [
        {
            "listing_id": f"{i:08d}",
            "title": "Air Jordan 1 Retro High",
            "price": Decimal("150.00"),
            "currency": "USD",
            "image_url": url,
            "query": query,
            "brand": "Nike",
            "model": "air-jordan-1",
            "scraped_at": now,
            "scrape_date": now.date(),
            "source_url": f"{host.base}/product/{i:08d}",
        }
        for i, (url, query) in enumerate(wanted)
    ]
    add_queries(instance, ["air-jordan-1", "air-jordan-2"])
    LISTINGS.store(storage).append(pa.Table.from_pylist(listings, schema=LISTINGS.schema))
    marketplace = SneakersMarketplaceResource(
        profile_path=str(PROFILE), base_url=host.base, image_allow=[f"127.0.0.1:{host.port}"],
        max_image_failure_share=0.9, image_max_bytes=CAP, image_deadline_s=LIMITS.deadline_s,
        image_first_retry_wait_s=LIMITS.first_retry_wait_s,
    )  # fmt: skip
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=["sneaker_images"],
        instance=instance,
        resources={"storage": storage, "sneakers_marketplace": marketplace},
        tags={
            "dagster/asset_partition_range_start": "air-jordan-1",
            "dagster/asset_partition_range_end": "air-jordan-2",
        },
    )
    assert result.success
    stored = IMAGES.store(storage).read().to_pylist()
    assert sorted((r["image_url"], r["query"]) for r in stored) == sorted(
        [(f"{host.base}/img/5.png", "air-jordan-1"), (f"{host.base}/img/5.png", "air-jordan-2"),
         (f"{host.base}/img/6.png?sig=s3cret", "air-jordan-1"), (f"{host.base}/limited/garbage/7.png", "air-jordan-1")]
    )  # fmt: skip
    quarantined = storage.quarantine("sneaker_images").store.read().to_pylist()
    assert len(quarantined) == len(bad)
    by_reason = {r["reason"] if not r["reason"].startswith("not_an_image") else "not_an_image" for r in quarantined}
    assert by_reason == set(bad.values())
    assert not any("s3cret" in (r["location"] + r["reason"]) for r in quarantined)  # signed URLs: query dropped
    assert any("s3cret" in r["raw"] for r in quarantined)  # the raw record itself is kept whole
    assert internal.hits == {}


# -- issue 16 item 9: the retail database password is a URL field, not pasted text -----------------------------


def test_retail_password_with_url_characters_is_escaped_not_parsed():
    from scrapers.retail.stores import StoreDatabases

    template = "postgresql+psycopg://storefront:{password}@db.internal:5432/store_1"
    databases = StoreDatabases({"store_1": template, "local": "sqlite:////tmp/store.sqlite"}, "Can@ary/x:%#?")
    url = databases.url("store_1")
    assert (url.password, url.host, url.port, url.database) == ("Can@ary/x:%#?", "db.internal", 5432, "store_1")
    assert "Can" not in databases.safe_url("store_1")
    assert str(databases.url("local")) == "sqlite:////tmp/store.sqlite"
    misplaced = StoreDatabases({"s": "postgresql://u@h/{password}"}, "x")
    with pytest.raises(ValueError, match="whole password field"):
        misplaced.url("s")
