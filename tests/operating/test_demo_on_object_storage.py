"""`STOREFRONT_ROOT=s3://… storefront demo --only dunnhumby` against a real S3-protocol server (moto_server on
127.0.0.1): every artifact lands in the bucket, and nothing is written to local disk outside temp folders.

The dunnhumby demo is the subset run here (the full demo takes minutes): it lands files, ingests them with
quarantine, trains and publishes two models through the model store, then loads one back to score a new week.
TFRecords read by tf.data and sneaker images on S3 are covered in tests/foundation/test_object_storage.py; the
full demo on S3 was run by hand (docs/deploy.md gives both summaries).

Proof of "no local writes": the demo runs with HOME, TMPDIR, DAGSTER_HOME and Python's bytecode cache in the
test's temp folder; (1) the repository tree (every file's size and mtime) is identical before and after, and
(2) an audit hook in every Python process of the run (tests/operating/write_audit/sitecustomize.py) records any
file opened for writing, folder created or file renamed outside the temp folders: there must be none.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from foundation.resources import REPO_ROOT
from tests.s3_server import BUCKET

AUDIT_HOOK = Path(__file__).with_name("write_audit")
SKIPPED = {".git", ".venv", ".ruff_cache", ".pytest_cache"}  # not the demo's to touch; the audit hook covers them


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` (but SKIPPED folders at its top) with its size and mtime."""
    found = {}
    for folder, dirs, files in os.walk(root):
        if Path(folder) == root:
            dirs[:] = [d for d in dirs if d not in SKIPPED]
        for name in files:
            path = os.path.join(folder, name)
            try:
                stat = os.lstat(path)
            except FileNotFoundError:
                continue
            found[os.path.relpath(path, root)] = (stat.st_size, stat.st_mtime_ns)
    return found


def _summary_rows(output: str) -> dict[str, list[str]]:
    """asset -> rows per summary line, from the table the demo prints last."""
    rows: dict[str, list[str]] = {}
    for line in output.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 5 and cells[0].startswith("dunnhumby_"):
            rows.setdefault(cells[0], []).append(cells[2])
    return rows


@pytest.mark.slow
def test_dunnhumby_demo_on_s3_writes_nothing_locally_outside_temp(s3_server, tmp_path):
    work = tmp_path / "run"
    for name in ("home", "tmp", "dagster_home", "pycache"):
        (work / name).mkdir(parents=True)
    (work / "dagster_home" / "dagster.yaml").symlink_to(REPO_ROOT / "dagster.yaml")
    prefix = f"demo-{uuid.uuid4().hex[:8]}"
    allowed = [str(tmp_path), tempfile.gettempdir(), "/dev", "/proc"]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STOREFRONT_ROOT"))},
        **s3_server.env,
        "STOREFRONT_ROOT": f"s3://{BUCKET}/{prefix}",
        "HOME": str(work / "home"),
        "TMPDIR": str(work / "tmp"),
        "DAGSTER_HOME": str(work / "dagster_home"),
        "PYTHONPYCACHEPREFIX": str(work / "pycache"),
        "PYTHONPATH": os.pathsep.join([str(AUDIT_HOOK), str(REPO_ROOT)]),
        "STOREFRONT_AUDIT_ALLOWED": os.pathsep.join(allowed),
        "STOREFRONT_AUDIT_LOG": str(tmp_path / "writes_outside_temp.log"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "STOREFRONT_EXECUTOR": "in_process",  # one process: storage is under test here, not the executor
    }
    before = _tree(REPO_ROOT)
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "demo", "--only", "dunnhumby"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    after = _tree(REPO_ROOT)
    (tmp_path / "demo_output.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]

    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert not changed, f"files written under the repository: {changed[:20]}"
    audit = tmp_path / "writes_outside_temp.log"
    assert not audit.exists(), f"writes outside temp folders:\n{audit.read_text()[:3000]}"

    keys = s3_server.keys(BUCKET, f"{prefix}/")
    top = {k.removeprefix(f"{prefix}/").split("/", 2)[0] for k in keys}
    assert {"delta", "landing", "models"} <= top
    tables = {k.split("/")[2] for k in keys if k.startswith(f"{prefix}/delta/")}
    assert {"dunnhumby_transactions", "dunnhumby_baskets", "dunnhumby_next_basket_scores"} <= tables
    landed = [k for k in keys if k.startswith(f"{prefix}/landing/dunnhumby/transactions_")]
    assert len(landed) == 10  # the demo's 9 history weeks and the new week
    models = {k.split("/")[2] for k in keys if k.endswith("/latest.json")}
    assert {"dunnhumby_missions", "dunnhumby_next_basket"} <= models

    rows = _summary_rows(run.stdout)
    assert len(rows["dunnhumby_transactions"]) == 2  # the range run and the new week
    assert all(int(r) > 0 for r in rows["dunnhumby_transactions"] + rows["dunnhumby_next_basket_scores"])
