"""A Keras 3 multinomial denoising autoencoder (Mult-DAE; Liang et al. 2018, "Variational Autoencoders
for Collaborative Filtering"): the original project's 250/50 autoencoder, done the way that works for
implicit feedback. A user's item set goes in with dropout on the input, a tanh bottleneck, a softmax over
the whole catalogue comes out, trained on the multinomial log-likelihood of the items the user has.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from models.amazon.recommenders import Recommender

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@dataclass(frozen=True)
class AutoencoderConfig:
    """`epochs=None` (the default) scales the epochs with the data, see `epochs_for`."""

    hidden: int = 200
    dropout: float = 0.5
    epochs: int | None = None
    min_steps: int = 1500  # with epochs=None: at least this many optimizer steps ...
    min_epochs: int = 30  # ... and at least this many epochs ...
    max_epochs: int = 200  # ... but never more than this many
    batch_size: int = 128
    learning_rate: float = 1e-3
    l2: float = 1e-5
    seed: int = 0


def epochs_for(config: AutoencoderConfig, users: int) -> int:
    """Epochs to train on `users` users: `config.epochs` when set, else enough epochs for `min_steps` optimizer
    steps (at least `min_epochs`, at most `max_epochs`). A fixed 30 epochs is ~360 steps on 1,500 users, which
    leaves the model undertrained on small data, and needlessly many passes on large data is what min_epochs caps."""
    if config.epochs is not None:
        return config.epochs
    steps_per_epoch = max(1, math.ceil(users / config.batch_size))
    return min(config.max_epochs, max(config.min_epochs, math.ceil(config.min_steps / steps_per_epoch)))


def _multinomial_nll(y_true, logits):
    import keras

    log_softmax = logits - keras.ops.logsumexp(logits, axis=-1, keepdims=True)
    return -keras.ops.sum(log_softmax * y_true, axis=-1)


class AutoencoderRecommender(Recommender):
    name = "autoencoder"

    def __init__(self, config: AutoencoderConfig = AutoencoderConfig(), callbacks: list | None = None) -> None:
        self.config = config
        self.callbacks = callbacks or []  # e.g. foundation.progress.keras_progress

    def _build(self, n_items: int):
        import keras

        c = self.config
        inputs = keras.Input((n_items,), name="items")
        # Normalising the input to unit length keeps heavy users from dominating the loss.
        x = keras.layers.UnitNormalization(name="normalise")(inputs)
        x = keras.layers.Dropout(c.dropout, seed=c.seed, name="denoise")(x)
        x = keras.layers.Dense(
            c.hidden, activation="tanh", kernel_regularizer=keras.regularizers.L2(c.l2), name="encode"
        )(x)
        logits = keras.layers.Dense(n_items, kernel_regularizer=keras.regularizers.L2(c.l2), name="decode")(x)
        model = keras.Model(inputs, logits, name="mult_dae")
        model.compile(optimizer=keras.optimizers.Adam(c.learning_rate), loss=_multinomial_nll)
        return model

    def _fit(self, x: sp.csr_matrix) -> None:
        import keras

        keras.utils.set_random_seed(self.config.seed)
        self.x = x
        self.model = self._build(x.shape[1])
        dense = np.asarray(x.todense(), np.float32)
        active = dense.sum(axis=1) > 0
        self.epochs = epochs_for(self.config, int(active.sum()))
        self.history = self.model.fit(
            dense[active],
            dense[active],
            epochs=self.epochs,
            batch_size=self.config.batch_size,
            verbose=0,
            shuffle=True,
            callbacks=self.callbacks,
        ).history

    def settings(self) -> dict[str, Any]:
        return asdict(self.config) | {"epochs_trained": getattr(self, "epochs", None)}

    def scores(self, users: np.ndarray) -> np.ndarray:
        dense = np.asarray(self.x[users].todense(), np.float32)
        return np.asarray(self.model(dense, training=False))

    def save(self, folder: Path) -> Path:
        path = Path(folder) / "mult_dae.keras"
        self.model.save(path)
        return path
