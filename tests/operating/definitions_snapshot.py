"""A snapshot of everything the code location defines that users and automation depend on: asset keys and
their groups, dependencies, partitions, backfill policies and automation conditions; checks; jobs and their
selections; sensors; schedules; resource keys. `test_definitions_snapshot.py` compares it with the committed
`definitions_snapshot.json`, so a refactor cannot silently rename or drop a definition.

    python tests/operating/definitions_snapshot.py > tests/operating/definitions_snapshot.json   # after an intended change
"""

from __future__ import annotations

import json
import sys
from typing import Any

import dagster as dg


def _partitions(partitions_def: Any) -> Any:
    if partitions_def is None:
        return None
    if isinstance(partitions_def, dg.DynamicPartitionsDefinition):
        return {"dynamic": partitions_def.name}
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return {"multi": {d.name: _partitions(d.partitions_def) for d in partitions_def.partitions_defs}}
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return {"time": partitions_def.cron_schedule, "start": str(partitions_def.start), "fmt": partitions_def.fmt}
    if isinstance(partitions_def, dg.StaticPartitionsDefinition):
        return {"static": list(partitions_def.get_partition_keys())}
    return {type(partitions_def).__name__: str(partitions_def)}


def snapshot(defs: dg.Definitions) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        policy = node.backfill_policy
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitions": _partitions(node.partitions_def),
            "backfill_policy": str(policy.policy_type) if policy else None,
            "automation_condition": node.automation_condition.get_label() if node.automation_condition else None,
            "kinds": sorted(node.kinds),
            "description": node.description,
        }
    checks = {}
    for checks_def in defs.asset_checks or []:
        for spec in checks_def.check_specs:
            checks[spec.key.to_user_string()] = {"blocking": spec.blocking, "description": spec.description}
    repo = defs.get_repository_def()
    jobs = {}
    for job in repo.get_all_jobs():
        if job.name.startswith("__"):
            continue
        selected = sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys)
        jobs[job.name] = {"assets": selected, "partitions": _partitions(job.partitions_def)}
    sensors = {
        s.name: {
            "jobs": sorted(t.job_name for t in s.targets),
            "default_status": str(s.default_status),
            "minimum_interval_seconds": s.minimum_interval_seconds,
        }
        for s in repo.sensor_defs
    }
    schedules = {
        s.name: {"cron": s.cron_schedule, "job": s.job_name, "default_status": str(s.default_status)}
        for s in repo.schedule_defs
    }
    return {
        "assets": assets,
        "asset_checks": checks,
        "jobs": jobs,
        "sensors": sensors,
        "schedules": schedules,
        "resources": sorted(defs.resources or {}),
    }


if __name__ == "__main__":
    from pipelines.definitions import defs

    json.dump(snapshot(defs), sys.stdout, indent=1, sort_keys=True, default=str)
    sys.stdout.write("\n")
