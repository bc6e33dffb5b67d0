"""Training the sneaker CNN from a TFRecord training set, as the `sneaker_cnn` asset does: which configuration,
which data versions, where the model and its `model.json` go.

TensorFlow loads only when training starts: the settings are imported by the Dagster definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from foundation.hardware import choose_preset
from foundation.progress import keras_progress
from foundation.storage.tfrecords import read_manifest

if TYPE_CHECKING:
    from models.sneakers.cnn import CNNConfig, TrainingResult

CPU_ARCHITECTURE, GPU_ARCHITECTURE = "tiny", "original"

# The Delta table versions a training set was built from (its manifest's metadata), recorded with the model.
DATA_VERSIONS = ("listings_table_version", "images_table_version", "splits_table_version")


@dataclass(frozen=True)
class CNNTrainingSettings:
    """Which CNN to train: a named configuration of `cnn.CONFIGS` and what to change in it."""

    # "tiny" (48x48, 3 small blocks: minutes on a CPU) or "original" (the original 4-block network at 224x224:
    # 40 images/s on the 2-core CPU, i.e. hours for the real 17k listings); None: chosen by the hardware.
    architecture: str | None = None
    epochs: int | None = None
    augment: bool = False
    weights_path: str | None = None  # optional local starting weights; nothing is downloaded

    def resolved(self) -> tuple[str, str]:
        """The architecture to train and why (`foundation.hardware.choose_preset`: tiny on a CPU, original on a GPU)."""
        choice = choose_preset(self.architecture, CPU_ARCHITECTURE, GPU_ARCHITECTURE)
        return choice.preset, choice.reason

    def config(self) -> CNNConfig:
        from models.sneakers.cnn import CONFIGS

        overrides = {"epochs": self.epochs, "augment": self.augment or None, "weights_path": self.weights_path}
        return replace(CONFIGS[self.resolved()[0]], **{k: v for k, v in overrides.items() if v is not None})


def training_data_versions(train_uri: str) -> dict[str, Any]:
    """The table versions the training set at `train_uri` was built from."""
    data = read_manifest(train_uri).metadata
    return {k: data[k] for k in DATA_VERSIONS}


@dataclass
class TrainedCNN:
    config: CNNConfig
    result: TrainingResult
    best_epoch: int  # 1-based: the epoch whose weights were kept
    validation_accuracy: dict[str, float]  # per head, at the best epoch


def train_and_save(
    train_uri: str, validation_uri: str, settings: CNNTrainingSettings, directory: Path, version: str, log: Any = None
) -> TrainedCNN:
    """Train on the training set's shards and save the model with its vocabularies, quantile edges, data
    versions and history (`model.json`) into `directory`; each epoch is logged to `log`."""
    from models.sneakers import cnn

    data = read_manifest(train_uri).metadata
    config = settings.config()
    progress = keras_progress(log, "sneaker CNN", batch_size=config.batch_size)
    result = cnn.train(train_uri, validation_uri, config, callbacks=[progress])
    cnn.save(
        result.model,
        directory,
        config,
        {
            "version": version,
            "vocabularies": data["vocabularies"],
            "price_quantile_edges": data["price_quantile_edges"],
            "trained_from": {k: data[k] for k in DATA_VERSIONS},
            "history": result.history,
        },
    )
    best = int(np.argmin(result.history["val_loss"]))
    accuracy = {h: round(result.history[f"val_{h}_accuracy"][best], 4) for h in config.heads}
    return TrainedCNN(config, result, best + 1, accuracy)
