"""The pages' web stack: FastAPI apps on uvicorn, with the limits every page shares.

What refuses what (nothing is hand-parsed):
- h11 (uvicorn's `http="h11"`) answers 400 to a malformed request line or header, including a
  `Content-Length` that is negative, not a number, or given twice with different values, and caps
  the header block at `MAX_HEADER_BYTES`;
- Starlette's `RequestBodyLimitMiddleware` (FastAPI's `max_body_size`) answers 413 when the
  declared `Content-Length` is over the limit, before reading any of the body, and as soon as a
  streamed (chunked) body passes it;
- FastAPI answers 400 to a body that is not JSON (or that `json` cannot parse: too deep, an
  integer of more than 4,300 digits) and 422 to one its pydantic model refuses (an array or
  `null`, a value out of bounds, a non-finite number such as `1e400`);
- uvicorn closes idle keep-alive connections after `KEEP_ALIVE_S` and answers 503 beyond
  `MAX_CONNECTIONS` open connections.
Neither Starlette nor uvicorn puts a deadline on reading a request (uvicorn's only timeout covers
idle keep-alive connections between requests), so two are added here: `BodyReadDeadline` answers
408 to a client that declares more body than it sends, after `body_timeout_s`, and `Server`'s h11
protocol answers 408 and closes a connection whose request line and headers are not complete
`header_timeout_s` after it opened (or after its previous answer): a slow or silent client holds
one connection for seconds, not a connection slot forever.

Error answers are JSON `{"error": "...", ...}` (the pages show `error`), without echoing the refused
input (it may be huge, non-finite, or personal); the one exception is Starlette's own plain-text
413 `Content Too Large` for a declared `Content-Length` over the limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_HEADER_BYTES = 16 * 1024
KEEP_ALIVE_S = 5
MAX_CONNECTIONS = 64


class BodyReadTimeout(HTTPException):
    """Raised from `receive` when the body is not complete by the deadline (an HTTPException, so
    FastAPI's body reader passes it on instead of turning it into a 400)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request body did not arrive within {seconds:g} s", {"Connection": "close"})


class BodyReadDeadline:
    """ASGI middleware: the whole request body must arrive within `seconds` of the first read."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline: float | None = None
        body_done = False

        async def receive_by_deadline() -> Message:
            nonlocal deadline, body_done
            if body_done:  # after the body only `http.disconnect` can come: no deadline on waiting for it
                return await receive()
            loop = asyncio.get_running_loop()
            deadline = deadline or loop.time() + self.seconds
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.001))
            except TimeoutError:
                raise BodyReadTimeout(self.seconds) from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, receive_by_deadline, send)


def _error(status: int, message: str, headers: dict[str, str] | None = None, **details: Any) -> JSONResponse:
    return JSONResponse({"error": message, **details}, status_code=status, headers=headers)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, str(exc.detail), dict(exc.headers or {}) or None)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        reason = next(e for e in errors if e.get("type") == "json_invalid").get("ctx", {}).get("error", "")
        return _error(400, f"body is not JSON: {reason}".rstrip(": "))
    # loc, msg and type only: `input` may be huge, non-finite (not JSON) or personal
    detail = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg")), "type": e.get("type")} for e in errors
    ]
    summary = "; ".join(f"{'.'.join(d['loc'][1:]) or 'body'}: {d['msg']}" for d in detail)
    return _error(422, summary, detail=detail)


def create_app(title: str, *, max_body_bytes: int, body_timeout_s: float = 10.0, description: str = "") -> FastAPI:
    """A FastAPI app with the shared limits and JSON error answers; `/openapi.json` is its schema."""
    app = FastAPI(
        title=title, description=description, version="1", max_body_size=max_body_bytes, docs_url=None, redoc_url=None
    )
    app.add_middleware(BodyReadDeadline, seconds=body_timeout_s)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    return app


class _H11WithHeaderDeadline(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers."""

    header_timeout_s = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:  # the headers are in: a request runs
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_timer()  # the next request on this connection gets its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_deadline_passed)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_deadline_passed(self) -> None:
        self._header_timer = None
        waiting_for_headers = self.cycle is None or self.cycle.response_complete
        if waiting_for_headers and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            self.transport.close()


class Server:
    """`with Server(app) as s: s.url` serves `app` with uvicorn on a background thread (port 0 = any free
    port, bound before the thread starts, so `url` is known at once); `serve_forever()` serves on the
    calling thread instead (the CLI: Ctrl-C stops it gracefully)."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0, header_timeout_s: float = 10.0) -> None:
        self._socket = socket.create_server((host, port))
        protocol = type("H11Protocol", (_H11WithHeaderDeadline,), {"header_timeout_s": header_timeout_s})
        config = uvicorn.Config(
            app,
            http=protocol,  # h11's strict parsing and header cap (httptools would be picked when installed)
            lifespan="off",
            log_config=None,  # leave the host process's logging alone
            access_log=False,
            server_header=False,
            timeout_keep_alive=KEEP_ALIVE_S,
            limit_concurrency=MAX_CONNECTIONS,
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._socket.getsockname()[:2]
        return f"http://{host}:{port}/"

    def start(self, timeout_s: float = 30.0) -> Server:
        self._thread = threading.Thread(target=self.serve_forever, name="uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server at {self.url} did not start")
            time.sleep(0.02)
        return self

    def serve_forever(self) -> None:
        # uvicorn shuts down gracefully on Ctrl-C, then re-raises the signal: that ending is the normal one
        with contextlib.suppress(KeyboardInterrupt):
            self._server.run(sockets=[self._socket])

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._socket.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()
