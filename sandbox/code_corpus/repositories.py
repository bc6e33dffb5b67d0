"""Real local git repositories for the sandbox GitHub, filled with this machine's standard library.

`build_universe(root, seed)` creates bare repositories under `root` and returns their search
metadata (what GitHub's search API would say about them) plus `planted`: how many files of each
drop reason were planted, so tests can compare the corpus filters' counts with the truth.

Two kinds of repositories:
- *content* repositories (created in `CONTENT_MONTHS`): real Python source from the standard
  library, with planted exact and near duplicates, generated files, vendored folders, a huge
  file, a binary file, minified/low-alphanumeric files, plus repositories without an allowed licence;
- *filler* repositories (optional, many, one template copied): enough search results in one month
  (and more than 1,000 on a single day) that a crawler must slice by creation date and by stars.
Everything is deterministic given the seed (fixed commit dates, sorted inputs).
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sysconfig
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

CONTENT_MONTHS = ("2019-01", "2019-02", "2019-03")
FILLER_MONTH = "2018-06"
FILLER_CROWDED_DAY = 15
ALLOWED_SPDX = ("MIT", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause", "ISC")
_SKIP_PARTS = {"test", "tests", "idlelib", "encodings", "site-packages", "pydoc_data", "lib2to3", "turtledemo"}
_GENERATED_HINT = re.compile(r"generated|do not edit", re.IGNORECASE)
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass
class SandboxRepo:
    """One repository as the search API describes it (plus where its git data lives)."""

    database_id: int
    owner: str
    name: str
    url: str
    stargazer_count: int
    license_spdx: str | None
    created_at: datetime
    pushed_at: datetime
    is_fork: bool = False
    is_archived: bool = False
    disk_usage: int = 0
    default_branch: str = "main"
    head_oid: str = ""
    primary_language: str = "Python"

    @property
    def name_with_owner(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def node_id(self) -> str:
        return f"R_kgDO{self.database_id:08d}"

    def crawled_row(self) -> dict[str, Any]:
        """The repository as a `code_github_repositories` row holds it, as far as cloning needs (`snapshot_all`)."""
        return {
            "url": self.url,
            "name_with_owner": self.name_with_owner,
            "created_at": self.created_at,
            "repo_id": self.node_id,
            "default_branch": self.default_branch,
            "license_spdx": self.license_spdx,
        }


@dataclass
class Universe:
    root: Path
    repos: list[SandboxRepo]
    planted: Counter = field(default_factory=Counter)  # drop reason -> planted file count
    planted_repos: Counter = field(default_factory=Counter)  # repo-level drop reason -> count
    kept_files: int = 0

    def by_month(self, month: str) -> list[SandboxRepo]:
        return [r for r in self.repos if r.created_at.strftime("%Y-%m") == month]


# -- standard library material -----------------------------------------------------------------


def stdlib_pool(min_bytes: int = 2_000, max_bytes: int = 40_000) -> list[Path]:
    """Clean, distinct standard library modules (no generated headers, sane line lengths)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    pool, seen = [], set()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if _SKIP_PARTS & set(rel.parts) or not (min_bytes <= path.stat().st_size <= max_bytes):
            continue
        try:
            text = path.read_text("utf-8")
        except UnicodeDecodeError:
            continue
        lines = text.splitlines() or [""]
        if _GENERATED_HINT.search("\n".join(lines[:10])) or not text.isascii():
            continue
        if max(map(len, lines)) > 200 or sum(map(len, lines)) / len(lines) > 60:
            continue
        alnum = sum(c.isalnum() for c in text) / max(len(text), 1)
        key = re.sub(r"\s+", "", text)
        if alnum < 0.4 or key in seen:
            continue
        seen.add(key)
        pool.append(path)
    return pool


def token_jaccard(a: str, b: str, n: int = 5) -> float:
    """Exact Jaccard of token n-gram sets (an independent check on the planted near duplicates)."""

    def grams(text: str) -> set[tuple[str, ...]]:
        toks = _TOKEN.findall(text)
        return {tuple(toks[i : i + n]) for i in range(max(len(toks) - n + 1, 1))}

    sa, sb = grams(a), grams(b)
    return len(sa & sb) / max(len(sa | sb), 1)


def _near_duplicate(text: str, rng: random.Random) -> str:
    """A light edit: a comment on every 30th line and one renamed local identifier."""
    lines = text.splitlines()
    for i in range(0, len(lines), 30):
        lines[i] = lines[i] + "  # reviewed"
    return "\n".join(lines) + f"\n# vendored copy {rng.randrange(10**6)}\n"


def _generated_pb2(name: str) -> str:
    return (
        "# -*- coding: utf-8 -*-\n# Generated by the protocol buffer compiler.  DO NOT EDIT!\n"
        f'# source: {name}.proto\n"""Generated protocol buffer code."""\n'
        "from google.protobuf import descriptor as _descriptor\nfrom google.protobuf import symbol_database\n\n"
        "_sym_db = symbol_database.Default()\n"
        + "".join(
            f"_FIELD_{i} = _descriptor.FieldDescriptor(name='f{i}', index={i}, number={i + 1}, type=9)\n"
            for i in range(40)
        )
    )


def _do_not_edit(body: str) -> str:
    return "# Code generated by tools/gen_tables.py. DO NOT EDIT.\n" + body


def _huge_file() -> str:
    rows = [f"    ({i}, {i * 7 % 1013}, {i * 13 % 2027}, 'k{i:07d}')," for i in range(40_000)]
    return "TABLE = [\n" + "\n".join(rows) + "\n]\n"  # ~1.5 MB of short lines


def _binary_file(rng: random.Random) -> bytes:
    return b"\x00\x01PYC\x00" + bytes(rng.randrange(256) for _ in range(3000))


def _minified(rng: random.Random) -> str:
    body = ";".join(f"v{i}={rng.randrange(10**6)}" for i in range(400))  # one ~4 KB line
    return body + "\n"


def _long_lines(rng: random.Random) -> str:
    return "\n".join(f"X{i} = '{'ab' * 70}'  # {rng.randrange(10**9)}" for i in range(60)) + "\n"  # mean ~160


def _symbols(rng: random.Random) -> str:
    return "\n".join("#" + "=-+*" * 15 for _ in range(80)) + "\nX = 1\n"


# -- git plumbing -------------------------------------------------------------------------------


def _fast_import(git_dir: Path, files: dict[str, bytes], when: datetime, branch: str, message: str) -> str:
    """Create a bare repository with one commit holding `files`; return the commit sha."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", branch, str(git_dir)], check=True)
    subprocess.run(["git", "-C", str(git_dir), "config", "uploadpack.allowFilter", "true"], check=True)
    stamp = f"{int(when.timestamp())} +0000"
    out = bytearray()
    for i, (_path, data) in enumerate(sorted(files.items()), start=1):
        out += f"blob\nmark :{i}\ndata {len(data)}\n".encode() + data + b"\n"
    msg = message.encode()
    out += f"commit refs/heads/{branch}\nmark :{len(files) + 1}\n".encode()
    out += f"author Sandbox <sandbox@example.invalid> {stamp}\ncommitter Sandbox <sandbox@example.invalid> {stamp}\n".encode()
    out += f"data {len(msg)}\n".encode() + msg + b"\n"
    for i, (path, _) in enumerate(sorted(files.items()), start=1):
        out += f"M 100644 :{i} {path}\n".encode()
    subprocess.run(["git", "--git-dir", str(git_dir), "fast-import", "--quiet"], input=bytes(out), check=True)
    head = subprocess.run(["git", "--git-dir", str(git_dir), "rev-parse", branch], check=True, capture_output=True)
    return head.stdout.decode().strip()


# -- the universe -------------------------------------------------------------------------------


def build_universe(root: str | Path, seed: int = 7, content_repos: int = 12, filler_repos: int = 0) -> Universe:
    """Create the repositories under `root` (replacing what is there) and describe them."""
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    rng = random.Random(seed)
    pool = stdlib_pool()
    rng.shuffle(pool)
    universe = Universe(root=root, repos=[])
    stdlib_root = Path(sysconfig.get_paths()["stdlib"])
    next_id = 1000

    def add_repo(
        owner: str, name: str, files: dict[str, bytes], created: datetime, spdx: str | None, stars: int
    ) -> SandboxRepo:
        nonlocal next_id
        next_id += 1
        git_dir = root / owner / f"{name}.git"
        git_dir.parent.mkdir(parents=True, exist_ok=True)
        oid = _fast_import(git_dir, files, created + timedelta(days=3), "main", f"import {name}")
        repo = SandboxRepo(
            database_id=next_id,
            owner=owner,
            name=name,
            url=git_dir.as_uri(),
            stargazer_count=stars,
            license_spdx=spdx,
            created_at=created,
            pushed_at=created + timedelta(days=3),
            disk_usage=sum(len(v) for v in files.values()) // 1024,
            head_oid=oid,
        )
        universe.repos.append(repo)
        return repo

    # Content repositories: ~12 files each from the pool, spread over CONTENT_MONTHS.
    per_repo = 12
    contents: list[dict[str, bytes]] = []
    cursor = 0
    for _ in range(content_repos):
        files = {}
        for path in pool[cursor : cursor + per_repo]:
            files[f"src/{path.relative_to(stdlib_root).as_posix()}"] = path.read_bytes()
        cursor += per_repo
        files["README.md"] = b"# A sandbox project\n"
        files["setup.cfg"] = b"[metadata]\nname = sandbox\n"
        contents.append(files)

    def first_py(files: dict[str, bytes]) -> tuple[str, bytes]:
        return next((p, d) for p, d in sorted(files.items()) if p.endswith(".py"))

    planted = universe.planted
    # Exact duplicates: two byte-identical copies and one with CRLF + trailing whitespace.
    for k, (src, dst) in enumerate([(0, 3), (1, 4), (2, 5)]):
        path, data = first_py(contents[src])
        if k == 2:
            data = b"\r\n".join(line.rstrip() + b"   " for line in data.split(b"\n"))
        contents[dst][f"lib/copied_{k}.py"] = data
        planted["exact_duplicate"] += 1
    # Near duplicates: lightly edited copies (Jaccard of 5-gram shingles well above 0.7).
    for k, (src, dst) in enumerate([(6, 9), (7, 10), (8, 11)]):  # same creation month
        _, data = sorted((p, d) for p, d in contents[src].items() if p.endswith(".py"))[1]
        edited = _near_duplicate(data.decode(), rng)
        assert 0.75 < token_jaccard(data.decode(), edited) < 0.99, "planted near duplicate out of range"
        contents[dst][f"lib/adapted_{k}.py"] = edited.encode()
        planted["near_duplicate"] += 1
    # Generated, vendored, huge, binary, minified, long-line and symbol-soup files.
    contents[2]["proto/catalogue_pb2.py"] = _generated_pb2("catalogue").encode()
    contents[3]["gen/tables.py"] = _do_not_edit(pool[cursor].read_text()).encode()
    planted["generated"] += 2
    for k, folder in enumerate(["vendor/", "third_party/pkg/", "src/_vendor/"]):
        contents[4 + k][f"{folder}helper_{k}.py"] = pool[cursor + 1 + k].read_bytes()
        planted["vendored"] += 1
    contents[5]["data/huge_table.py"] = _huge_file().encode()
    planted["too_large"] += 1
    contents[6]["bin/compiled.py"] = _binary_file(rng)
    planted["binary"] += 1
    contents[7]["web/minified.py"] = _minified(rng).encode()
    planted["max_line_length"] += 1
    contents[8]["cfg/wide.py"] = _long_lines(rng).encode()
    planted["mean_line_length"] += 1
    contents[9]["art/banner.py"] = _symbols(rng).encode()
    planted["alphanum_fraction"] += 1

    licences = [ALLOWED_SPDX[i % len(ALLOWED_SPDX)] for i in range(content_repos)]
    for i, files in enumerate(contents):
        month = CONTENT_MONTHS[i % len(CONTENT_MONTHS)]
        created = datetime.fromisoformat(f"{month}-01T00:00:00+00:00") + timedelta(days=1 + i, hours=i)
        add_repo(f"org{i % 4}", f"project-{i:02d}", files, created, licences[i], 1200 + 97 * i)
    universe.kept_files = sum(sum(p.endswith(".py") for p in files) for files in contents) - sum(planted.values())

    # Repositories the licence filter must skip (never cloned): no licence, copyleft, "other".
    for i, spdx in enumerate([None, "GPL-3.0", "NOASSERTION"]):
        month = CONTENT_MONTHS[i % len(CONTENT_MONTHS)]
        created = datetime.fromisoformat(f"{month}-20T00:00:00+00:00")
        files = {"main.py": pool[cursor + 10 + i].read_bytes()}
        add_repo("closed", f"unlicensed-{i}", files, created, spdx, 1500 + i)
        universe.planted_repos["licence"] += 1

    if filler_repos:
        _add_fillers(universe, filler_repos, rng, next_id)
    return universe


def _add_fillers(universe: Universe, count: int, rng: random.Random, next_id: int) -> None:
    """Many cheap repositories (copies of one template) in FILLER_MONTH, most on one crowded day."""
    template = universe.root / "_template.git"
    when = datetime.fromisoformat(f"{FILLER_MONTH}-01T00:00:00+00:00")
    oid = _fast_import(template, {"app.py": b"print('hello')\n"}, when, "main", "template")
    crowded = min(count, 1_000 + count // 10)  # more than 1,000 on one day when count allows
    for i in range(count):
        next_id += 1
        day = FILLER_CROWDED_DAY if i < crowded else 1 + (i % 28)
        created = when.replace(day=day) + timedelta(seconds=rng.randrange(86_400))
        stars = int(1001 * (60.0 ** rng.random()))  # 1,001 .. ~60,000, log-uniform
        git_dir = universe.root / "fill" / f"repo-{i:05d}.git"
        shutil.copytree(template, git_dir, ignore=shutil.ignore_patterns("hooks", "description", "info"))
        universe.repos.append(
            SandboxRepo(
                database_id=next_id,
                owner="fill",
                name=f"repo-{i:05d}",
                url=git_dir.as_uri(),
                stargazer_count=stars,
                license_spdx="MIT",
                created_at=created,
                pushed_at=created + timedelta(days=1),
                head_oid=oid,
                disk_usage=1,
            )
        )
