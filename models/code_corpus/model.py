"""Character-level LSTM language model for code (Keras 3), trained from the `char_corpus` manifests.

The "full" configuration is the original project's: 4 stacked LSTM(512), each followed by
Dropout(0.2), a 100-way output, sequences of 100, Adam. Differences, on purpose: integer inputs
through an Embedding (the same function as one-hot inputs times the first weight matrix, at a
fraction of the memory), logits with sparse categorical cross-entropy on integer targets
(numerically stabler than softmax + categorical cross-entropy on one-hot targets).

Training writes a checkpoint per epoch and resumes from the newest one; the saved artefact is a
folder with `model.keras`, `vocabulary.json` and `meta.json` (config, loss history, corpus version).
The configurations (`CharRNNConfig`, presets, `TrainingPlan`) live in `config.py`, free of TensorFlow.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from foundation.storage.tfrecord_datasets import dataset_from_manifest  # noqa: E402
from foundation.storage.tfrecords import read_manifest  # noqa: E402
from models.code_corpus.config import CharRNNConfig  # noqa: E402
from models.code_corpus.vocab import CharVocabulary  # noqa: E402


@keras.saving.register_keras_serializable(package="storefront")
class PositionEmbedding(keras.layers.Layer):
    """Learned position vectors added to the character embeddings; inputs longer than `max_len` keep their last
    `max_len` positions' meaning undefined, so callers cut the context to `max_len` (see `context_limit`)."""

    def __init__(self, max_len: int, dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_len, self.dim = max_len, dim
        self.positions = keras.layers.Embedding(max_len, dim)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x + self.positions(keras.ops.arange(keras.ops.shape(x)[1]))[None]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_len": self.max_len, "dim": self.dim}


def _transformer_block(x: tf.Tensor, config: CharRNNConfig, i: int) -> tf.Tensor:
    """Pre-norm causal self-attention and a 4x feed-forward, both residual (GPT-2 style)."""
    h = keras.layers.LayerNormalization(epsilon=1e-5, name=f"attention_norm_{i}")(x)
    h = keras.layers.MultiHeadAttention(
        config.attention_heads, config.units // config.attention_heads, dropout=config.dropout, name=f"attention_{i}"
    )(h, h, use_causal_mask=True)
    x = x + keras.layers.Dropout(config.dropout, name=f"attention_dropout_{i}")(h)
    h = keras.layers.LayerNormalization(epsilon=1e-5, name=f"feed_forward_norm_{i}")(x)
    h = keras.layers.Dense(4 * config.units, activation="gelu", name=f"feed_forward_in_{i}")(h)
    h = keras.layers.Dense(config.units, name=f"feed_forward_out_{i}")(h)
    return x + keras.layers.Dropout(config.dropout, name=f"feed_forward_dropout_{i}")(h)


def build_model(config: CharRNNConfig) -> keras.Model:
    """`config.architecture`: "lstm" (the original), "gru" (same stack with GRU cells) or "transformer"."""
    keras.utils.set_random_seed(config.seed)
    inputs = keras.Input(shape=(None,), dtype="int32", name="chars")
    x = keras.layers.Embedding(config.vocab_size, config.embedding_dim, name="embedding")(inputs)
    if config.architecture == "transformer":
        if config.embedding_dim != config.units:
            raise ValueError("a transformer's embedding_dim must equal its width (units)")
        x = PositionEmbedding(config.seq_len, config.units, name="positions")(x)
        for i in range(config.layers):
            x = _transformer_block(x, config, i)
        x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    elif config.architecture in ("lstm", "gru"):
        cell = keras.layers.LSTM if config.architecture == "lstm" else keras.layers.GRU
        for i in range(config.layers):
            x = cell(config.units, return_sequences=True, name=f"{config.architecture}_{i}")(x)
            if config.dropout:
                x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    else:
        raise ValueError(f"unknown architecture {config.architecture!r}: lstm, gru or transformer")
    logits = keras.layers.Dense(config.vocab_size, name="next_char_logits")(x)
    model = keras.Model(inputs, logits, name="char_rnn")
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="top1")],
    )
    return model


def char_dataset(
    manifest_uri: str, batch_size: int, shuffle: bool, seed: int = 0, max_examples: int | None = None
) -> tf.data.Dataset:
    """(inputs, targets) int32 batches from a char_corpus split."""
    ds = dataset_from_manifest(manifest_uri, parallel=not shuffle)
    ds = ds.map(lambda e: (tf.cast(e["inputs"], tf.int32), tf.cast(e["targets"], tf.int32)))
    if max_examples:
        ds = ds.take(max_examples)
    if shuffle:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def corpus_vocabulary(manifest_uri: str) -> tuple[CharVocabulary, dict[str, Any]]:
    meta = read_manifest(manifest_uri).metadata
    return CharVocabulary.from_json(meta["vocabulary"]), meta


@dataclass
class TrainingRun:
    model: keras.Model
    history: list[dict[str, float]]  # one entry per epoch (across resumes)
    seconds: float
    characters_per_second: float
    resumed_from_epoch: int


def train(
    config: CharRNNConfig,
    train_uri: str,
    validation_uri: str,
    out_dir: Path,
    max_train_examples: int | None = None,
    max_validation_examples: int | None = None,
    time_budget_seconds: float | None = None,
    callbacks: Sequence = (),
    work_dir: Path | None = None,
) -> TrainingRun:
    """Train (resuming from the newest checkpoint in `work_dir/checkpoints`), then save to `out_dir`.

    `work_dir` (default `out_dir`) holds the per-epoch checkpoints and the loss history, so a model published
    from a fresh folder can still resume an interrupted training. With a time budget, training stops after the
    batch that exhausts it (the epoch still ends and is checkpointed).
    """
    out_dir = Path(out_dir)
    work_dir = Path(work_dir) if work_dir is not None else out_dir
    checkpoints = work_dir / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    vocab, corpus_meta = corpus_vocabulary(train_uri)
    if vocab.size != config.vocab_size or corpus_meta["seq_len"] != config.seq_len:
        config = replace(config, vocab_size=vocab.size, seq_len=corpus_meta["seq_len"])
    history_path = work_dir / "history.json"
    history: list[dict[str, float]] = json.loads(history_path.read_text()) if history_path.exists() else []
    done = sorted(checkpoints.glob("epoch-*.keras"))
    if done:
        model = keras.models.load_model(done[-1])
        initial_epoch = int(done[-1].stem.split("-")[1])
        history = history[:initial_epoch]
    else:
        model, initial_epoch = build_model(config), 0
    train_ds = char_dataset(
        train_uri, config.batch_size, shuffle=True, seed=config.seed, max_examples=max_train_examples
    )
    val_ds = char_dataset(validation_uri, config.batch_size, shuffle=False, max_examples=max_validation_examples)

    # CPU-seconds of this process (all threads), cumulated across resumes: the x axis of the bits/char curve.
    cpu_before = history[-1].get("cpu_seconds", 0.0) if history else 0.0
    cpu_started = time.process_time()

    class _Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            cpu = cpu_before + time.process_time() - cpu_started
            history.append({k: float(v) for k, v in (logs or {}).items()} | {"epoch": epoch + 1, "cpu_seconds": cpu})
            history_path.write_text(json.dumps(history, indent=1))

    started = time.perf_counter()
    steps_done, step_seconds, batch_started = [0], [0.0], [0.0]

    class _Budget(keras.callbacks.Callback):
        """Stops at the time budget; times training steps alone (not validation, checkpoints, first-step tracing)."""

        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            batch_started[0] = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            steps_done[0] += 1
            if steps_done[0] > 1:
                step_seconds[0] += time.perf_counter() - batch_started[0]
            if time_budget_seconds and time.perf_counter() - started > time_budget_seconds:
                self.model.stop_training = True

    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=config.steps_per_epoch,
        verbose=0,
        callbacks=[
            keras.callbacks.ModelCheckpoint(str(checkpoints / "epoch-{epoch:03d}.keras")),
            _Record(),
            _Budget(),
            *callbacks,
        ],
    )
    seconds = time.perf_counter() - started
    timed_chars = (steps_done[0] - 1) * config.batch_size * config.seq_len  # full batches after the first
    save(
        model,
        vocab,
        out_dir,
        {
            "config": asdict(config),
            "history": history,
            "source_table_version": corpus_meta.get("source_table_version"),
            "corpus_repositories": corpus_meta.get("repositories"),
        },
    )
    speed = timed_chars / step_seconds[0] if step_seconds[0] > 0 else 0.0
    return TrainingRun(model, history, seconds, speed, initial_epoch)


def save(model: keras.Model, vocab: CharVocabulary, out_dir: Path, meta: dict[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "model.keras")
    (out_dir / "vocabulary.json").write_text(json.dumps(vocab.to_json()))
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    return out_dir


def load(out_dir: Path) -> tuple[keras.Model, CharVocabulary, dict[str, Any]]:
    out_dir = Path(out_dir)
    model = keras.models.load_model(out_dir / "model.keras")
    vocab = CharVocabulary.from_json(json.loads((out_dir / "vocabulary.json").read_text()))
    return model, vocab, json.loads((out_dir / "meta.json").read_text())


@dataclass
class ModelScores:
    nats_per_char: float
    bits_per_char: float
    top1: float
    top5: float
    characters: int


def evaluate(
    model: keras.Model, manifest_uri: str, batch_size: int = 64, max_examples: int | None = None
) -> ModelScores:
    """Cross-entropy and top-k accuracy of every target character of a split (full vocabulary)."""
    nats, top1, top5, count = 0.0, 0, 0, 0
    for inputs, targets in char_dataset(manifest_uri, batch_size, shuffle=False, max_examples=max_examples):
        logits = model(inputs, training=False).numpy().astype(np.float64)
        t = targets.numpy()
        log_probs = logits - _logsumexp(logits)
        picked = np.take_along_axis(log_probs, t[..., None], axis=-1)[..., 0]
        nats -= float(picked.sum())
        rank = (logits > np.take_along_axis(logits, t[..., None], axis=-1)).sum(axis=-1)
        top1 += int((rank == 0).sum())
        top5 += int((rank < 5).sum())
        count += t.size
    nats_per_char = nats / max(count, 1)
    return ModelScores(nats_per_char, nats_per_char / math.log(2), top1 / max(count, 1), top5 / max(count, 1), count)


def window_bits(
    model: keras.Model, manifest_uri: str, batch_size: int = 64, max_examples: int | None = None
) -> np.ndarray:
    """Mean bits per character of every window of a split, in file order (the units a bootstrap resamples)."""
    out = []
    for inputs, targets in char_dataset(manifest_uri, batch_size, shuffle=False, max_examples=max_examples):
        logits = model(inputs, training=False).numpy().astype(np.float64)
        t = targets.numpy()
        picked = np.take_along_axis(logits - _logsumexp(logits), t[..., None], axis=-1)[..., 0]
        out.append(-picked.mean(axis=1) / math.log(2))
    return np.concatenate(out) if out else np.zeros(0)


def context_limit(model: keras.Model) -> int | None:
    """How many characters of context the model can take (a transformer's positions), None when unbounded."""
    try:
        return int(model.get_layer("positions").max_len)
    except ValueError:
        return None


def _logsumexp(x: np.ndarray) -> np.ndarray:
    top = x.max(axis=-1, keepdims=True)
    return top + np.log(np.exp(x - top).sum(axis=-1, keepdims=True))


def split_ids(
    manifest_uri: str, vocab: CharVocabulary | None = None, max_examples: int | None = None
) -> tuple[np.ndarray, str]:
    """The id stream a split's windows cover (first input id, then every target) and its text."""
    first, targets = None, []
    for inputs, target in char_dataset(manifest_uri, 1024, shuffle=False, max_examples=max_examples):
        if first is None:
            first = inputs.numpy()[0, :1]
        targets.append(target.numpy().reshape(-1))
    if first is None:
        return np.zeros(0, dtype=np.int32), ""
    ids = np.concatenate([first, *targets]).astype(np.int64)
    return ids, (vocab.decode(ids, specials=True) if vocab else "")
