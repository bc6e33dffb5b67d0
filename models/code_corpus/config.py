"""What can be chosen about the character language model, free of TensorFlow (the code location imports it at
load time): the architecture and its presets, a training plan (preset, epochs, steps, CPU budget) and the
evaluation settings. The Dagster run configs of `char_rnn_model` and `char_rnn_evaluation` are derived from these
dataclasses.

Presets, with what they measured on the 2-core CPU of the development machine (docs/code_corpus.md has the
curve): `full` is the original 4 x LSTM(512), far too slow for a CPU (hours per epoch of the stdlib corpus);
`transformer` is a 4-layer causal Transformer (d=256), the CPU default, which makes the most of a CPU-minute;
`gru-wide` one GRU(768) with batches of 128; `small` and `tiny` are for tests and smoke runs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class CharRNNConfig:
    architecture: str = "lstm"  # "lstm", "gru" or "transformer" (causal self-attention, learned positions)
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
    attention_heads: int = 4  # transformer only; `units` is its model width, 4 x `units` its feed-forward width

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> CharRNNConfig:
        return replace(PRESETS[name], **overrides)


PRESETS = {
    "full": CharRNNConfig(),
    "small": CharRNNConfig(layers=2, units=256, dropout=0.1, epochs=5),
    "tiny": CharRNNConfig(layers=1, units=32, dropout=0.0, embedding_dim=16, batch_size=32, epochs=2),
    "gru-wide": CharRNNConfig(architecture="gru", layers=1, units=768, dropout=0.1, batch_size=128, epochs=10),
    # d=256 measured 985 characters per CPU-second (3.2M parameters): too few epochs in a CPU hour; d=128 is ~4x.
    "transformer": CharRNNConfig(
        architecture="transformer", layers=4, units=128, embedding_dim=128, dropout=0.0, learning_rate=2e-3, epochs=10
    ),
}
# Chosen by `foundation.hardware.choose_preset` when the plan names none: never the hours-long LSTM on a CPU.
CPU_PRESET, GPU_PRESET = "transformer", "full"
CPU_COMPARE_WITH, GPU_COMPARE_WITH = ["small"], ["transformer"]  # the seed's LSTM family at CPU size, and back
CPU_BUDGET_MINUTES = 30.0  # an unattended CPU training stops here (the epoch in progress is checkpointed)


@dataclass(frozen=True)
class TrainingPlan:
    """Which configuration to train and for how long (`full` is the original 4 x LSTM(512)).

    `preset` None: chosen by the hardware (`CPU_PRESET` without a GPU, `GPU_PRESET` with one); `budget_minutes`
    None: `CPU_BUDGET_MINUTES` of training on a CPU, unbounded on a GPU; 0: unbounded everywhere; shared equally by
    the preset and `compare_with` (None: `CPU_COMPARE_WITH` on a CPU, `GPU_COMPARE_WITH` on a GPU)."""

    preset: str | None = None
    compare_with: list[str] | None = None  # more presets trained on the same data; the validation champion is served
    epochs: int | None = None
    steps_per_epoch: int | None = None
    max_validation_examples: int | None = 2_000
    budget_minutes: float | None = None

    def config(self, preset: str | None = None) -> CharRNNConfig:
        """The preset (`preset`, else the plan's) with the epochs and steps given here (unset ones keep the
        preset's)."""
        name = preset or self.preset
        if name is None:
            raise ValueError("no preset: resolve it with foundation.hardware.choose_preset first")
        overrides = {k: v for k, v in {"epochs": self.epochs, "steps_per_epoch": self.steps_per_epoch}.items() if v}
        return CharRNNConfig.preset(name, **overrides)


@dataclass(frozen=True)
class EvaluationSettings:
    """How much of the test split to score and how the n-gram baseline is built."""

    max_test_examples: int | None = None  # None: the whole held-out test split
    ngram_order: int = 6
    ngram_topk_positions: int = 20_000
