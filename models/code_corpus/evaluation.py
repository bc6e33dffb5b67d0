"""The char-LSTM on a held-out split next to the baselines of `baselines`, on the same characters.

settings = EvaluationSettings(max_test_examples=1_000)
comparison = compare(model, vocab, train_uri, test_uri, settings)
comparison.table()   # | predictor | bits/char | top-1 | top-5 |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from foundation.markdown import markdown_table
from foundation.model_selection import Comparison as CandidateComparison
from foundation.model_selection import compare_candidates
from models.code_corpus.baselines import PUBLISHED_ANCHORS, CharNGram, compressors, ngram, unigram
from models.code_corpus.config import EvaluationSettings
from models.code_corpus.model import ModelScores, evaluate, split_ids, window_bits
from models.code_corpus.vocab import CharVocabulary


@dataclass(frozen=True)
class Row:
    predictor: str
    bits_per_char: float
    top1: float | None = None
    top5: float | None = None


@dataclass
class Comparison:
    scores: ModelScores
    rows: list[Row]  # the model first, then the baselines, then the published anchors

    def table(self) -> str:
        fmt = lambda v: "" if v is None else f"{v:.3f}"  # noqa: E731
        return markdown_table(
            ("predictor", "bits/char", "top-1", "top-5"),
            [(r.predictor, f"{r.bits_per_char:.3f}", fmt(r.top1), fmt(r.top5)) for r in self.rows],
        )


def compare(
    model: keras.Model,
    vocab: CharVocabulary,
    train_uri: str,
    test_uri: str,
    settings: EvaluationSettings,
    label: str = "char-LSTM",
    fitted: CharNGram | None = None,
) -> Comparison:
    """Score `model` on the test split (up to `max_test_examples` windows) and the baselines on the same text."""
    scores = evaluate(model, test_uri, max_examples=settings.max_test_examples)
    train_ids, _ = split_ids(train_uri)
    test_ids, test_text = split_ids(test_uri, vocab, settings.max_test_examples)
    rows = [Row(label, scores.bits_per_char, scores.top1, scores.top5)]
    for baseline in [
        unigram(train_ids, test_ids, vocab.size),
        ngram(train_ids, test_ids, vocab.size, settings.ngram_order, settings.ngram_topk_positions, fitted),
        *compressors(test_text),
    ]:
        rows.append(Row(baseline.name, baseline.bits_per_char, baseline.top1, baseline.top5))
    rows += [Row(name, bpc) for name, bpc in PUBLISHED_ANCHORS.items()]
    return Comparison(scores, rows)


METRIC = "neg_bits_per_char"  # compare_candidates maximises; shown as bits/char


def compare_on_windows(
    model_dirs: Mapping[str, Path],
    fitted: CharNGram,
    uris: Mapping[str, str],
    max_examples: Mapping[str, int | None],
) -> CandidateComparison:
    """Every candidate model and the n-gram (a baseline) scored per window on validation and test: the champion
    by validation bits/char, test bits/char with bootstrap 95% intervals over windows (`uris`, `max_examples` by
    split). The n-gram is not servable by the completion page: when it wins, the comparison says so."""
    from models.code_corpus.model import load

    ngram_name = f"{fitted.order}-gram (Witten-Bell)"
    per_query: dict[str, dict[str, dict[str, np.ndarray]]] = {ngram_name: {}}
    for split in ("validation", "test"):
        ids, _ = split_ids(uris[split], max_examples=max_examples[split])
        bits = fitted.position_bits(ids)[1:]  # the windows' targets; the first id is context only
        per_query[ngram_name][split] = {METRIC: -bits.reshape(-1, _seq_len(uris[split])).mean(axis=1)}
    for name, folder in model_dirs.items():
        model, _, _ = load(folder)
        per_query[name] = {
            s: {METRIC: -window_bits(model, uris[s], max_examples=max_examples[s])} for s in ("validation", "test")
        }
    return compare_candidates(per_query, METRIC, baselines={ngram_name})


def _seq_len(uri: str) -> int:
    from foundation.storage.tfrecords import read_manifest

    return int(read_manifest(uri).metadata["seq_len"])


def candidates_table(comparison: CandidateComparison) -> str:
    """| candidate | role | validation bits/char | test bits/char (95% CI) |, champion first."""
    rows = []
    for candidate in comparison.ranking:
        v, t = comparison.validation[candidate][METRIC], comparison.test[candidate][METRIC]
        role = "baseline" if candidate in comparison.baselines else ""
        role = "validation champion" + (f" ({role})" if role else "") if candidate == comparison.champion else role
        rows.append((candidate, role, f"{-v.mean:.3f}", f"{-t.mean:.3f} [{-t.high:.3f}, {-t.low:.3f}]"))
    return markdown_table(("candidate", "role", "validation bits/char", "test bits/char (95% CI over windows)"), rows)
