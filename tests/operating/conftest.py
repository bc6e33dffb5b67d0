"""The real Dagster daemon and webserver, started against a temporary copy of the instance."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import pytest

from foundation.resources import REPO_ROOT
from tests.ports import free_port

BIN = Path(sys.executable).parent


def wait_for(predicate: Callable[[], object], timeout: float, what: str, every: float = 1.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class DagsterServices:
    home: Path
    root: Path
    url: str
    env: dict[str, str]
    logs: Path

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        out = subprocess.run(
            [str(BIN / "dagster"), *args], cwd=REPO_ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert out.returncode == 0, f"dagster {' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}"
        return out

    def tail(self, name: str, chars: int = 4000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(proc: subprocess.Popen, grace_s: float = 30) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@pytest.fixture
def dagster_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DagsterServices]:
    home, root, logs = tmp_path / "dagster_home", tmp_path / "data", tmp_path / "logs"
    for d in (home, root, logs):
        d.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")  # a temporary copy of the instance
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "STOREFRONT_ROOT": str(root),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        # Runs execute their steps in one process: sensors, queue and backfills are under test here, not the
        # executor, and a process start per step made the tiny weekly runs outlast the wait on a busy machine.
        "STOREFRONT_EXECUTOR": "in_process",
    }
    # This process reads the same instance (its dagster.yaml resolves storage from DAGSTER_HOME).
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("STOREFRONT_ROOT", str(root))
    # Create the SQLite schemas once here: the daemon and webserver migrating at once collide.
    with dg.DagsterInstance.get() as instance:
        instance.get_runs(limit=1)
    location = ["-m", "pipelines.definitions"]
    daemon = _start([str(BIN / "dagster-daemon"), "run", *location], env, logs / "daemon.log")
    web = _start(
        [str(BIN / "dagster-webserver"), *location, "-h", "127.0.0.1", "-p", str(port)], env, logs / "webserver.log"
    )
    services = DagsterServices(home=home, root=root, url=f"http://127.0.0.1:{port}", env=env, logs=logs)

    def web_ready() -> bool:
        assert web.poll() is None, f"webserver exited:\n{services.tail('webserver')}"
        try:
            return httpx.get(f"{services.url}/server_info", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(web_ready, 180, "the Dagster webserver")
        yield services
    finally:
        _stop(web)
        _stop(daemon)
        artifacts = REPO_ROOT / "tests" / "artifacts" / "operating"
        artifacts.mkdir(parents=True, exist_ok=True)
        for log in logs.glob("*.log"):
            shutil.copy(log, artifacts / log.name)
