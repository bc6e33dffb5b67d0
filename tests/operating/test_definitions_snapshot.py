"""Every asset key, check, job, sensor, schedule and partitions definition stays what the snapshot says
(refactors keep behaviour; an intended change regenerates the snapshot, see definitions_snapshot.py)."""

import importlib.util
import json
from pathlib import Path

from pipelines.definitions import defs

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")
# Loaded by path: the snapshot script also runs on its own, and tests use --import-mode=importlib.
_spec = importlib.util.spec_from_file_location("definitions_snapshot", SNAPSHOT.with_suffix(".py"))
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
snapshot = _module.snapshot


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
