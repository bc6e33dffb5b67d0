"""The two-tower model's settings, importable without loading Keras (the Dagster run config is derived from it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TwoTowerConfig:
    """Two-tower model and training settings."""

    embedding_dim: int = 32
    gru_units: int = 64
    epochs: int = 8
    batch_size: int = 256
    learning_rate: float = 0.005
    dropout: float = 0.2
    seed: int = 0
