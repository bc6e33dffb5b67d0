"""The code-completion page: `GET /` is the page, `POST /complete` returns a completion as JSON.

Like the original Flask page, the browser posts the text typed so far (debounced) and shows the
continuation; unlike it, the default is greedy decoding (deterministic) with a stop at the end of
the line. A FastAPI app on uvicorn (`foundation.web`: body size limit, body read deadline, JSON
errors); the request model bounds every field; model calls run one at a time on a worker thread.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Literal

import keras
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from foundation.web import Server, create_app
from models.code_corpus.completion import CompletionRequest, complete
from models.code_corpus.vocab import CharVocabulary

MAX_PROMPT_CHARS = 10_000
MAX_COMPLETION_CHARS = 400
MAX_BODY_BYTES = 64 * 1024  # a 10,000-character prompt of escaped non-ASCII is at most 60,000 bytes

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
<p>Type Python; a character-level language model proposes how the line goes on (or the next line, after a
complete one).</p>
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
  const body = {prompt: code.value.slice(-10000), temperature: parseFloat(document.getElementById("temperature").value) || 0,
                stop: document.getElementById("stop").value};
  const response = await fetch("/complete", {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify(body)});
  const data = await response.json();
  if (ticket !== sent) return;  // a newer request is in flight: keep only the latest answer
  if (response.ok && data.nothing_proposed) {  // an empty box would look like a page that does not work
    out.textContent = "";
    out.dataset.state = "nothing";
    status.textContent = `the model proposes nothing here (it would end the text or add only blank space; ${data.milliseconds} ms)`;
    return;
  }
  out.textContent = data.completion ?? data.error;
  out.dataset.state = response.ok ? "ready" : "error";
  status.textContent = response.ok ? `completed in ${data.milliseconds} ms` : "error";
}
code.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 250); });
</script>
</body></html>
"""


class CompleteBody(BaseModel):
    """What the page posts; every field bounded, unknown fields refused."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field("", max_length=MAX_PROMPT_CHARS)
    max_chars: int | None = Field(None, ge=1, le=MAX_COMPLETION_CHARS, description="default: the service's")
    temperature: float = Field(0.0, ge=0.0, le=2.0, allow_inf_nan=False)
    top_k: int | None = Field(None, ge=1, le=100)
    stop: Literal["line", "block", "none"] = "line"
    seed: int = Field(0, ge=0, le=2**32 - 1)


class CompleteAnswer(BaseModel):
    completion: str
    milliseconds: int
    nothing_proposed: bool = Field(description="true when the completion is empty or only white space")


class CompletionService:
    """`with CompletionService(model, vocab) as svc: svc.url` serves on 127.0.0.1 (port 0 = any free port)."""

    def __init__(
        self,
        model: keras.Model,
        vocab: CharVocabulary,
        host: str = "127.0.0.1",
        port: int = 0,
        max_chars: int = 80,
        body_timeout_s: float = 10.0,
        header_timeout_s: float = 10.0,
    ) -> None:
        self.model, self.vocab, self.max_chars = model, vocab, max_chars
        self._lock = threading.Lock()
        self.app = self._create_app(body_timeout_s)
        self._server = Server(self.app, host, port, header_timeout_s=header_timeout_s)

    def _create_app(self, body_timeout_s: float) -> FastAPI:
        app = create_app("Storefront code completion", max_body_bytes=MAX_BODY_BYTES, body_timeout_s=body_timeout_s)

        @app.get("/", response_class=HTMLResponse)
        @app.get("/index.html", response_class=HTMLResponse, include_in_schema=False)
        def page() -> str:
            return PAGE

        @app.get("/health")
        def health() -> dict[str, bool]:
            return {"ok": True}

        @app.post("/complete")
        def complete_endpoint(body: CompleteBody) -> CompleteAnswer:  # a plain def: FastAPI runs it on a worker thread
            return self.answer(body)

        return app

    def answer(self, body: CompleteBody) -> CompleteAnswer:
        request = CompletionRequest(
            prompt=body.prompt,
            max_chars=body.max_chars or self.max_chars,
            temperature=body.temperature,
            top_k=body.top_k,
            stop=body.stop,
            seed=body.seed,
        )
        started = time.perf_counter()
        with self._lock:
            text = complete(self.model, self.vocab, request)
        return CompleteAnswer(
            completion=text,
            milliseconds=round(1000 * (time.perf_counter() - started)),
            nothing_proposed=not text.strip(),
        )

    def handle(self, raw: dict[str, Any]) -> dict[str, Any]:
        """What `POST /complete` answers to `raw` (pydantic.ValidationError when the server would answer 422)."""
        return self.answer(CompleteBody.model_validate(raw)).model_dump()

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> CompletionService:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

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
