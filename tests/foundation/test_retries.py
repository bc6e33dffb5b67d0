"""The one retry helper: bounded attempts, the real error at the end, only the named errors retried."""

import pytest

from foundation.retries import retrying


def test_retries_transient_errors_then_succeeds():
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("reset")
        return "ok"

    assert retrying(ConnectionError, attempts=3, first_wait=0.001)(flaky) == "ok"
    assert len(calls) == 3


def test_gives_up_with_the_original_error_and_does_not_retry_others():
    calls = []

    def broken() -> None:
        calls.append(1)
        raise ConnectionError("still down")

    with pytest.raises(ConnectionError, match="still down"):
        retrying(ConnectionError, attempts=2, first_wait=0.001)(broken)
    assert len(calls) == 2

    calls.clear()

    def wrong() -> None:
        calls.append(1)
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        for attempt in retrying(ConnectionError, attempts=5, first_wait=0.001):
            with attempt:
                wrong()
    assert len(calls) == 1
