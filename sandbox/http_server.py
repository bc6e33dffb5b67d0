"""The stdlib HTTP server every sandbox shop runs on: 127.0.0.1, a background thread, quiet about clients
that hang up (browsers abort image loads mid-response; that is not the shop's problem)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class BackgroundHTTPServer:
    """`with Server(...) as server: server.base_url`; port 0 picks a free port."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int, name: str) -> None:
        self.httpd = _QuietServer(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self.httpd.serve_forever, name=name, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
