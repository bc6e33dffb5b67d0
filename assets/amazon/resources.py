"""The Amazon domain's resource: the recommenders' hyper-parameters (key `amazon_model_settings`)."""

from typing import Any

import dagster as dg

from models.amazon.recommenders import Recommender
from models.amazon.training import make_recommender


class AmazonModelSettingsResource(dg.ConfigurableResource):
    """Hyper-parameters of the recommenders; tests use a tiny autoencoder, the demo and benchmarks the full one."""

    knn_neighbours: int = 100
    ease_l2: float = 200.0
    autoencoder_hidden: int = 200
    autoencoder_epochs: int = 30
    autoencoder_dropout: float = 0.5
    seed: int = 0

    def make(self, name: str, log: Any = None) -> Recommender:
        """The recommender `name` (one of models.amazon.training.MODEL_NAMES), unfitted."""
        return make_recommender(name, log=log, **self.model_dump())
