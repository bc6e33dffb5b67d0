"""Files per second extracting Python files from shallow clones: GitPython (the pipeline's default) versus
the plain git CLI and `git archive`.

The GitPython path walks `commit.tree.traverse()` and reads `blob.data_stream` (persistent cat-file
processes, closed with the Repo); the CLI path runs one `git ls-tree -r -l -z` and one `git cat-file --batch`
per repository; the peer a user would write first is `git archive HEAD -- '*.py'` read with `tarfile` (no
size cap before reading, no unsafe-tree check). Same clones, same process, alternating rounds, median of
`--repeats`; printed with GitPython's speed ratio to each.

    .venv/bin/python benchmarks/bench_code_corpus_extraction.py [--repos 12] [--repeats 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.code_corpus.repositories import _fast_import, build_universe  # noqa: E402
from scrapers.code_corpus.git_extraction import clone, extract_with_cli, extract_with_gitpython, git_children  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repos", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        universe = build_universe(Path(tmp) / "repos", content_repos=args.repos)
        started = time.perf_counter()
        # Local sandbox repositories: file:// is allowed explicitly here (the pipeline only clones checked URLs).
        clones = [clone(r.url, Path(tmp) / "clones" / f"{r.database_id}.git", protocols="file") for r in universe.repos]
        clone_seconds = time.perf_counter() - started
        # One large repository too: every .py file of the standard library (real projects are this size).
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        files = {
            p.relative_to(stdlib).as_posix(): p.read_bytes()
            for p in sorted(stdlib.rglob("*.py"))
            if "site-packages" not in p.parts
        }
        big = _fast_import(Path(tmp) / "stdlib.git", files, datetime.now(UTC), "main", "stdlib")
        assert big
        print(f"{len(clones)} small shallow clones in {clone_seconds:.2f}s ({len(clones) / clone_seconds:.1f} repos/s)")
        for label, paths in [
            (f"{len(clones)} small repositories", clones),
            ("1 stdlib-sized repository", [Path(tmp) / "stdlib.git"]),
        ]:
            report(label, paths, args.repeats)
        assert not git_children(), "a git process outlived its extraction"


def git_archive_files(git_dir: Path, max_bytes: int) -> list[tuple[str, bytes]]:
    """The peer: every .py file of HEAD through `git archive` and `tarfile`."""
    tar_bytes = subprocess.run(
        ["git", "--git-dir", str(git_dir), "archive", "--format=tar", "HEAD", "--", "*.py"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar if m.isfile() and m.size <= max_bytes]


OURS = "GitPython (tree.traverse + data_stream)"
PATHS = {
    OURS: lambda path: len(extract_with_gitpython(path, 1_000_000).files),
    "git CLI (ls-tree + cat-file --batch)": lambda path: len(extract_with_cli(path, 1_000_000).files),
    "git archive | tarfile (peer)": lambda path: len(git_archive_files(path, 1_000_000)),
}


def report(label: str, clones: list[Path], repeats: int) -> None:
    """Rounds alternate between the paths (the machine's load drifts); the median round counts."""
    times: dict[str, list[float]] = {name: [] for name in PATHS}
    files = dict.fromkeys(PATHS, 0)
    for _ in range(repeats):
        for name, count in PATHS.items():
            started = time.perf_counter()
            files[name] = sum(count(path) for path in clones)
            times[name].append(time.perf_counter() - started)
    results = {name: (files[name], statistics.median(times[name])) for name in PATHS}
    print(f"-- {label}")
    ours = results[OURS][1]
    for name, (count, seconds) in results.items():
        print(
            f"{name:42s} {count:5d} files  {seconds:6.3f}s  {count / seconds:8.0f} files/s  "
            f"GitPython x{seconds / ours:.2f}  [{min(times[name]):.3f} - {max(times[name]):.3f}s]"
        )


if __name__ == "__main__":
    main()
