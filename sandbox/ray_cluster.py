"""A real Ray cluster on this machine, the stand-in for a production one: a head node and worker nodes started
with `ray start`, each its own raylet with its own object store, joined over TCP on 127.0.0.1.

Each `ray start` runs in a new session (process group), so the cluster is stopped by signalling exactly those
groups: `ray stop` would kill every Ray process of the user, other clusters included. Everything Ray writes
(sessions, logs, spilled objects) lives in a temporary folder removed at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
# No telemetry, no dashboard, no usage stats: the machine has no internet and the cluster lives for minutes.
QUIET_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "DAFT_ANALYTICS_ENABLED": "0",
    "DO_NOT_TRACK": "1",
    "RAY_DEDUP_LOGS": "0",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalRayCluster:
    address: str  # host:port of the head's GCS, what `STOREFRONT_RAY_ADDRESS` takes
    nodes: int
    temp_dir: Path
    process_groups: list[int] = field(default_factory=list)


def _launch(args: list[str], env: dict[str, str], cluster: LocalRayCluster) -> subprocess.Popen:
    process = subprocess.Popen(
        [RAY, "start", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, which its daemons inherit
    )
    cluster.process_groups.append(process.pid)
    return process


# Ray waits a fixed 30 s for a new raylet to register with the GCS; a machine busy with other work can miss it.
ATTEMPTS = 3


def _started(process: subprocess.Popen, timeout: float, attempt: int) -> bool:
    """Whether `ray start` succeeded; a failed attempt's processes are stopped, the last one's error raised."""
    try:
        _wait(process, timeout)
        return True
    except (RuntimeError, subprocess.TimeoutExpired):
        _stop([process.pid])
        if attempt == ATTEMPTS:
            raise
        return False


def _wait(process: subprocess.Popen, timeout: float) -> None:
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(process.args)} failed:\n{out.decode(errors='replace')[-3000:]}")


@contextmanager
def local_ray_cluster(
    nodes: int = 2, cpus_per_node: int = 1, object_store_mb: int = 80, timeout: float = 180.0
) -> Iterator[LocalRayCluster]:
    """A head node plus `nodes - 1` worker nodes on 127.0.0.1, `cpus_per_node` CPUs and a small object store each
    (objects beyond it spill to the temporary folder); stopped, and its files removed, on exit."""
    # Short path: Ray's unix sockets live under it and must fit in 107 bytes.
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    port = _free_port()
    cluster = LocalRayCluster(f"127.0.0.1:{port}", nodes, temp_dir)
    env = {**os.environ, **QUIET_ENV, "RAY_TMPDIR": str(temp_dir)}
    common = [
        "--node-ip-address=127.0.0.1",
        f"--num-cpus={cpus_per_node}",
        f"--object-store-memory={object_store_mb * 1024 * 1024}",
        "--disable-usage-stats",
        "--include-log-monitor=false",
    ]
    try:
        for attempt in range(1, ATTEMPTS + 1):
            head_args = [
                "--head",
                f"--port={port}",
                f"--temp-dir={temp_dir}",
                "--include-dashboard=false",
                f"--ray-client-server-port={_free_port()}",
                *common,
            ]
            if _started(_launch(head_args, env, cluster), timeout, attempt):
                break
            port = _free_port()  # the failed head's ports may linger
            cluster.address = f"127.0.0.1:{port}"
        # A worker node started before the head registered itself fails to join: one after the other.
        for _ in range(nodes - 1):
            for attempt in range(1, ATTEMPTS + 1):
                if _started(_launch([f"--address={cluster.address}", *common], env, cluster), timeout, attempt):
                    break
        yield cluster
    finally:
        _stop(cluster.process_groups)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _stop(groups: list[int], grace: float = 5.0) -> None:
    """SIGTERM the cluster's process groups, SIGKILL what is left after `grace` seconds."""
    for group in groups:
        _signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_group_alive(g) for g in groups):
        time.sleep(0.2)
    for group in groups:
        _signal_group(group, signal.SIGKILL)


def _signal_group(group: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False
