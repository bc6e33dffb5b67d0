"""The Amazon recommendations page: pick a user and see their history next to each model's top 10.

Plain server-rendered HTML (no JavaScript needed): a FastAPI app on uvicorn (`foundation.web`: limits, JSON
errors), whose one parameter, `user`, is bounded to `MAX_USER_CHARS`. The models are the
ones the pipeline evaluates, fitted on the same training split, so a held-out item appearing in a top-10 list
(highlighted) is exactly a hit that Recall@10 counts. The champion chosen on validation (`amazon_model_comparison`)
comes first and the page says which it is, baseline or not. `storefront serve amazon --tag T` loads the tag and
serves it (pipelines/commands/amazon_ui.py).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Annotated

import numpy as np
from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse

from foundation.web import Server, create_app
from models.amazon.recommenders import Recommender, Split

MAX_USER_CHARS = 200

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Storefront · Amazon recommendations · {tag}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse;margin:0 2em 1em 0}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:13px}} .hit{{background:#c8f7c5;font-weight:bold}}
.models{{display:flex;flex-wrap:wrap}}</style></head><body>
<h1>Amazon recommendations <small>dataset {tag}</small></h1>
<form method="get" action="/"><label>User <select name="user" id="user">{options}</select></label>
<button type="submit" id="show">Show</button></form>{body}</body></html>"""


@dataclass
class RecommendationsApp:
    """Everything the page needs, computed once: the split, item titles and fitted models."""

    tag: str
    split: Split
    titles: dict[str, str]
    models: dict[str, Recommender] = field(default_factory=dict)
    users: list[str] = field(default_factory=list)
    champion: str | None = None  # the validation champion: shown first, as the served recommendations
    champion_is_baseline: bool = False

    @classmethod
    def build(
        cls,
        tag: str,
        split: Split,
        titles: dict[str, str],
        models: dict[str, Recommender],
        champion: str | None = None,
        champion_is_baseline: bool = False,
    ) -> RecommendationsApp:
        """The page for fitted `models` (the champion's first); the user list is the 200 busiest test users (most
        training ratings)."""
        activity = np.diff(split.train.matrix.indptr)
        tested = np.array(sorted(split.test), dtype=np.int64)
        busiest = tested[np.argsort(-activity[tested], kind="stable")][:200]
        if champion is not None:
            if champion not in models:
                raise ValueError(f"the champion {champion!r} is not among the page's models {sorted(models)}")
            models = {champion: models[champion]} | {n: m for n, m in models.items() if n != champion}
        users = [str(split.train.user_ids[u]) for u in busiest]
        return cls(tag, split, titles, models, users, champion, champion_is_baseline)

    def served_text(self) -> str:
        if self.champion is None:
            return "No champion chosen yet (run amazon_model_comparison): every model is shown alike."
        kind = "a baseline, which beat every learned model" if self.champion_is_baseline else "a learned model"
        return f"Served: {self.champion} ({kind}), the best on the validation split by NDCG@10."

    def render(self, user: str | None) -> str:
        options = "".join(
            f'<option value="{html.escape(u)}"{" selected" if u == user else ""}>{html.escape(u)}</option>'
            for u in self.users
        )
        served = f'<p id="served-by">{html.escape(self.served_text())}</p>'
        body = served + (self._user_section(user) if user else "<p>Pick a user.</p>")
        return PAGE.format(tag=html.escape(self.tag), options=options, body=body)

    def _title(self, item: str) -> str:
        return html.escape(self.titles.get(item) or item)

    def _user_section(self, user: str) -> str:
        train = self.split.train
        try:
            row = train.user_row(user)
        except KeyError:
            return f'<p id="error">Unknown user {html.escape(user)}</p>'
        seen = [str(train.item_ids[i]) for i in train.matrix[row].indices]
        held = {str(train.item_ids[i]) for i in self.split.test.get(row, [])}
        history = "".join(
            f'<tr data-item="{html.escape(i)}"><td>{html.escape(i)}</td><td>{self._title(i)}</td></tr>' for i in seen
        )
        parts = [
            f'<h2>History of {html.escape(user)}</h2><table id="history"><tr><th>item</th><th>title</th></tr>{history}</table>',
            f'<p>Held out (the latest rating): <span id="held-out">{", ".join(map(self._title, held)) or "none"}</span></p>',
            '<div class="models">',
        ]
        for name, model in self.models.items():
            rows = "".join(
                f'<tr class="{"hit" if item in held else ""}" data-item="{html.escape(item)}">'
                f"<td>{rank}</td><td>{self._title(item)}</td></tr>"
                for rank, item in enumerate(model.recommend(user, k=10, exclude_seen=True), start=1)
            )
            title = f"{name} (served champion)" if name == self.champion else name
            parts.append(f'<table class="recs" id="recs-{name}"><tr><th colspan="2">{title}</th></tr>{rows}</table>')
        parts.append("</div>")
        return "".join(parts)


def create_page_app(page: RecommendationsApp, body_timeout_s: float = 10.0) -> FastAPI:
    """The FastAPI app serving `page` at `/` (`/?user=U` shows one user)."""
    app = create_app(
        f"Storefront Amazon recommendations ({page.tag})", max_body_bytes=0, body_timeout_s=body_timeout_s
    )  # GET only: no body

    @app.get("/", response_class=HTMLResponse)
    def index(user: Annotated[str | None, Query(max_length=MAX_USER_CHARS)] = None) -> str:
        return page.render(user)  # a plain def: FastAPI runs the models on a worker thread

    return app


def serve(app: RecommendationsApp, host: str = "127.0.0.1", port: int = 0) -> Server:
    """Start the page in a background thread; `server.url` has the bound port, `server.stop()` ends it."""
    return Server(create_page_app(app), host, port).start()
