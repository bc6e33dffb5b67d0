"""The two-tower model's settings and presets, importable without loading Keras (the Dagster run config is derived
from `TwoTowerConfig`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields, replace

from foundation.hardware import PresetChoice, choose_preset


@dataclass
class TwoTowerConfig:
    """Two-tower model and training settings. `preset` empty: chosen by the hardware (`resolve_config`); the
    fields set explicitly (run config) override the preset's."""

    preset: str = ""
    embedding_dim: int = 32
    gru_units: int = 64
    epochs: int = 8
    batch_size: int = 256
    learning_rate: float = 0.005
    dropout: float = 0.2
    seed: int = 0
    pooled_context: bool = False  # add the mean of the context items' embeddings to the query
    time_gaps: bool = False  # add each context purchase's hours before the latest one as a feature


# Measured in docs/retail.md: `small` trains the 5,000-customer generated stores in about 1.5 CPU-minutes;
# `full` is the larger model for a GPU (or a patient CPU), which on the generated data gains nothing.
PRESETS: dict[str, TwoTowerConfig] = {
    "small": TwoTowerConfig(preset="small"),
    "full": TwoTowerConfig(preset="full", embedding_dim=64, gru_units=128, epochs=15, batch_size=512),
}
CPU_PRESET, GPU_PRESET = "small", "full"


def resolve_config(config: TwoTowerConfig, explicit: Collection[str] = ()) -> tuple[TwoTowerConfig, PresetChoice]:
    """The preset `config.preset` names (else the hardware's: `CPU_PRESET` without a GPU, `GPU_PRESET` with one),
    with the fields named in `explicit` taken from `config`."""
    choice = choose_preset(config.preset or None, CPU_PRESET, GPU_PRESET)
    if choice.preset not in PRESETS:
        raise ValueError(f"unknown two-tower preset {choice.preset!r}; choose one of {sorted(PRESETS)}")
    overrides = {f.name: getattr(config, f.name) for f in fields(config) if f.name in explicit and f.name != "preset"}
    return replace(PRESETS[choice.preset], **overrides), choice
