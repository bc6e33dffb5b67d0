"""Every asset key, check, job, sensor, schedule and partitions definition stays what the snapshot says
(refactors keep behaviour; an intended change regenerates the snapshot, see definitions_snapshot.py)."""

import json
from pathlib import Path

from definitions_snapshot import snapshot  # tests/operating is on sys.path via conftest

from pipelines.definitions import defs

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")


def test_definitions_match_the_snapshot() -> None:
    expected = json.loads(SNAPSHOT.read_text())
    actual = json.loads(json.dumps(snapshot(defs), default=str))
    for kind in expected:
        missing = sorted(set(expected[kind]) - set(actual[kind]))
        added = sorted(set(actual[kind]) - set(expected[kind]))
        assert not missing and not added, f"{kind}: missing {missing}, added {added}"
        if isinstance(expected[kind], dict):
            changed = {
                k: (expected[kind][k], actual[kind][k]) for k in expected[kind] if expected[kind][k] != actual[kind][k]
            }
            assert not changed, f"{kind} changed: {changed}"
