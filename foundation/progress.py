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


def keras_progress(log: Any, what: str = "training", batch_size: int | None = None, every_seconds: float = 30.0) -> Any:
    """A Keras callback logging each epoch (its loss and metrics, examples or steps per second) to the run log,
    and, within long epochs, a line at most every `every_seconds`:
    `model.fit(..., verbose=0, callbacks=[keras_progress(context.log, "next-basket model", batch_size=256)])`."""
    import keras  # only here: asset modules import this module and must not pay for Keras

    log = log or logging.getLogger("storefront")
    unit = "examples" if batch_size else "steps"

    def _metrics(logs: dict | None) -> str:
        return ", ".join(f"{k} {float(v):.4g}" for k, v in (logs or {}).items())

    class KerasProgress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch_started = self.last = time.monotonic()
            self.steps, self.epoch = 0, epoch + 1

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.steps += 1
            now = time.monotonic()
            if now - self.last >= every_seconds:
                self.last = now
                of = f"/{self.params['steps']:,}" if self.params.get("steps") else ""
                log.info(f"{what}: epoch {self.epoch}, step {self.steps:,}{of}: {_metrics(logs)} ({self._rate(now)})")

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            of = f"/{self.params['epochs']}" if self.params.get("epochs") else ""
            log.info(f"{what}: epoch {epoch + 1}{of}: {_metrics(logs)} ({self._rate(time.monotonic())})")

        def _rate(self, now: float) -> str:
            done = self.steps * (batch_size or 1)
            return f"{done / max(now - self.epoch_started, 1e-9):,.0f} {unit}/s"

    return KerasProgress()
