"""The production topology on 127.0.0.1: PostgreSQL instance storage (deploy/dagster.yaml) and the code server,
webserver and daemon as separate processes (deploy/workspace.yaml), as docs/deploy.md describes.

One PostgreSQL server and one set of services serve the whole module. Through them: a run launched from the
webserver's GraphQL API (what the UI's Materialize button sends), a run the daemon's Amazon landing sensor launches
for a dropped file, and a two-week dunnhumby asset backfill (the operator's manual path: landing sensor stopped
from the CLI first). Runs, event logs, schedule and sensor state, sensor cursors, backfills and pool limits are
then read back from PostgreSQL, and the database password must appear in no log and no stored event.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa
import yaml
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

from foundation.resources import REPO_ROOT
from sandbox.amazon import AmazonSandboxSpec, generate
from sandbox.dunnhumby import DunnhumbySandbox, write_calendar
from tests.operating.conftest import BIN, _start, _stop, free_port, wait_for
from tests.postgres_cluster import PostgresCluster

DEPLOY = REPO_ROOT / "deploy"
LOCATION = "storefront"  # deploy/workspace.yaml
UI_ASSET = "dunnhumby_shop_calendar"  # unpartitioned and cheap: reads the landed calendar file
BACKFILL_WEEKS = ["200607", "200608"]
BACKFILL_ASSETS = ["dunnhumby_transactions", "dunnhumby_baskets"]  # scores skip without a trained model
AMAZON_CATEGORY = "Toys"
SCHEDULE = "dunnhumby_weekly_retraining_schedule"  # stopped by default; started here through the webserver
WAIT_S = 420  # bounds a failure only; on a machine shared by many jobs runs start minutes late
# Every URL-significant character: dagster-postgres must escape it in the connection URL of every process.
PG_PASSWORD = "Can@ary/x:%#?&= dagster"


@dataclass
class Topology:
    home: Path
    root: Path
    logs: Path
    url: str
    env: dict[str, str]
    cluster: PostgresCluster
    database: str

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def graphql(self, query: str, **variables: object) -> dict:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=60)
        assert response.status_code == 200, f"{response.status_code}: {response.text[-4000:]}"
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def dagster(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [str(BIN / "dagster"), *args], cwd=REPO_ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

    def tail(self, name: str, chars: int = 4000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def finished(proc: subprocess.Popen, what: str) -> None:
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, f"{what} failed:\n{out.decode(errors='replace')[-4000:]}"


@pytest.fixture(scope="module")
def topology(module_postgres_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    database = "dagster"
    module_postgres_cluster.create_database(database)
    cluster = module_postgres_cluster.with_password(PG_PASSWORD)
    base = tmp_path_factory.mktemp("topology")
    home, root, logs = base / "dagster_home", base / "data", base / "logs"
    for folder in (home, root, logs):
        folder.mkdir()
    (home / "dagster.yaml").symlink_to(DEPLOY / "dagster.yaml")  # the repo's production instance, unedited
    code_port, web_port = free_port(), free_port()
    config = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": cluster.host,
        "DAGSTER_PG_PORT": str(cluster.port),
        "DAGSTER_PG_USER": cluster.user,
        "DAGSTER_PG_PASSWORD": cluster.password,
        "DAGSTER_PG_DB": database,
        "STOREFRONT_CODE_SERVER_HOST": "127.0.0.1",
        "STOREFRONT_CODE_SERVER_PORT": str(code_port),
        "STOREFRONT_ROOT": str(root),
        # One process per run instead of one per step: halves the Python start-ups on a 2-core machine.
        "STOREFRONT_EXECUTOR": "in_process",
        # The code server answers StartRun only once the run process has imported the code location; on a machine
        # shared by many jobs that passed Dagster's 60 s gRPC deadline and the run failed (docs/deploy.md).
        "DAGSTER_GRPC_TIMEOUT_SECONDS": "300",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    env = {**os.environ, **config}
    topo = Topology(home, root, logs, f"http://127.0.0.1:{web_port}", env, cluster, database)

    # The landed data, before the daemon's first tick: a calendar for the UI run, two weeks to backfill by hand,
    # one Amazon reviews file for the landing sensor.
    landing = root / "landing"
    write_calendar(landing / "dunnhumby")
    DunnhumbySandbox(seed=5, n_customers=30, n_products=60).write_weeks(landing / "dunnhumby", BACKFILL_WEEKS)
    amazon = generate(landing / "amazon", AmazonSandboxSpec(category=AMAZON_CATEGORY, n_users=120, n_items=60))
    amazon.meta_path.unlink()  # one file, one sensor run

    with pytest.MonkeyPatch.context() as patch:
        for key, value in config.items():
            patch.setenv(key, value)
        # Create the schema once here (the services migrating at once would race); register the weeks the way
        # an operator does before a manual backfill.
        with topo.instance() as instance:
            instance.add_dynamic_partitions("dunnhumby_shop_weeks", BACKFILL_WEEKS)
        processes: list[subprocess.Popen] = []
        try:
            # `make pools` against PostgreSQL, while the code server loads (one pool: each CLI start costs seconds).
            pool = topo.dagster("instance", "concurrency", "set", "browser", "1")
            code = [str(BIN / "dagster"), "code-server", "start", "-m", "pipelines.definitions"]
            code += ["-h", "127.0.0.1", "-p", str(code_port), "--location-name", LOCATION]
            processes.append(_start(code, env, logs / "code-server.log"))
            finished(pool, "dagster instance concurrency set")

            def code_server_listening() -> bool:
                # The proxy binds its port only once its child has loaded the definitions.
                assert processes[0].poll() is None, f"code server exited:\n{topo.tail('code-server')}"
                with socket.socket() as probe:
                    return probe.connect_ex(("127.0.0.1", code_port)) == 0

            wait_for(code_server_listening, WAIT_S, "the code server", every=0.5)
            # The operator's manual-backfill path (README "Operating"): stop the landing sensor first, or it launches
            # its own run per landed week.
            workspace = ["-w", str(DEPLOY / "workspace.yaml")]
            stop = topo.dagster("sensor", "stop", "dunnhumby_landing_sensor", *workspace)
            web = [str(BIN / "dagster-webserver"), *workspace, "-h", "127.0.0.1", "-p", str(web_port)]
            processes.append(_start(web, env, logs / "webserver.log"))
            finished(stop, "dagster sensor stop")
            processes.append(_start([str(BIN / "dagster-daemon"), "run", *workspace], env, logs / "daemon.log"))

            def web_ready() -> bool:
                assert processes[1].poll() is None, f"webserver exited:\n{topo.tail('webserver')}"
                try:
                    return httpx.get(f"{topo.url}/server_info", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(web_ready, WAIT_S, "the Dagster webserver")
            yield topo
        finally:
            # Daemon, webserver, then the code server that owns the runs. The webserver and code server wait for open
            # connections and RPCs after SIGTERM (the code server up to 60 s); every run has finished by now, so each
            # gets 5 s before its process group is killed.
            for proc in reversed(processes):
                _stop(proc, grace_s=5)
            artifacts = REPO_ROOT / "tests" / "artifacts" / "operating" / "production"
            artifacts.mkdir(parents=True, exist_ok=True)
            for log in logs.glob("*.log"):
                shutil.copy(log, artifacts / log.name)


def test_production_instance_is_the_default_one_plus_postgres_storage() -> None:
    """deploy/dagster.yaml keeps the run queue, pools, monitoring, retries, retention and sensor settings of the
    embedded dagster.yaml; it only adds PostgreSQL storage, whose every field comes from the environment."""
    default = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    production = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    storage = production.pop("storage")
    assert production == default
    fields = dict(storage["postgres"]["postgres_db"])
    assert fields.pop("scheme") == "postgresql+psycopg2"  # see the comment in deploy/dagster.yaml
    assert all(set(value) == {"env"} for value in fields.values()), fields
    assert fields["password"] == {"env": "DAGSTER_PG_PASSWORD"}


LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""

LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""

START_SCHEDULE = """
mutation Start($selector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $selector) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
  }
}"""

LOCATION_STATUS = """
query { workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def instigator(instance: dg.DagsterInstance, name: str, kind: InstigatorType):
    states = [s for s in instance.all_instigator_state(instigator_type=kind) if s.name == name]
    return states[0] if states else None


@pytest.mark.slow
def test_runs_sensors_schedules_and_a_backfill_through_split_services_on_postgres(topology: Topology) -> None:
    topo = topology
    repository = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}

    def location_loaded() -> bool:
        entries = topo.graphql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
        entry = next(e for e in entries if e["name"] == LOCATION)
        assert entry["locationOrLoadError"]["__typename"] != "PythonError", entry
        return entry["loadStatus"] == "LOADED" and entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"

    wait_for(location_loaded, WAIT_S, "the webserver to load the gRPC code location", every=2)

    # 1. What the UI's Materialize button sends: the webserver submits to the queue in PostgreSQL, the daemon
    #    dequeues it and the code server launches the run process.
    selector = {**repository, "jobName": "__ASSET_JOB", "assetSelection": [{"path": [UI_ASSET]}]}
    launched = topo.graphql(LAUNCH_RUN, params={"selector": selector, "mode": "default", "runConfigData": {}})
    assert launched["launchRun"]["__typename"] == "LaunchRunSuccess", launched
    ui_run_id = launched["launchRun"]["run"]["runId"]

    # 2. A two-week asset backfill from the webserver; the daemon's backfill loop turns it into runs.
    params = {
        "partitionNames": BACKFILL_WEEKS,
        "assetSelection": [{"path": [key]} for key in BACKFILL_ASSETS],
        "fromFailure": False,
    }
    backfill = topo.graphql(LAUNCH_BACKFILL, params=params)["launchPartitionBackfill"]
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill
    backfill_id = backfill["backfillId"]

    # 3. A schedule switched on from the webserver: its state lives in PostgreSQL, ticked by the daemon.
    started = topo.graphql(START_SCHEDULE, selector={**repository, "scheduleName": SCHEDULE})["startSchedule"]
    assert started["__typename"] == "ScheduleStateResult", started

    with topo.instance() as instance:
        # 4. The Amazon landing sensor (ticked by the daemon) launches one run for the dropped file.
        def sensor_runs() -> list[dg.DagsterRun]:
            return [r for r in instance.get_runs() if "amazon/landing_file" in r.tags]

        def all_finished() -> bool:
            runs = instance.get_runs()
            done = instance.get_backfill(backfill_id)
            return (
                len(sensor_runs()) == 1
                and any(r.run_id == ui_run_id for r in runs)
                and all(r.is_finished for r in runs)
                and done.status not in (BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING)
            )

        try:
            wait_for(all_finished, WAIT_S, "the UI run, the sensor run and the backfill", every=2)
        except TimeoutError:
            raise AssertionError(f"{topo.tail('daemon')}\n{topo.tail('code-server')}") from None

        runs = instance.get_runs()
        failed = [(r.job_name, r.run_id, r.status) for r in runs if r.status != dg.DagsterRunStatus.SUCCESS]
        assert not failed, f"{failed}\n{topo.tail('daemon')}\n{topo.tail('code-server')}"

        # Runs and event logs in PostgreSQL.
        assert instance.get_run_by_id(ui_run_id).asset_selection == {dg.AssetKey(UI_ASSET)}
        assert instance.get_latest_materialization_event(dg.AssetKey(UI_ASSET)) is not None
        (sensor_run,) = sensor_runs()
        assert sensor_run.tags["dagster/partition"] == AMAZON_CATEGORY
        assert sensor_run.tags["dagster/sensor_name"] == "amazon_landing_sensor"
        assert instance.get_materialized_partitions(dg.AssetKey("amazon_reviews")) == {AMAZON_CATEGORY}
        backfill_done = instance.get_backfill(backfill_id)
        assert backfill_done.status == BulkActionStatus.COMPLETED_SUCCESS, topo.tail("daemon")
        for key in BACKFILL_ASSETS:
            assert instance.get_materialized_partitions(dg.AssetKey(key)) == set(BACKFILL_WEEKS), key
        backfill_runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        assert backfill_runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in backfill_runs)

        # Sensor state, cursor and ticks; schedule state; daemon heartbeats and pool limits: all in PostgreSQL.
        amazon_sensor = instigator(instance, "amazon_landing_sensor", InstigatorType.SENSOR)
        assert AMAZON_CATEGORY in amazon_sensor.instigator_data.cursor  # file name -> fingerprint
        ticks = instance.get_ticks(amazon_sensor.instigator_origin_id, amazon_sensor.selector_id)
        assert any(sensor_run.run_id in t.run_ids for t in ticks)
        stopped = instigator(instance, "dunnhumby_landing_sensor", InstigatorType.SENSOR)
        assert stopped.status == InstigatorStatus.STOPPED
        assert not [r for r in runs if "dunnhumby/source_file" in r.tags]
        schedule = instigator(instance, SCHEDULE, InstigatorType.SCHEDULE)
        assert schedule.status == InstigatorStatus.RUNNING
        assert {"SENSOR", "SCHEDULER", "BACKFILL", "QUEUED_RUN_COORDINATOR"} <= set(instance.get_daemon_heartbeats())
        assert instance.event_log_storage.get_concurrency_info("browser").slot_count == 1

    # They really are in PostgreSQL (not a SQLite file under DAGSTER_HOME), and the password is nowhere.
    assert not list(topo.home.rglob("*.db"))
    engine = sa.create_engine(topo.cluster.url(topo.database))
    try:
        with engine.connect() as conn:
            stored_runs = set(conn.execute(sa.text("SELECT run_id FROM runs")).scalars())
            events = conn.execute(sa.text("SELECT count(*) FROM event_logs")).scalar()
            leaked = conn.execute(
                sa.text("SELECT count(*) FROM event_logs WHERE event LIKE :p"), {"p": f"%{topo.cluster.password}%"}
            ).scalar()
    finally:
        engine.dispose()
    assert {r.run_id for r in runs} <= stored_runs and events > 0
    assert leaked == 0
    for log in [*topo.logs.glob("*.log"), *(p for p in topo.home.rglob("*") if p.is_file())]:  # + compute logs
        assert topo.cluster.password not in log.read_text(errors="replace"), log
