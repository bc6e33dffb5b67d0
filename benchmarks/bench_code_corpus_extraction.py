"""Files per second extracting Python files from shallow clones: plain git CLI versus GitPython.

The CLI path runs one `git ls-tree -r -l -z` and one `git cat-file --batch` per repository; the
GitPython path walks `commit.tree.traverse()` and reads `blob.data_stream` (persistent cat-file
processes, closed with the Repo). Same clones, same process, alternating rounds, median of `--repeats`.

    .venv/bin/python benchmarks/bench_code_corpus_extraction.py [--repos 12] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import sysconfig
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


def report(label: str, clones: list[Path], repeats: int) -> None:
    """Rounds alternate between the two paths (the machine's load drifts); the median round counts."""
    paths = {
        "git CLI (ls-tree + cat-file --batch)": extract_with_cli,
        "GitPython (tree.traverse + data_stream)": extract_with_gitpython,
    }
    times: dict[str, list[float]] = {name: [] for name in paths}
    files = dict.fromkeys(paths, 0)
    for _ in range(repeats):
        for name, extract in paths.items():
            started = time.perf_counter()
            files[name] = sum(len(extract(path, 1_000_000).files) for path in clones)
            times[name].append(time.perf_counter() - started)
    results = {name: (files[name], statistics.median(times[name])) for name in paths}
    print(f"-- {label}")
    baseline = results["GitPython (tree.traverse + data_stream)"][1]
    for name, (count, seconds) in results.items():
        print(
            f"{name:42s} {count:5d} files  {seconds:6.3f}s  {count / seconds:8.0f} files/s  "
            f"speed-up vs GitPython x{baseline / seconds:.2f}"
        )


if __name__ == "__main__":
    main()
