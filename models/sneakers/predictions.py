"""Per listing and head: the CNN's and the stacked meta-model's class probabilities, for every split, and what the
pipeline serves: the head's champion's class (`served_by` names it; it may be a baseline)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from foundation.progress import Progress
from models.sneakers.dataset import SPLITS

if TYPE_CHECKING:  # TensorFlow and scikit-learn load when predicting, not when the schema is imported
    import keras

    from models.sneakers.champions import Baselines
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
        ("served_by", pa.string()),  # the head's champion on validation: cnn, stacked or a baseline
        ("served_class", pa.string()),
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
    champions: Mapping[str, str] | None = None,
    baselines: Baselines | None = None,
    listings: Mapping[str, Mapping[str, Any]] | None = None,
) -> pa.Table:
    """Every example of every split (`uris[split]`), scored by the CNN and its stack, one row per head, with the
    class each head's champion serves (`champions[head]`, default the stack; a baseline needs `baselines` and the
    `listings` rows by id)."""
    from models.sneakers import cnn
    from models.sneakers.champions import served_probabilities

    rows = []
    for split in SPLITS:
        with Progress(log, f"{split} images predicted") as predicted:
            ids, probabilities, labels = cnn.predict(model, uris[split], config)
            predicted.advance(len(ids))
        for head in config.heads:
            stacked = stack.probabilities(head, split, probabilities, labels)
            champion = (champions or {}).get(head, "stacked")
            rows_of = [(listings or {}).get(i, {}) for i in ids]
            served = served_probabilities(champion, head, rows_of, probabilities[head], stacked, baselines)
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
                        "served_by": champion,
                        "served_class": names[int(served[i].argmax())],
                    }
                )
    return pa.Table.from_pylist(rows, schema=PREDICTIONS_SCHEMA)
