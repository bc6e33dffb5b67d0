"""The char-LSTM on a held-out split next to the baselines of `baselines`, on the same characters.

settings = EvaluationSettings(max_test_examples=1_000)
comparison = compare(model, vocab, train_uri, test_uri, settings)
comparison.table()   # | predictor | bits/char | top-1 | top-5 |
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from foundation.markdown import markdown_table
from models.code_corpus.baselines import PUBLISHED_ANCHORS, compressors, ngram, unigram
from models.code_corpus.config import EvaluationSettings
from models.code_corpus.model import ModelScores, evaluate, split_ids
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
) -> Comparison:
    """Score `model` on the test split (up to `max_test_examples` windows) and the baselines on the same text."""
    scores = evaluate(model, test_uri, max_examples=settings.max_test_examples)
    train_ids, _ = split_ids(train_uri)
    test_ids, test_text = split_ids(test_uri, vocab, settings.max_test_examples)
    rows = [Row(label, scores.bits_per_char, scores.top1, scores.top5)]
    for baseline in [
        unigram(train_ids, test_ids, vocab.size),
        ngram(train_ids, test_ids, vocab.size, settings.ngram_order, settings.ngram_topk_positions),
        *compressors(test_text),
    ]:
        rows.append(Row(baseline.name, baseline.bits_per_char, baseline.top1, baseline.top5))
    rows += [Row(name, bpc) for name, bpc in PUBLISHED_ANCHORS.items()]
    return Comparison(scores, rows)
