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
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from models.char_rnn_vocab import CharVocabulary

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
