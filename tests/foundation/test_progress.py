import logging

from pipelines.progress import Progress


def test_progress_logs_counts_and_rates(caplog):
    caplog.set_level(logging.INFO)
    with Progress(logging.getLogger("t"), "lines", total=3, every_seconds=0) as p:
        for _ in range(3):
            p.advance()
    assert "lines: 3/3 done" in caplog.text
    assert p.metadata()["lines_per_second"] > 0
