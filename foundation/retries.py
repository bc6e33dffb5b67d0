"""Retry with exponential backoff, on tenacity: the one retry policy every pipeline uses.

    for attempt in retrying(CommitFailedError, attempts=8, first_wait=0.05):
        with attempt:
            commit()

or `retrying(OperationalError, attempts=3, first_wait=0.5)(read, query)`. The last error is re-raised
as itself (not tenacity's RetryError), so callers and tests see the real cause.
"""

from __future__ import annotations

import logging

import tenacity

_log = logging.getLogger("storefront.retries")


def _log_retry(state: tenacity.RetryCallState) -> None:
    # The error's type only: messages of database and HTTP errors may carry hosts, users or tokens.
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    _log.info(f"attempt {state.attempt_number} failed ({type(error).__name__}); retrying in {wait:.2f}s")


def retrying(
    on: type[BaseException] | tuple[type[BaseException], ...],
    attempts: int,
    first_wait: float,
    max_wait: float = 30.0,
) -> tenacity.Retrying:
    """Retry `on` errors up to `attempts` tries in all, waiting first_wait, 2x, 4x, ... (capped at max_wait)."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(on),
        stop=tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_exponential(multiplier=first_wait, min=first_wait, max=max_wait),
        before_sleep=_log_retry,
        reraise=True,
    )
