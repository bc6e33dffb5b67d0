"""The Amazon domain's resource: the recommenders' hyper-parameters (key `amazon_model_settings`)."""

from typing import Any

import dagster as dg

from models.amazon.recommenders import Recommender
from models.amazon.training import make_recommender


class AmazonModelSettingsResource(dg.ConfigurableResource):
    """Hyper-parameters of the recommenders and of the split; tests use a tiny autoencoder, the demo and benchmarks
    the full one. `autoencoder_epochs=0` scales the epochs with the data; `positive_min_rating=0` keeps every
    rating as a positive (e.g. 4.0: only ratings of 4 and 5 count)."""

    knn_neighbours: int = 100
    ease_l2: float = 200.0
    autoencoder_hidden: int = 200
    autoencoder_epochs: int = 0
    autoencoder_dropout: float = 0.5
    seed: int = 0
    positive_min_rating: float = 0.0

    def make(self, name: str, log: Any = None) -> Recommender:
        """The recommender `name` (one of models.amazon.training.MODEL_NAMES), unfitted."""
        return make_recommender(name, log=log, **self.model_dump(exclude={"positive_min_rating"}))

    def min_rating(self) -> float | None:
        """The split's positive threshold (None: off)."""
        return self.positive_min_rating or None
