"""Clone repositories and extract their Python files into corpus rows.

Clones are shallow, single-branch and bare (`--depth 1 --single-branch --bare`; an optional
partial-clone filter such as `blob:limit=1m` where the server supports it), run through GitPython
with a kill timeout and no credential prompts. Two extraction paths read the tip commit:
- `extract_with_cli`: one `git ls-tree -r -l` and one `git cat-file --batch` process per repository;
- `extract_with_gitpython`: GitPython's tree traversal and blob streams (persistent `git cat-file`
  processes, which leak unless the `Repo` is closed: it is used as a context manager).
`benchmarks/bench_code_corpus_extraction.py` measures both: on the shared 2-core machine GitPython was faster in
3 of 4 runs (x1.2 to x1.5 on small repositories, x1.1 to x1.2 on a standard-library-sized one), so it is
the default; the CLI path stays as an alternative (and as the benchmark's reference).
Both paths refuse a repository whose tip tree holds an entry git itself would refuse (`..`, `.`, empty or
absolute names, `.git` and its NTFS/HFS aliases) the same way: `UnsafeTree`, reported as `unsafe_tree` for the
whole repository (GitPython rejects such a tree whole, so the CLI path does too, with GitPython's own check).
Only validated clone URLs are cloned (`check_clone_url`), and git is told to speak only that URL's protocol
(`GIT_ALLOW_PROTOCOL`), so no redirect or configuration can make it read local files.
Then `select_files` applies the quality filters and de-duplication of `filters`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
from git.util import _validate_repo_path

from foundation.progress import Progress
from foundation.retries import retrying
from scrapers.code_corpus.filters import FilterThresholds, NearDuplicateIndex, content_hash, drop_reason, text_stats
from scrapers.code_corpus.github import GITHUB_WEB, RepositoryParseError, check_clone_url

CLONE_ERRORS = (git.GitCommandError, subprocess.SubprocessError, OSError, ValueError)
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "GIT_LFS_SKIP_SMUDGE": "1"}


@dataclass
class BlobFile:
    path: str
    blob_sha: str
    size: int
    data: bytes | None  # None when larger than the read limit


@dataclass
class Snapshot:
    """The Python files at the tip of one repository's default branch."""

    commit: str
    files: list[BlobFile]
    other_files: int = 0  # non-Python blobs seen and ignored


class UnsafeTree(Exception):
    """The tip tree holds an entry no checkout may use; the repository is refused whole (not retried)."""

    def __init__(self) -> None:
        super().__init__("unsafe_tree: a tree entry git refuses (.., ., empty or absolute name, .git or an alias)")


def _check_entry(path: str, mode: int | None = None) -> None:
    # GitPython's own validation of tree entry names (private, but it is what its traversal enforces), so the
    # two extractors refuse exactly the same entries.
    try:
        _validate_repo_path(path, mode)
    except ValueError:
        raise UnsafeTree() from None


def clone(
    url: str,
    dest: Path,
    timeout: float = 300.0,
    branch: str | None = None,
    blob_filter: str | None = None,
    protocols: str = "https:http",
) -> Path:
    """Shallow, single-branch, bare clone of `url` into `dest` (killed after `timeout` seconds); git may only use
    `protocols` (colon-separated, `GIT_ALLOW_PROTOCOL`), never file:// or ext:: unless a caller asks for it."""
    args = ["--depth=1", "--single-branch", "--bare", "--quiet"]
    if branch:
        args.append(f"--branch={branch}")
    if blob_filter:
        args.append(f"--filter={blob_filter}")
    env = {**os.environ, **_GIT_ENV, "GIT_ALLOW_PROTOCOL": protocols}
    git.Git().clone(*args, "--", url, str(dest), kill_after_timeout=timeout, env=env)
    return dest


def _run_git(git_dir: Path, *args: str, data: bytes | None = None, timeout: float = 300.0) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), *args],
        input=data,
        capture_output=True,
        check=True,
        timeout=timeout,
        env={**os.environ, **_GIT_ENV},
    ).stdout


def extract_with_cli(git_dir: Path, max_bytes: int, suffix: str = ".py") -> Snapshot:
    """`ls-tree -r -l -z HEAD` for paths and sizes, then one `cat-file --batch` for the wanted blobs."""
    wanted: list[tuple[str, str, int]] = []
    other = 0
    for entry in _run_git(git_dir, "ls-tree", "-r", "-l", "-z", "HEAD").split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, sha, size = meta.split()
        path = raw_path.decode("utf-8", "surrogateescape")
        _check_entry(path, int(mode, 8))
        if kind != b"blob" or mode == b"120000" or not path.endswith(suffix):
            other += 1
            continue
        wanted.append((path, sha.decode(), int(size)))
    # "HEAD" rides along in the same batch: its header line names the commit (no rev-parse process).
    blobs = _cat_file_batch(git_dir, ["HEAD", *(sha for _, sha, size in wanted if size <= max_bytes)])
    commit = blobs.pop("HEAD")[1]
    files = [BlobFile(path, sha, size, blobs.get(sha)) for path, sha, size in wanted]
    return Snapshot(commit=commit, files=files, other_files=other)


def _cat_file_batch(git_dir: Path, names: Iterable[str]) -> dict[str, Any]:
    """{name: content} for blobs asked by sha; {name: (content, sha)} for other names (e.g. HEAD)."""
    unique = list(dict.fromkeys(names))
    out = _run_git(git_dir, "cat-file", "--batch", "--buffer", data=("\n".join(unique) + "\n").encode())
    objects: dict[str, Any] = {}
    pos = 0
    for name in unique:
        end = out.index(b"\n", pos)
        sha, _kind, size = out[pos:end].decode().split()
        start = end + 1
        content = out[start : start + int(size)]
        objects[name] = content if name == sha else (content, sha)
        pos = start + int(size) + 1
    return objects


def extract_with_gitpython(git_dir: Path, max_bytes: int, suffix: str = ".py") -> Snapshot:
    """The same via GitPython objects; the `with` block closes the Repo and its cat-file processes."""
    files, other = [], 0
    with git.Repo(git_dir) as repo:
        commit = repo.head.commit
        for item in _traverse(commit.tree):
            if item.type != "blob":
                continue
            if item.mode == 0o120000 or not item.path.endswith(suffix):
                other += 1
                continue
            size = item.size
            data = item.data_stream.read() if size <= max_bytes else None
            files.append(BlobFile(item.path, item.hexsha, size, data))
        sha = commit.hexsha
    return Snapshot(commit=sha, files=files, other_files=other)


def _traverse(tree: git.Tree) -> Iterator[Any]:
    """`tree.traverse()`, with GitPython's refusal of an unsafe entry raised as `UnsafeTree`."""
    items = tree.traverse()
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except ValueError:  # GitPython's tree parsing refuses the entry (its messages vary by kind)
            raise UnsafeTree() from None
        yield item


EXTRACTORS: dict[str, Callable[[Path, int], Snapshot]] = {"cli": extract_with_cli, "gitpython": extract_with_gitpython}


def snapshot_repository(
    url: str,
    workdir: Path,
    max_bytes: int,
    method: str = "gitpython",
    timeout: float = 300.0,
    branch: str | None = None,
    blob_filter: str | None = None,
    base: str = GITHUB_WEB,
) -> Snapshot:
    """Check the URL against `base`, clone into a fresh folder under `workdir`, extract, remove the clone."""
    url = check_clone_url(url, base)
    dest = Path(tempfile.mkdtemp(prefix="clone-", dir=workdir))
    try:
        protocols = url.split(":", 1)[0].lower()
        clone(url, dest / "repo.git", timeout=timeout, branch=branch, blob_filter=blob_filter, protocols=protocols)
        return EXTRACTORS[method](dest / "repo.git", max_bytes)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


# -- from repositories to corpus rows ------------------------------------------------------------------


@dataclass
class Selection:
    kept: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[tuple[str, str, bytes]] = field(default_factory=list)  # (location, reason, raw)
    failed_repos: list[tuple[str, str]] = field(default_factory=list)  # (repo, error): clone failed
    refused_repos: list[tuple[str, str]] = field(default_factory=list)  # (repo, reason): URL or tree refused
    reasons: Counter = field(default_factory=Counter)
    files_seen: int = 0
    other_files: int = 0


def snapshot_all(
    repos: list[dict[str, Any]],
    workdir: Path,
    max_bytes: int,
    method: str = "gitpython",
    timeout: float = 300.0,
    workers: int = 4,
    blob_filter: str | None = None,
    clone_attempts: int = 2,
    progress: Progress | None = None,
    base: str = GITHUB_WEB,
) -> list[tuple[dict[str, Any], Snapshot | Exception]]:
    """Snapshots of every repository (clone failures and refused URLs are returned, not raised), in input order;
    only URLs under `base` (`github.check_clone_url`) are cloned."""

    def one(repo: dict[str, Any]) -> Snapshot | Exception:
        result = attempt_snapshot(repo)
        if progress is not None:
            progress.advance()
        return result

    def attempt_snapshot(repo: dict[str, Any]) -> Snapshot | Exception:
        # A dropped connection deserves another try; what still fails is reported, not raised.
        try:
            check_clone_url(repo["url"], base)
        except RepositoryParseError as exc:
            return exc  # never retried: the URL will not get safer
        try:
            return retrying(CLONE_ERRORS, attempts=clone_attempts, first_wait=0.5)(
                snapshot_repository,
                repo["url"],
                workdir,
                max_bytes,
                method,
                timeout,
                repo.get("default_branch"),
                blob_filter,
                base,
            )
        except (UnsafeTree, *CLONE_ERRORS) as exc:  # an unsafe tree is not retried: it is not in CLONE_ERRORS
            return exc

    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        return list(zip(repos, pool.map(one, repos), strict=True))


def select_files(
    snapshots: list[tuple[dict[str, Any], Snapshot | Exception]],
    thresholds: FilterThresholds | None = None,
    known_hashes: set[str] | frozenset[str] = frozenset(),
    near_threshold: float = 0.7,
) -> Selection:
    """Filter and de-duplicate; repositories are taken in (created_at, name) order, files by path.

    `known_hashes` are content hashes already kept elsewhere (other partitions): exact duplicates of them go too.
    """
    thresholds = thresholds or FilterThresholds()
    out = Selection()
    seen_hashes = set(known_hashes)
    index = NearDuplicateIndex(threshold=near_threshold)
    for repo, snap in sorted(snapshots, key=lambda rs: (rs[0]["created_at"], rs[0]["name_with_owner"])):
        name = repo["name_with_owner"]
        if isinstance(snap, RepositoryParseError | UnsafeTree):
            out.refused_repos.append((name, str(snap)[:500]))
            continue
        if isinstance(snap, Exception):
            out.failed_repos.append((name, f"{type(snap).__name__}: {snap}"[:500]))
            continue
        out.other_files += snap.other_files
        for f in sorted(snap.files, key=lambda f: f.path):
            out.files_seen += 1
            location = f"{name}:{f.path}"
            reason = drop_reason(f.path, f.size, f.data, thresholds)
            digest = content_hash(f.data) if reason is None and f.data is not None else ""
            if reason is None and digest in seen_hashes:
                reason = "exact_duplicate"
            text = f.data.decode("utf-8") if reason is None and f.data is not None else ""
            if reason is None:
                sig = index.signature_of(text)
                if (match := index.match(sig)) is not None:
                    reason = f"near_duplicate: of {match[0]} (jaccard~{match[1]:.2f})"
            if reason is not None:
                out.reasons[reason.split(":", 1)[0]] += 1
                out.dropped.append((location, reason, f.data or b""))
                continue
            seen_hashes.add(digest)
            index.add(location, sig)
            stats = text_stats(text)
            out.kept.append(
                {
                    "repo_id": repo["repo_id"],
                    "name_with_owner": name,
                    "license_spdx": repo.get("license_spdx"),
                    "commit": snap.commit,
                    "path": f.path,
                    "blob_sha": f.blob_sha,
                    "size_bytes": f.size,
                    "content_hash": digest,
                    "content": text,
                    "lines": stats.lines,
                    "max_line_length": stats.max_line_length,
                    "mean_line_length": stats.mean_line_length,
                    "alphanum_fraction": stats.alphanum_fraction,
                }
            )
    return out


def git_children(pid: int | None = None) -> list[int]:
    """Live `git` processes whose parent is `pid` (default: this process); for leak checks."""
    pid = os.getpid() if pid is None else pid
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if name.startswith("git") and int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found
