"""`storefront serve code`: the code-completion page for the latest trained char-RNN model."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from assets.code_corpus.tables import CHAR_RNN_MODEL
    from models.code_corpus.service import from_model_dir
    from pipelines.definitions import shared_resources

    storage = shared_resources()["storage"]
    model_dir = args.model_dir or storage.model_store(CHAR_RNN_MODEL).path()  # type: ignore[attr-defined]
    service = from_model_dir(model_dir, host=args.host, port=args.port)
    print(f"serving {model_dir} at {service.url} (Ctrl-C to stop)", flush=True)
    service.serve_forever()  # uvicorn stops gracefully on Ctrl-C
    return 0
