"""A throwaway PostgreSQL cluster on 127.0.0.1 from Debian's server binaries (`make setup` installs them).

Used by the `postgres_cluster` fixture (tests/conftest.py) and by module-scoped fixtures that share one cluster
across a module's tests. The cluster listens on a free TCP port with scram-sha-256 password authentication, like a
production server, and is removed with its data when the context ends.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote

import sqlalchemy as sa

from tests.ports import free_port

SUPERUSER = "storefront"
PASSWORD = "sandbox-only-password"


def postgres_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: on the PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


@dataclass(frozen=True)
class PostgresCluster:
    host: str
    port: int
    user: str
    password: str

    @property
    def url_template(self) -> str:
        """A SQLAlchemy URL with `{password}` and `{db}` left to fill, the shape the retail store URLs have."""
        return f"postgresql+psycopg://{self.user}:{{password}}@{self.host}:{self.port}/{{db}}"

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}:{quote(self.password, safe='')}@{self.host}:{self.port}/{db}"

    def with_password(self, password: str) -> PostgresCluster:
        """Change the superuser's password; the cluster as reached with the new one."""
        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        literal = password.replace("'", "''").replace("%", "%%")  # ALTER ROLE takes no bind parameters
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"ALTER ROLE {self.user} PASSWORD '{literal}'")
        finally:
            admin.dispose()
        return replace(self, password=password)

    def create_database(self, name: str) -> None:
        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()


@contextmanager
def throwaway_cluster(missing: Callable[[str], NoReturn]) -> Iterator[PostgresCluster]:
    """Start a fresh cluster (superuser `storefront`, password PASSWORD) and remove it afterwards.

    `missing(reason)` is called when the server cannot run here (tests/conftest.py `prerequisite_missing`:
    a skip locally, a failure under CI=true)."""
    bindir = postgres_bin()
    if bindir is None:
        missing("PostgreSQL server binaries not installed (Debian package postgresql; `make setup` installs it)")
    # PostgreSQL refuses to run as root: as root, the cluster belongs to Debian's `postgres` system user.
    as_root = os.geteuid() == 0
    user = "postgres" if as_root else None
    if as_root:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing("running as root without a postgres system user to own the cluster")
    base = Path(tempfile.mkdtemp(prefix="storefront-pg-"))
    data, sockets, pwfile = base / "data", base / "sock", base / "pw"
    sockets.mkdir()
    pwfile.write_text(PASSWORD)
    if as_root:
        for path in (base, sockets, pwfile):
            shutil.chown(path, "postgres")
    port = free_port()
    run = {"user": user, "check": True, "capture_output": True, "timeout": 120}
    auth = ["-U", SUPERUSER, f"--pwfile={pwfile}", "--auth=scram-sha-256"]
    initdb = [bindir / "initdb", "-D", data, *auth, "-E", "UTF8"]
    # fsync off: a throwaway test cluster needs no durability, and fsyncs are slow on a busy shared disk.
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    try:
        subprocess.run(initdb, **run)
        subprocess.run([bindir / "pg_ctl", "-D", data, "-l", base / "log", "-w", "start", "-o", options], **run)
    except (subprocess.CalledProcessError, OSError) as error:
        shutil.rmtree(base, ignore_errors=True)
        missing(f"could not start PostgreSQL: {getattr(error, 'stderr', error)!r}")
    try:
        yield PostgresCluster(host="127.0.0.1", port=port, user=SUPERUSER, password=PASSWORD)
    finally:
        subprocess.run(
            [bindir / "pg_ctl", "-D", data, "-m", "fast", "stop"], user=user, capture_output=True, timeout=60
        )
        shutil.rmtree(base, ignore_errors=True)
