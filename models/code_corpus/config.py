"""What can be chosen about the char-LSTM, free of TensorFlow (the code location imports it at load time):
the architecture and its presets, a training plan (preset, epochs, steps) and the evaluation settings.
The Dagster run configs of `char_rnn_model` and `char_rnn_evaluation` are derived from these dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class CharRNNConfig:
    layers: int = 4
    units: int = 512
    dropout: float = 0.2
    embedding_dim: int = 64
    seq_len: int = 100
    vocab_size: int = 100
    batch_size: int = 64
    learning_rate: float = 2e-3
    epochs: int = 10
    steps_per_epoch: int | None = None  # None: one pass over the training split
    seed: int = 0

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> CharRNNConfig:
        return replace(PRESETS[name], **overrides)


PRESETS = {
    "full": CharRNNConfig(),
    "small": CharRNNConfig(layers=2, units=256, dropout=0.1, epochs=5),
    "tiny": CharRNNConfig(layers=1, units=32, dropout=0.0, embedding_dim=16, batch_size=32, epochs=2),
}


@dataclass(frozen=True)
class TrainingPlan:
    """Which configuration to train and for how long (`full` is the original 4 x LSTM(512))."""

    preset: str = "full"
    epochs: int | None = None
    steps_per_epoch: int | None = None
    max_validation_examples: int | None = 2_000

    def config(self) -> CharRNNConfig:
        """The preset with the epochs and steps given here (unset ones keep the preset's)."""
        overrides = {k: v for k, v in {"epochs": self.epochs, "steps_per_epoch": self.steps_per_epoch}.items() if v}
        return CharRNNConfig.preset(self.preset, **overrides)


@dataclass(frozen=True)
class EvaluationSettings:
    """How much of the test split to score and how the n-gram baseline is built."""

    max_test_examples: int | None = None  # None: the whole held-out test split
    ngram_order: int = 6
    ngram_topk_positions: int = 20_000
