"""Make every command use the repo's `dagster.yaml` with persistent storage.

Dagster reads `$DAGSTER_HOME/dagster.yaml` and ignores one at the repo root, and without
DAGSTER_HOME the CLI uses a throw-away instance. So DAGSTER_HOME defaults to the gitignored
`.dagster_home/`, whose `dagster.yaml` is a link to the repo's file.
"""

from __future__ import annotations

import os
from pathlib import Path

from foundation.resources import REPO_ROOT

DEFAULT_HOME = REPO_ROOT / ".dagster_home"


def ensure_dagster_home(home: str | os.PathLike | None = None) -> Path:
    """Create the instance folder (linking the repo's dagster.yaml) and export DAGSTER_HOME."""
    path = Path(home or os.environ.get("DAGSTER_HOME") or DEFAULT_HOME).resolve()
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    source = REPO_ROOT / "dagster.yaml"
    if not config.exists() and not config.is_symlink():
        config.symlink_to(source)
    os.environ["DAGSTER_HOME"] = str(path)
    return path
