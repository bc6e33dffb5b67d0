"""Baselines for next-character prediction, scored on the same held-out text as the LSTM.

- unigram: add-one smoothed character frequencies of the training text;
- interpolated character n-gram (orders 0..n-1 of context, n up to 6) with Witten-Bell smoothing,
  counted on the training text;
- general-purpose compressors (gzip -9, bzip2 -9, xz -9e) on the test text alone: bits per character
  of the compressed test text, the usual "how much structure is there at all" anchor.
Everything works on vocabulary ids, so out-of-vocabulary characters count the same everywhere.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass
class BaselineScores:
    name: str
    bits_per_char: float
    top1: float | None = None
    top5: float | None = None


def unigram(train_ids: np.ndarray, test_ids: np.ndarray, vocab_size: int) -> BaselineScores:
    counts = np.bincount(train_ids, minlength=vocab_size).astype(np.float64) + 1.0
    probs = counts / counts.sum()
    bits = -np.log2(probs[test_ids]).mean() if len(test_ids) else float("nan")
    order = np.argsort(-probs)
    return BaselineScores(
        "unigram", float(bits), float(np.mean(test_ids == order[0])), float(np.isin(test_ids, order[:5]).mean())
    )


class CharNGram:
    """Interpolated Witten-Bell n-gram over id sequences; contexts are tuples of the previous ids."""

    def __init__(self, order: int, vocab_size: int) -> None:
        self.order, self.vocab_size = order, vocab_size
        self.next_counts: list[dict[tuple, Counter]] = [defaultdict(Counter) for _ in range(order)]

    def fit(self, ids: np.ndarray) -> CharNGram:
        seq = ids.tolist()
        for k in range(self.order):  # k = context length
            table = self.next_counts[k]
            for i in range(k, len(seq)):
                table[tuple(seq[i - k : i])][seq[i]] += 1
        # Freeze: totals and distinct followers per context, for Witten-Bell.
        self.totals = [{c: (sum(n.values()), len(n)) for c, n in t.items()} for t in self.next_counts]
        return self

    def _levels(self, history: list[int]) -> Iterator[tuple[Counter, int, int]]:
        """(follower counts, total, distinct followers) of each seen context of `history`, shortest first."""
        for k in range(min(self.order, len(history) + 1)):
            context = tuple(history[len(history) - k :]) if k else ()
            stats = self.totals[k].get(context)
            if stats is not None:
                yield self.next_counts[k][context], *stats

    def prob(self, history: list[int], symbol: int) -> float:
        """P(symbol | history), interpolating from the uniform distribution up through longer contexts."""
        p = 1.0 / self.vocab_size
        for followers, total, distinct in self._levels(history):
            p = (followers.get(symbol, 0) + distinct * p) / (total + distinct)
        return p

    def position_bits(self, ids: np.ndarray) -> np.ndarray:
        """-log2 P(ids[i] | the previous order-1 ids) at every position (per-window scores for a bootstrap)."""
        seq = ids.tolist()
        return np.array(
            [-math.log2(self.prob(seq[max(0, i - self.order + 1) : i], s)) for i, s in enumerate(seq)], dtype=np.float64
        )

    def distribution(self, history: list[int]) -> np.ndarray:
        """P(every symbol | history): `prob` for the whole vocabulary at once (for top-k)."""
        p = np.full(self.vocab_size, 1.0 / self.vocab_size)
        for followers, total, distinct in self._levels(history):
            counts = np.zeros(self.vocab_size)
            counts[list(followers)] = list(followers.values())
            p = (counts + distinct * p) / (total + distinct)
        return p


def ngram(
    train_ids: np.ndarray,
    test_ids: np.ndarray,
    vocab_size: int,
    order: int = 6,
    topk_positions: int = 20_000,
    fitted: CharNGram | None = None,
) -> BaselineScores:
    """Bits per char over all test positions; top-1/top-5 over the first `topk_positions` (full distributions).
    `fitted`: the n-gram already counted on `train_ids` (counting takes a while)."""
    model = fitted or CharNGram(order, vocab_size).fit(train_ids)
    seq = test_ids.tolist()
    bits = float(model.position_bits(test_ids).sum())
    top1 = top5 = 0
    n = min(len(seq), topk_positions)
    for i in range(n):
        dist = model.distribution(seq[max(0, i - order + 1) : i])
        best = np.argsort(-dist)[:5]
        top1 += int(best[0] == seq[i])
        top5 += int(seq[i] in best)
    return BaselineScores(f"{order}-gram (Witten-Bell)", bits / max(len(seq), 1), top1 / max(n, 1), top5 / max(n, 1))


def compressors(text: str) -> list[BaselineScores]:
    data = text.encode("utf-8")
    chars = max(len(text), 1)
    return [
        BaselineScores("gzip -9", 8 * len(gzip.compress(data, 9)) / chars),
        BaselineScores("bzip2 -9", 8 * len(bz2.compress(data, 9)) / chars),
        BaselineScores("xz -9e", 8 * len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)) / chars),
    ]


# Published anchors for the same task on CPython 3.11's standard library split by file (issue 6).
PUBLISHED_ANCHORS = {"6-gram (published, stdlib split by file)": 1.78, "xz (published, stdlib split by file)": 1.48}
