"""One Keras 3 CNN for four sneaker questions: a shared convolutional trunk, four softmax heads.

The original project trained four separate scratch CNNs with binary cross-entropy on softmax outputs;
here each head (fixed price bins, price quantile bins, model, brand) has categorical cross-entropy on a
shared trunk, so the image features are learned once. The original 4-block network (Conv 16/32/64/64,
BatchNorm, MaxPool, Dropout 0.2) is the `ORIGINAL` configuration; tests use `TINY`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from foundation.storage.tfrecord_datasets import dataset_from_manifest
from foundation.storage.tfrecords import read_manifest
from models.sneakers.dataset import HEADS


@dataclass(frozen=True)
class CNNConfig:
    filters: tuple[int, ...] = (16, 32, 64, 64)
    dropout: float = 0.2
    batch_norm: bool = True
    pooling: str = "flatten"  # "flatten" as the original, or "avg" (global average pooling)
    input_size: int = 224  # images are stored at 224; smaller sizes are resized in the input pipeline
    batch_size: int = 32
    epochs: int = 30
    patience: int = 4
    learning_rate: float = 1e-3
    augment: bool = False
    cache: bool = True
    seed: int = 0
    weights_path: str | None = None  # optional local weights to start from (nothing is downloaded)
    heads: tuple[str, ...] = field(default=HEADS)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


ORIGINAL = CNNConfig()
# Small data and a small batch make BatchNorm's running statistics (and so early stopping) erratic: off here.
TINY = CNNConfig(
    filters=(8, 16, 32),
    dropout=0.1,
    batch_norm=False,
    pooling="flatten",
    input_size=48,
    batch_size=32,
    epochs=20,
    patience=5,
    learning_rate=2e-3,
)
CONFIGS = {"original": ORIGINAL, "tiny": TINY}


def build_model(config: CNNConfig, head_sizes: dict[str, int]) -> keras.Model:
    keras.utils.set_random_seed(config.seed)
    inputs = keras.Input((config.input_size, config.input_size, 3), name="image")
    x = inputs
    for i, filters in enumerate(config.filters):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{i}_conv")(x)
        if config.batch_norm:
            x = keras.layers.BatchNormalization(name=f"block{i}_bn")(x)
        x = keras.layers.MaxPooling2D(name=f"block{i}_pool")(x)
        x = keras.layers.Dropout(config.dropout, name=f"block{i}_dropout")(x)
    x = (
        keras.layers.Flatten(name="trunk")(x)
        if config.pooling == "flatten"
        else keras.layers.GlobalAveragePooling2D(name="trunk")(x)
    )
    outputs = {h: keras.layers.Dense(head_sizes[h], activation="softmax", name=h)(x) for h in config.heads}
    model = keras.Model(inputs, outputs, name="sneaker_cnn")
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss={h: "categorical_crossentropy" for h in config.heads},
        metrics={h: ["accuracy"] for h in config.heads},
    )
    if config.weights_path:
        model.load_weights(config.weights_path)
    return model


def head_sizes_of(manifest_uri: str, heads: tuple[str, ...] = HEADS) -> dict[str, int]:
    features = read_manifest(manifest_uri).features
    return {h: int(features[h].length) for h in heads}


def examples(uri: str, config: CNNConfig, training: bool) -> tf.data.Dataset:
    """(image, {head: one-hot}) batches: parallel decode, optional augmentation, prefetch."""
    size, heads = config.input_size, config.heads

    def decode(example: dict[str, tf.Tensor]) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        image = tf.io.decode_jpeg(example["image"][0], channels=3)
        if size != 224:
            image = tf.image.resize(image, (size, size), antialias=True)
        image = tf.cast(image, tf.float32) / 255.0
        return image, {h: tf.cast(example[h], tf.float32) for h in heads}

    ds = dataset_from_manifest(uri).map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if config.cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(4096, seed=config.seed, reshuffle_each_iteration=True)
        if config.augment:
            ds = ds.map(
                lambda x, y: (
                    tf.image.random_brightness(
                        tf.image.random_flip_left_right(x, seed=config.seed), 0.1, seed=config.seed
                    ),
                    y,
                ),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
    return ds.batch(config.batch_size).prefetch(tf.data.AUTOTUNE)


@dataclass
class TrainingResult:
    model: keras.Model
    history: dict[str, list[float]]
    epochs: int
    seconds: float
    images_per_second: float


def train(train_uri: str, validation_uri: str, config: CNNConfig, callbacks: Sequence = ()) -> TrainingResult:
    """Fit with early stopping on the validation loss (best weights restored)."""
    model = build_model(config, head_sizes_of(train_uri, config.heads))
    train_ds, val_ds = examples(train_uri, config, training=True), examples(validation_uri, config, training=False)
    stop = keras.callbacks.EarlyStopping("val_loss", patience=config.patience, restore_best_weights=True)
    started = time.perf_counter()
    history = model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, callbacks=[stop, *callbacks], verbose=0)
    seconds = time.perf_counter() - started
    epochs = len(history.history["loss"])
    n_train = read_manifest(train_uri).examples
    return TrainingResult(
        model,
        {k: [float(v) for v in vs] for k, vs in history.history.items()},
        epochs,
        seconds,
        n_train * epochs / seconds,
    )


def predict(
    model: keras.Model, uri: str, config: CNNConfig
) -> tuple[list[str], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(listing ids, {head: probabilities}, {head: true class index}) for every example of a split."""
    ids, labels = [], {h: [] for h in config.heads}
    for example in dataset_from_manifest(uri, parallel=False):
        ids.append(example["listing_id"][0].numpy().decode())
        for h in config.heads:
            labels[h].append(int(np.argmax(example[h].numpy())))
    batches = examples(uri, replace(config, cache=False), training=False).map(lambda x, _: x)
    probabilities = model.predict(batches, verbose=0) if ids else {h: np.zeros((0, 1)) for h in config.heads}
    return (
        ids,
        {h: np.asarray(probabilities[h]) for h in config.heads},
        {h: np.asarray(v, dtype=int) for h, v in labels.items()},
    )


def save(model: keras.Model, directory: Path, config: CNNConfig, extra: dict[str, Any]) -> Path:
    """Native `.keras` file plus `model.json` (config, vocabularies, data versions) next to it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "model.keras"
    model.save(path)
    (directory / "model.json").write_text(json.dumps({"config": config.to_json(), **extra}, indent=2, default=str))
    return path


def load(directory: Path) -> tuple[keras.Model, CNNConfig, dict[str, Any]]:
    info = json.loads((directory / "model.json").read_text())
    raw = info.pop("config")
    config = CNNConfig(**{**raw, "filters": tuple(raw["filters"]), "heads": tuple(raw["heads"])})
    return keras.models.load_model(directory / "model.keras"), config, info
