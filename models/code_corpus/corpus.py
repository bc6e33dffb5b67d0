"""From kept source files to next-character training examples, split by repository.

Whole repositories go to one split (ordered by a hash of the repository id, so the assignment
does not depend on crawl order), which keeps near-identical files of one project from leaking
between training and test. Each split is the concatenation of its files, each followed by
<eof>, cut into windows of `seq_len + 1` ids with stride `seq_len`: inputs are the first
`seq_len` ids, targets the last `seq_len` (the next character at every position).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from foundation.storage.tfrecords import FeatureSpec, ShardWriter
from models.code_corpus.vocab import CharVocabulary

SPLITS = ("train", "validation", "test")


def _repo_order(repo_id: str) -> str:
    return hashlib.sha256(repo_id.encode()).hexdigest()


def assign_splits(repo_ids: Iterable[str], validation: float = 0.1, test: float = 0.1) -> dict[str, str]:
    """repo id -> split. With three or more repositories every split gets at least one."""
    ordered = sorted(set(repo_ids), key=_repo_order)
    n = len(ordered)
    n_test = max(math.ceil(n * test), 1) if n >= 3 else 0
    n_val = max(math.ceil(n * validation), 1) if n >= 3 else 0
    out = {}
    for i, repo in enumerate(ordered):
        out[repo] = "test" if i < n_test else ("validation" if i < n_test + n_val else "train")
    return out


def encode_files(texts: Iterable[str], vocab: CharVocabulary) -> np.ndarray:
    """One id stream: every file's ids followed by <eof>."""
    parts = []
    for text in texts:
        parts.append(vocab.encode(text))
        parts.append(np.array([vocab.eof_id], dtype=np.int32))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


def windows(ids: np.ndarray, seq_len: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(inputs, targets) pairs of length `seq_len`, stride `seq_len` (the tail shorter than a window is dropped)."""
    for start in range(0, len(ids) - seq_len, seq_len):
        chunk = ids[start : start + seq_len + 1]
        yield chunk[:-1], chunk[1:]


def text_of_windows(inputs: Sequence[np.ndarray], targets: Sequence[np.ndarray], vocab: CharVocabulary) -> str:
    """The text the windows cover (first input id, then every target), for compressor baselines."""
    if not len(inputs):
        return ""
    ids = np.concatenate([inputs[0][:1], *targets])
    return vocab.decode(ids, specials=True)


def char_features(seq_len: int) -> dict[str, FeatureSpec]:
    """The features of every `char_corpus` example: `seq_len` input ids and the `seq_len` next ids."""
    return {"inputs": FeatureSpec("int64", seq_len), "targets": FeatureSpec("int64", seq_len)}


def drop_repeated_contents(files: pa.Table) -> tuple[pa.Table, int]:
    """The table without rows whose `content_hash` an earlier row has, and how many were dropped."""
    if not files.num_rows:
        return files, 0
    first: dict[str, int] = {}
    first_index = pa.array([first.setdefault(v, i) for i, v in enumerate(files["content_hash"].to_pylist())])
    keep = pc.equal(pa.array(range(files.num_rows)), first_index)
    return files.filter(keep), files.num_rows - pc.sum(keep).as_py()


@dataclass
class SplitWritten:
    """One split of the corpus as written: its repositories, files, characters and examples."""

    split: str
    uri: str
    repositories: list[str]
    files: int
    characters: int
    unknown_characters: int
    examples: int


def write_splits(
    files: pa.Table,
    uri_of: Callable[[str], str],
    seq_len: int,
    validation: float = 0.1,
    test: float = 0.1,
    metadata: Mapping[str, Any] | None = None,
    vocab: CharVocabulary | None = None,
) -> Iterator[SplitWritten]:
    """Write each split of `files` (columns repo_id, name_with_owner, content; in the order given) as TFRecords
    at `uri_of(split)`, repositories held out whole; yields each split once written. The manifest holds the
    split, seq_len, vocabulary, repositories, counts and `metadata`."""
    vocab = vocab or CharVocabulary()
    repo_ids = files["repo_id"].to_pylist()
    split_of = assign_splits(repo_ids, validation, test)
    splits = np.array([split_of[r] for r in repo_ids])
    contents = files["content"].to_pylist()
    names = files["name_with_owner"].to_pylist()
    for split in SPLITS:
        idx = np.flatnonzero(splits == split)
        ids = encode_files((contents[i] for i in idx), vocab)
        repos = sorted({names[i] for i in idx})
        unknown = int((ids == vocab.unk_id).sum())
        manifest_meta = {
            "split": split,
            "seq_len": seq_len,
            "vocabulary": vocab.to_json(),
            "repositories": repos,
            "files": len(idx),
            "characters": int(len(ids)),
            "unknown_characters": unknown,
            **(metadata or {}),
        }
        uri = uri_of(split)
        with ShardWriter(uri, char_features(seq_len), metadata=manifest_meta) as writer:
            for inputs, targets in windows(ids, seq_len):
                writer.write({"inputs": inputs, "targets": targets})
        yield SplitWritten(split, uri, repos, len(idx), int(len(ids)), unknown, writer.manifest.examples)
