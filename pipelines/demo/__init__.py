"""The demo: materialise every pipeline on its embedded default data and summarise.

Each `pipelines/demo/<domain>.py` defines `run(ctx: DemoContext) -> None`, which prepares the domain's
default data (sandbox files, local servers) and calls `ctx.materialize(...)` for its assets in order.
The demo is the one production-side place that imports `sandbox` (an import-linter contract says so).
Runs go through the persistent instance named by DAGSTER_HOME, so they show in the UI.
"""

from __future__ import annotations

import importlib
import pkgutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster as dg

from foundation.resources import StorageResource

# The console shows progress lines (INFO), not every engine event; the UI keeps them all.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@dataclass
class SummaryRow:
    asset: str
    partitions: str
    rows: Any
    version: Any
    seconds: float


@dataclass
class DemoContext:
    instance: dg.DagsterInstance
    storage: StorageResource
    rows: list[SummaryRow] = field(default_factory=list)
    cleanup: ExitStack = field(default_factory=ExitStack)  # temp folders, removed when the demo ends

    def scratch(self, *parts: str) -> Path:
        """A local folder for a sandbox's generated source data (store databases, git repositories): under a
        local root, where `make ui` finds it again; in a temp folder removed at the end when the root is an
        object store, which then holds every artifact and local disk only scratch."""
        if not self.storage.remote:
            return self.storage.local_path(*parts)
        return Path(self.cleanup.enter_context(tempfile.TemporaryDirectory(prefix=f"storefront-demo-{parts[-1]}-")))

    @contextmanager
    def landing(self, source: str) -> Iterator[Path]:
        """A local folder to generate a source's files into, landed on exit: the landing folder itself under a
        local root; a temp folder uploaded to `<root>/landing/<source>/` under an object store."""
        if not self.storage.remote:
            yield self.storage.landing_path(source)
            return
        folder = self.storage.landing(source)
        with tempfile.TemporaryDirectory(prefix=f"storefront-demo-{source}-") as staging:
            yield Path(staging)
            for path in sorted(Path(staging).iterdir()):
                if path.is_file():
                    folder.put(path)

    def materialize(
        self,
        selection: str | Sequence[str],
        partitions: Sequence[str] | None = None,
        partition_range: tuple[str, str] | None = None,
        resources: Mapping[str, Any] | None = None,
        run_config: Mapping[str, Any] | None = None,
    ) -> None:
        """Materialise `selection` (asset selection syntax) once, per partition, or as one range run."""
        from pipelines.definitions import defs

        all_assets = [*defs.assets, *defs.asset_checks]
        # Every domain's resources: materialize() validates the whole asset graph it is given.
        merged = {**defs.resources, "storage": self.storage, **(resources or {})}
        tags: dict[str, str] = {"storefront/source": "demo"}
        if partition_range:
            tags |= {
                "dagster/asset_partition_range_start": partition_range[0],
                "dagster/asset_partition_range_end": partition_range[1],
            }
        keys: list[str | None] = list(partitions) if partitions else [None]
        for key in keys:
            started = time.perf_counter()
            result = dg.materialize(
                all_assets,
                selection=selection,
                partition_key=key,
                instance=self.instance,
                resources=merged,
                tags=tags,
                run_config={**QUIET_LOGS, **(run_config or {})},
            )
            seconds = time.perf_counter() - started
            label = key or (f"{partition_range[0]}...{partition_range[1]}" if partition_range else "-")
            # A range run reports one materialisation per partition: keep one row per asset.
            latest: dict[str, dict[str, Any]] = {}
            for event in result.get_asset_materialization_events():
                mat = event.event_specific_data.materialization
                latest[mat.asset_key.to_user_string()] = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
            for asset, meta in latest.items():
                self.rows.append(
                    SummaryRow(
                        asset=asset,
                        partitions=label,
                        rows=meta.get("dagster/row_count", meta.get("rows_written", "")),
                        version=meta.get("table_version", ""),
                        seconds=seconds,
                    )
                )

    def summary(self) -> str:
        header = ("asset", "partitions", "rows", "table version", "run seconds")
        lines = [(r.asset, r.partitions, str(r.rows), str(r.version), f"{r.seconds:.1f}") for r in self.rows]
        widths = [max(len(x) for x in col) for col in zip(header, *lines, strict=True)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        return "\n".join(
            [fmt.format(*header), fmt.format(*("-" * w for w in widths)), *(fmt.format(*r) for r in lines)]
        )


def domain_demos() -> dict[str, ModuleType]:
    """`pipelines/demo/<domain>.py` modules by domain name, in name order."""
    infos = sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
    return {i.name: importlib.import_module(f"pipelines.demo.{i.name}") for i in infos if not i.name.startswith("_")}


def run_demo(only: Sequence[str] = ()) -> DemoContext:
    from pipelines.definitions import shared_resources

    instance = dg.DagsterInstance.get()
    ctx = DemoContext(instance=instance, storage=shared_resources()["storage"])  # type: ignore[arg-type]
    unknown = sorted(set(only) - set(domain_demos()))
    if unknown:
        raise SystemExit(f"unknown domain(s) {unknown}; known: {sorted(domain_demos())}")
    with ctx.cleanup:
        for domain, module in domain_demos().items():
            if only and domain not in only:
                continue
            print(f"== {domain}", flush=True)
            module.run(ctx)
    return ctx
