"""How Storefront launches Chromium: Debian's binary (browser downloads are impossible here) with
the flags that keep it quiet on a closed network."""

from __future__ import annotations

import os
from typing import Any

CHROMIUM = os.environ.get("STOREFRONT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",  # without it Chromium keeps dialling Google's hosts
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def launch_options(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments for Playwright's `chromium.launch(...)`."""
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True, **overrides}
