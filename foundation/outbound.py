"""The one guarded HTTP client for outbound fetches of URLs that came from scraped (untrusted) pages.

    with GuardedClient(allow=["127.0.0.1:8123"]) as client:
        fetched = client.fetch("https://cdn.example.com/a.jpg")   # never raises for what the remote does
        fetched.data or fetched.reason                            # bytes, or a reason code to quarantine

What it refuses, and how:
- **Schemes**: http and https only (`unsupported_scheme`), checked on the first URL and on every redirect.
- **Addresses**: loopback, private, link-local (169.254/16, cloud metadata), carrier-grade NAT, reserved,
  multicast, unspecified and every other non-global address, also when hidden in an IPv4-mapped, 6to4 or
  Teredo IPv6 address, are `blocked_address` unless the allow-list names them. The check runs inside the
  connection itself: a custom httpcore network backend resolves the name once, checks *every* resolved
  address, and then connects to the checked address (never resolving again). So a DNS-rebinding name that
  answers "public" to a first lookup and "127.0.0.1" to a second cannot slip through, and redirects are
  covered because every hop opens its connections through the same backend. The refusal is decided from
  the address alone, before any packet is sent, so the reason never tells whether a port answers.
- **Allow-list** (configuration, never a global switch): entries `host:port` (a name or IP literal, exactly
  that port; `[::1]:8080` for IPv6) or a CIDR (`10.1.0.0/16`, any port). The sandbox shop on 127.0.0.1 is
  allowed this way by the demo and tests.
- **Redirects** are followed by hand (at most `max_redirects`), each target's scheme checked.
- **Size**: `Content-Length` over the cap is refused before the body is read; the body is streamed and the
  download aborts as soon as the cap is passed (peak ≈ cap + one 64 KiB read). Bodies are requested as
  `Accept-Encoding: identity` and compressed answers are refused: a gzip/brotli bomb would expand in memory
  past any cap before it could be counted.
- **Time**: one deadline per download (all hops, connect and every read together). Each socket read waits
  at most the time left (the stream wrapper bounds it), so an endless or dripping body ends at the deadline.
  DNS resolution (`getaddrinfo`) is not bounded by it (the system resolver's own timeouts apply).
- **Proxies** from the environment are ignored (`trust_env=False`): the checked address must be the peer.
- **Retries** (`fetch_with_retries`): 429, 5xx and timeouts, with exponential backoff or the server's
  `Retry-After` when longer (both forms, bounded by `max_retry_wait_s`; garbage ignored, never raised).

Hand-written parts, and why: httpx has no hook that runs between name resolution and connect (event hooks
run before resolution, and checking the peer after connecting is too late: the request has been sent), so
the guard is an httpcore `NetworkBackend`; httpx 0.28's `HTTPTransport` does not take a network backend, so
`GuardedTransport` swaps its connection pool for one that uses it.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
import tenacity

_log = logging.getLogger("storefront.outbound")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
REDIRECTS = (301, 302, 303, 307, 308)
CHUNK = 64 * 1024


def retry_after_seconds(value: str | None, now: datetime | None = None, maximum: float = 300.0) -> float | None:
    """Seconds to wait from a `Retry-After` header (RFC 9110 §10.2.3), or None when there is nothing usable.

    Both forms are accepted: delay-seconds ("120", also "1.5") and an HTTP-date ("Wed, 21 Oct 2026 07:28:00 GMT").
    Garbage, negative, NaN/inf and non-finite values give None (the caller falls back to its own backoff); a
    date in the past gives 0.0; the result is capped at `maximum` so a hostile server cannot park a worker.
    Never raises: a bad header must not fail a batch.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        if math.isinf(seconds) and text.isdigit():  # a valid but absurd delay-seconds: wait the longest we allow
            return maximum
        if not math.isfinite(seconds) or seconds < 0:
            return None
        return min(seconds, maximum)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000" or no zone: RFC 5322 says UTC
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), maximum)


# -- addresses ----------------------------------------------------------------------------------------------


def address_class(ip: IPAddress) -> str | None:
    """Why an address must not be fetched ("loopback", "private", ...), or None for a global unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return address_class(embedded) or ("teredo" if ip.teredo else None)
    for name in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved", "site_local"):
        if getattr(ip, f"is_{name}", False):
            return name
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared"
    if not ip.is_global:
        return "non_global"
    return None


@dataclass(frozen=True)
class AllowList:
    """Internal destinations that configuration explicitly allows: (host, port) pairs and networks."""

    host_ports: frozenset[tuple[str, int]] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """`host:port`, `[v6]:port` or a CIDR per entry; ValueError naming the entry for anything else."""
        host_ports, networks = set(), []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            if "/" in entry:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError as err:
                    raise ValueError(f"outbound allow-list entry {entry!r} is not a CIDR network") from err
                continue
            parts = urlsplit(f"//{entry}")
            try:
                port = parts.port
            except ValueError as err:
                raise ValueError(f"outbound allow-list entry {entry!r} has a bad port") from err
            if not parts.hostname or port is None:
                raise ValueError(f"outbound allow-list entry {entry!r} is neither host:port nor a CIDR")
            host_ports.add((_normal_host(parts.hostname), port))
        return cls(frozenset(host_ports), tuple(networks))

    def allows(self, host: str, port: int, ip: IPAddress) -> bool:
        return (
            (_normal_host(host), port) in self.host_ports
            or (str(ip), port) in self.host_ports
            or any(ip in net for net in self.networks if net.version == ip.version)
        )


def _normal_host(host: str) -> str:
    host = host.strip("[]").lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


class BlockedAddress(Exception):
    """A destination the guard refused before connecting; the message is the reason code."""


# -- the guard inside the connection: resolve once, check every address, connect to a checked one ------------

_deadline = threading.local()  # per thread: a connection is used by one request at a time, in its thread


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = getattr(_deadline, "at", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("deadline exceeded")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """Bounds every socket wait by the current download's deadline (httpcore fixes its read timeout once)."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        timeout = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, with the address check between name resolution and connect."""

    def __init__(self, allow: AllowList) -> None:
        self.allow = allow
        self._inner = httpcore.SyncBackend()

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address of `host`; BlockedAddress unless all are global or allow-listed (one bad one is enough:
        a name mixing public and internal answers is how rebinding attacks look)."""
        try:
            infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as err:
            raise httpcore.ConnectError("dns_error") from err
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos))
        for ip in addresses:
            kind = address_class(ip)
            if kind is not None and not self.allow.allows(host, port, ip):
                raise BlockedAddress(f"blocked_address: {kind}")
        return addresses

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self.resolve(host, port)
        error: Exception | None = None
        for ip in addresses:  # connect to the address that was checked, never to the name again
            try:
                stream = self._inner.connect_tcp(
                    str(ip), port, _time_left(timeout, httpcore.ConnectTimeout), local_address, socket_options
                )
                return _DeadlineStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                error = err
        raise error or httpcore.ConnectError("no address")

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise BlockedAddress("blocked_address: unix_socket")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with its connection pool on the guarded backend (httpx 0.28 takes no backend)."""

    def __init__(self, allow: AllowList, max_connections: int = 32) -> None:
        super().__init__(trust_env=False)
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            network_backend=GuardedBackend(allow),
        )


# -- fetching -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboundLimits:
    max_bytes: int = 20 * 1024 * 1024
    deadline_s: float = 30.0  # per download attempt: every hop, connect and read together
    read_timeout_s: float = 10.0  # a stall shorter than the deadline still counts as a (retryable) timeout
    max_redirects: int = 5
    retries: int = 3  # on 429, 5xx and timeouts; attempts = retries + 1
    first_retry_wait_s: float = 1.0  # backoff 1, 2, 4 s ... or the server's Retry-After when longer
    max_retry_wait_s: float = 30.0


@dataclass(frozen=True)
class Fetched:
    url: str
    data: bytes | None
    reason: str | None  # None with data; else a reason code: blocked_address: loopback, http_404, too_large ...
    status: int | None = None
    bytes_read: int = 0  # body bytes taken off the wire, also for an aborted download
    retry_after: float | None = None  # seconds the server asked to wait (429/503), parsed and bounded

    @property
    def transient(self) -> bool:
        return self.reason is not None and (
            self.reason in ("http_429", "timeout") or (self.status is not None and self.status >= 500)
        )


class GuardedClient:
    """One client per batch (its connections are pooled); thread-safe for concurrent `fetch` calls."""

    def __init__(
        self,
        allow: Iterable[str] | AllowList = (),
        limits: OutboundLimits | None = None,
        headers: dict[str, str] | None = None,
        max_connections: int = 32,
    ) -> None:
        self.allow = allow if isinstance(allow, AllowList) else AllowList.parse(allow)
        self.limits = limits or OutboundLimits()
        transport = GuardedTransport(self.allow, max_connections)
        self._client = httpx.Client(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            headers={"Accept-Encoding": "identity", **(headers or {})},
            timeout=httpx.Timeout(self.limits.read_timeout_s),
        )

    def __enter__(self) -> GuardedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch(self, url: str) -> Fetched:
        """One attempt (following redirects) within one deadline; a Fetched with data or a reason, never raises
        for anything the remote side does."""
        _deadline.at = time.monotonic() + self.limits.deadline_s
        try:
            return self._fetch(url)
        finally:
            _deadline.at = None

    def _fetch(self, url: str) -> Fetched:
        current, read = url, [0]  # body bytes read so far, also known when a read fails
        for hop in range(self.limits.max_redirects + 1):
            after = f" after {hop} redirect{'s' if hop > 1 else ''}" if hop else ""
            try:
                target = httpx.URL(current)
            except (httpx.InvalidURL, ValueError, TypeError):
                return Fetched(url, None, "invalid_url")
            if target.scheme not in ("http", "https"):
                return Fetched(url, None, f"unsupported_scheme: {target.scheme or 'none'}{after}")
            if not target.host:
                return Fetched(url, None, "invalid_url")
            try:
                with self._client.stream("GET", target) as response:
                    if response.status_code in REDIRECTS:
                        location = response.headers.get("location")
                        if not location:
                            return Fetched(url, None, "redirect_without_location", response.status_code)
                        current = str(response.url.join(location))
                        continue
                    return self._read(url, response, read)
            except BlockedAddress as err:
                return Fetched(url, None, f"{err}{after}")
            except httpx.TimeoutException:
                deadline = getattr(_deadline, "at", None)
                past = deadline is not None and time.monotonic() >= deadline
                return Fetched(url, None, "deadline_exceeded" if past else "timeout", bytes_read=read[0])
            except httpx.ConnectError as err:
                # httpcore's messages can carry addresses: keep only our own code or the error's type.
                return Fetched(url, None, "dns_error" if "dns_error" in str(err) else "connect_error")
            except (httpx.InvalidURL, httpx.UnsupportedProtocol):
                return Fetched(url, None, "invalid_url")
            except httpx.HTTPError as err:
                return Fetched(url, None, f"http_error: {type(err).__name__}", bytes_read=read[0])
        return Fetched(url, None, f"too_many_redirects: more than {self.limits.max_redirects}")

    def _read(self, url: str, response: httpx.Response, read: list[int]) -> Fetched:
        status = response.status_code
        if status != 200:
            wait = None
            if status in (429, 503):
                wait = retry_after_seconds(response.headers.get("retry-after"), maximum=self.limits.max_retry_wait_s)
            return Fetched(url, None, f"http_{status}", status, retry_after=wait)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            return Fetched(url, None, "content_encoding: compressed body refused", status)
        declared = response.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.limits.max_bytes:
            return Fetched(url, None, f"too_large: declared {int(declared)} bytes > {self.limits.max_bytes}", status)
        chunks = []
        for chunk in response.iter_raw():  # each socket read as it comes (httpcore reads at most 64 KiB)
            read[0] += len(chunk)
            if read[0] > self.limits.max_bytes:
                return Fetched(url, None, f"too_large: over {self.limits.max_bytes} bytes", status, read[0])
            chunks.append(chunk)
        return Fetched(url, b"".join(chunks), None, status, read[0])

    def fetch_with_retries(self, url: str) -> Fetched:
        """`fetch`, retried on 429, 5xx and timeouts (backoff or Retry-After, whichever is longer, bounded)."""
        limits = self.limits

        def wait(state: tenacity.RetryCallState) -> float:
            backoff = limits.first_retry_wait_s * 2 ** (state.attempt_number - 1)
            asked = state.outcome.result().retry_after if state.outcome and not state.outcome.failed else None
            return min(max(backoff, asked or 0.0), limits.max_retry_wait_s)

        def log(state: tenacity.RetryCallState) -> None:
            reason = state.outcome.result().reason if state.outcome and not state.outcome.failed else "error"
            wait_s = state.next_action.sleep if state.next_action else 0.0
            # The reason code only: URLs may carry tokens in their query strings.
            _log.info(f"fetch attempt {state.attempt_number} failed ({reason}); retrying in {wait_s:.2f}s")

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_result(lambda fetched: fetched.transient),
            stop=tenacity.stop_after_attempt(limits.retries + 1),
            wait=wait,
            before_sleep=log,
            retry_error_callback=lambda state: state.outcome.result(),
        )
        return retrying(self.fetch, url)
