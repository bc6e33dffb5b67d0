"""Progress lines for long steps: counts and rates in the run log, at most every few seconds."""

from __future__ import annotations

import logging
import time
from typing import Any


class Progress:
    """`with Progress(context.log, "reviews", total=n) as p: ... p.advance(len(batch))`."""

    def __init__(self, log: Any, what: str, total: int | None = None, every_seconds: float = 10.0) -> None:
        self.log = log or logging.getLogger("storefront")
        self.what = what
        self.total = total
        self.every = every_seconds
        self.count = 0
        self.started = self._last = time.monotonic()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.done()

    def done(self) -> None:
        """Log the final count and rate (the context manager does this on a clean exit)."""
        self._emit(final=True)

    @property
    def rate(self) -> float:
        return self.count / max(time.monotonic() - self.started, 1e-9)

    def advance(self, n: int = 1) -> None:
        self.count += n
        if time.monotonic() - self._last >= self.every:
            self._emit()

    def _emit(self, final: bool = False) -> None:
        self._last = time.monotonic()
        of = f"/{self.total:,}" if self.total else ""
        verb = "done" if final else "so far"
        self.log.info(f"{self.what}: {self.count:,}{of} {verb} ({self.rate:,.0f}/s)")

    def metadata(self) -> dict[str, float]:
        return {f"{self.what}_per_second": round(self.rate, 1)}
