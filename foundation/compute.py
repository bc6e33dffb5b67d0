"""Where the heavy data-parallel steps run: in this process (the default, what `make demo` uses) or on a Ray
cluster through Daft (`STOREFRONT_RAY_ADDRESS`: `ray://host:10001`, `host:6379` or `auto`).

The distributed path moves *work units* (byte ranges of a JSON-lines file, batches of image URLs, the dataset
build's joins) onto the cluster and keeps the Delta commit in the Dagster step: workers run the project's own
parsers and normalisers inside Daft UDFs, so validation cannot drift between the paths, and the step writes
through `DeltaStore` (one commit, shrink guard; a failure leaves the previous version). Both paths produce the
same rows (tests/foundation/test_distributed_engine.py).

Dagster drives Ray directly: the asset's step process is the Ray driver (`ray.init(address=...)`). Not
`dagster-ray` (not a dependency): its value is creating KubeRay clusters per run and submitting Ray jobs, while
here the cluster is long-lived and the commit must stay in the step; not Pipes either: a Ray job launched
through Pipes would own the commit and need logs, quarantine and metadata bridged back for no gain.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:
    from foundation.storage.delta_tables import Window

RAY_ADDRESS_ENV = "STOREFRONT_RAY_ADDRESS"
# Results a cluster map keeps ahead of its consumer (each can be a 16 MB chunk's rows).
RESULTS_AHEAD_ENV = "STOREFRONT_RAY_RESULTS_AHEAD"

_connected: str | None = None  # Daft's runner is process-wide and set once
_connect_lock = threading.Lock()


class ComputeResource(dg.ConfigurableResource):
    """Where heavy steps run (resource key `compute`): `ray_address` empty runs them in-process; a Ray address
    (`ray://head:10001`, `head:6379` or `auto`) runs their work units on that cluster with Daft."""

    ray_address: str = ""
    results_ahead: int = 4  # work-unit results buffered on the driver (bounds its memory)

    @classmethod
    def from_env(cls) -> ComputeResource:
        """The engine named by `STOREFRONT_RAY_ADDRESS` (unset or empty: in-process)."""
        return cls(
            ray_address=os.environ.get(RAY_ADDRESS_ENV, "").strip(),
            results_ahead=int(os.environ.get(RESULTS_AHEAD_ENV, "4")),
        )

    @property
    def distributed(self) -> bool:
        return bool(self.ray_address)

    def engine(self) -> Engine | None:
        """The cluster engine, or None for in-process (callers keep their local code path)."""
        return Engine(self.ray_address, self.results_ahead) if self.distributed else None

    def describe(self) -> str:
        return f"ray cluster {self.ray_address}" if self.distributed else "in-process"


# The one `compute` resource every heavy asset binds (`@dg.asset(resource_defs=COMPUTE_RESOURCE_DEFS)`): Dagster
# requires one object per key across assets. Bound on the assets rather than in `Definitions`, so a test or
# script materialising a domain's assets needs no extra resource; configured by `STOREFRONT_RAY_ADDRESS` when the
# code location loads, or per run (`resources: {compute: {config: {ray_address: ...}}}`).
DEFAULT_COMPUTE = ComputeResource.from_env()
COMPUTE_RESOURCE_DEFS = {"compute": DEFAULT_COMPUTE}


class Engine:
    """Daft on a Ray cluster, connected on first use (once per process: Daft's runner is global)."""

    def __init__(self, address: str, results_ahead: int = 4) -> None:
        self.address = address
        self.results_ahead = max(1, results_ahead)

    def connect(self) -> None:
        global _connected
        with _connect_lock:
            if _connected == self.address:
                return
            if _connected is not None:
                raise RuntimeError(f"this process already runs Daft on {_connected}, not {self.address}")
            os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")  # no telemetry from workers or driver
            os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
            import daft
            import ray

            if not ray.is_initialized():
                # Worker stdout (Daft's progress bars) is not forwarded into the step's log.
                ray.init(address=self.address, log_to_driver=False, logging_level="WARNING")
            daft.set_runner_ray(address=self.address, noop_if_initialized=True)
            _connected = self.address

    def nodes(self) -> int:
        """Alive nodes of the cluster."""
        self.connect()
        import ray

        return sum(1 for n in ray.nodes() if n.get("Alive"))

    def cpus(self) -> int:
        """CPUs of the cluster (what Ray schedules on)."""
        self.connect()
        import ray

        return int(ray.cluster_resources().get("CPU", 1))

    def read_delta(self, uri: str, window: Window | None = None, columns: Sequence[str] | None = None) -> Any:
        """A Delta table (the current version) as a lazy Daft dataframe read by the workers; `window` filters on
        its partition column (pruned from the Delta log). Local paths and object stores Daft reaches from the
        environment (`AWS_*`)."""
        self.connect()
        import daft

        frame = daft.read_deltalake(uri)
        if window is not None:
            frame = frame.where(_daft_window(window))
        return frame.select(*columns) if columns else frame

    def map_ordered(self, fn: Callable[[Any], Any], units: Sequence[Any], cpus: float = 1.0) -> Iterator[Any]:
        """`fn(unit)` for each unit on the cluster, one Daft partition per unit; results come back in the units'
        order, at most `results_ahead` ahead of the consumer. `fn` and the units travel pickled (cloudpickle), so
        `fn` must be importable on the workers (the project is installed there). A unit's exception fails the
        map here, with the worker's traceback."""
        if not units:
            return iter(())
        self.connect()
        import daft

        apply = daft.func(fn, return_dtype=daft.DataType.python(), cpus=cpus)
        frame = (
            daft.from_pydict({"unit": daft.Series.from_pylist(list(units), pyobj="force")})
            .into_partitions(len(units))
            .select(apply(daft.col("unit")).alias("result"))
        )
        return (row["result"] for row in frame.iter_rows(results_buffer_size=self.results_ahead))


def _daft_window(window: Window) -> Any:
    import daft

    column = daft.col(window.column)
    if window.values:
        return column.is_in(list(window.values))
    return (column >= window.start) & (column <= window.end)
