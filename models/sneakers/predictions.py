"""Per listing and head: the CNN's and the stacked meta-model's class probabilities, for every split."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from foundation.progress import Progress
from models.sneakers.dataset import SPLITS

if TYPE_CHECKING:  # TensorFlow and scikit-learn load when predicting, not when the schema is imported
    import keras

    from models.sneakers.cnn import CNNConfig
    from models.sneakers.stacking import Stack

PREDICTIONS_SCHEMA = pa.schema(
    [
        ("model_version", pa.string()),
        ("listing_id", pa.string()),
        ("split", pa.string()),
        ("head", pa.string()),
        ("true_class", pa.string()),
        ("cnn_class", pa.string()),
        ("cnn_probabilities", pa.list_(pa.float32())),
        ("stacked_class", pa.string()),
        ("stacked_probabilities", pa.list_(pa.float32())),
    ]
)


def predictions_table(
    model: keras.Model,
    config: CNNConfig,
    stack: Stack,
    vocabularies: Mapping[str, list[str]],
    version: str,
    uris: Mapping[str, str],
    log: Any = None,
) -> pa.Table:
    """Every example of every split (`uris[split]`), scored by the CNN and its stack, one row per head."""
    from models.sneakers import cnn

    rows = []
    for split in SPLITS:
        with Progress(log, f"{split} images predicted") as predicted:
            ids, probabilities, labels = cnn.predict(model, uris[split], config)
            predicted.advance(len(ids))
        for head in config.heads:
            stacked = stack.probabilities(head, split, probabilities, labels)
            names = vocabularies[head]
            for i, listing_id in enumerate(ids):
                rows.append(
                    {
                        "model_version": version,
                        "listing_id": listing_id,
                        "split": split,
                        "head": head,
                        "true_class": names[labels[head][i]],
                        "cnn_class": names[int(probabilities[head][i].argmax())],
                        "cnn_probabilities": probabilities[head][i].tolist(),
                        "stacked_class": names[int(stacked[i].argmax())],
                        "stacked_probabilities": stacked[i].tolist(),
                    }
                )
    return pa.Table.from_pylist(rows, schema=PREDICTIONS_SCHEMA)
