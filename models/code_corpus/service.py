"""A small completion web service: `GET /` is the page, `POST /complete` returns a completion as JSON.

Like the original Flask page, the browser posts the text typed so far (debounced) and shows the
continuation; unlike it, the default is greedy decoding (deterministic) with a stop at the end of
the line. The server is a standard-library `ThreadingHTTPServer`; model calls are serialised.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import keras

from models.code_corpus.completion import CompletionRequest, complete
from models.code_corpus.vocab import CharVocabulary

MAX_PROMPT_CHARS = 10_000

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Storefront code completion</title>
<style>
 body { font-family: sans-serif; margin: 2em; max-width: 60em; }
 textarea, pre { font-family: monospace; font-size: 14px; width: 100%; box-sizing: border-box; }
 textarea { height: 12em; }
 pre { background: #f4f4f4; padding: .5em; min-height: 1.5em; white-space: pre-wrap; }
 #status { color: #777; font-size: 12px; }
</style></head>
<body>
<h1>Code completion</h1>
<p>Type Python; a character-level LSTM proposes how the line goes on.</p>
<textarea id="code" spellcheck="false" autofocus placeholder="def main("></textarea>
<label>temperature <input id="temperature" type="number" min="0" max="2" step="0.1" value="0"></label>
<label>stop at <select id="stop"><option value="line">end of line</option><option value="block">end of block</option>
<option value="none">length limit</option></select></label>
<div id="status">idle</div>
<pre id="completion" data-state="empty"></pre>
<script>
const code = document.getElementById("code"), out = document.getElementById("completion");
const status = document.getElementById("status");
let timer = null, sent = 0;
async function ask() {
  const ticket = ++sent;
  status.textContent = "thinking";
  const body = {prompt: code.value, temperature: parseFloat(document.getElementById("temperature").value) || 0,
                stop: document.getElementById("stop").value};
  const response = await fetch("/complete", {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify(body)});
  const data = await response.json();
  if (ticket !== sent) return;  // a newer request is in flight: keep only the latest answer
  out.textContent = data.completion ?? data.error;
  out.dataset.state = response.ok ? "ready" : "error";
  status.textContent = response.ok ? `completed in ${data.milliseconds} ms` : "error";
}
code.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 250); });
</script>
</body></html>
"""


class CompletionService:
    """`with CompletionService(model, vocab) as svc: svc.url` serves on 127.0.0.1 (port 0 = any free port)."""

    def __init__(
        self, model: keras.Model, vocab: CharVocabulary, host: str = "127.0.0.1", port: int = 0, max_chars: int = 80
    ) -> None:
        self.model, self.vocab, self.max_chars = model, vocab, max_chars
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                if self.path in ("/", "/index.html"):
                    return self._send(200, PAGE.encode(), "text/html; charset=utf-8")
                if self.path == "/health":
                    return self._send(200, b'{"ok": true}', "application/json")
                self._send(404, b'{"error": "not found"}', "application/json")

            def do_POST(self) -> None:  # noqa: N802
                if self.path != "/complete":
                    return self._send(404, b'{"error": "not found"}', "application/json")
                try:
                    raw = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                    result = service.handle(raw)
                    self._send(200, json.dumps(result).encode(), "application/json")
                except (ValueError, TypeError) as exc:
                    self._send(400, json.dumps({"error": str(exc)}).encode(), "application/json")

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="code-completion", daemon=True)

    def handle(self, raw: dict[str, Any]) -> dict[str, Any]:
        import time

        prompt = raw.get("prompt", "")
        if not isinstance(prompt, str) or len(prompt) > MAX_PROMPT_CHARS:
            raise ValueError(f"prompt must be a string of at most {MAX_PROMPT_CHARS} characters")
        stop = raw.get("stop", "line")
        if stop not in ("line", "block", "none"):
            raise ValueError("stop must be line, block or none")
        request = CompletionRequest(
            prompt=prompt,
            max_chars=min(int(raw.get("max_chars", self.max_chars)), 400),
            temperature=float(raw.get("temperature", 0.0)),
            top_k=int(raw["top_k"]) if raw.get("top_k") else None,
            stop=stop,
            seed=int(raw.get("seed", 0)),
        )
        started = time.perf_counter()
        with self._lock:
            text = complete(self.model, self.vocab, request)
        return {"completion": text, "milliseconds": round(1000 * (time.perf_counter() - started))}

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> CompletionService:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> CompletionService:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()

    def serve_forever(self) -> None:
        self._server.serve_forever()


def from_model_dir(model_dir: Path, **kwargs: Any) -> CompletionService:
    from models.code_corpus.model import load

    model, vocab, _ = load(model_dir)
    return CompletionService(model, vocab, **kwargs)
