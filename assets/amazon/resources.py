"""The Amazon domain's resource: the recommenders' hyper-parameters (key `amazon_model_settings`)."""

from typing import Any

import dagster as dg

from foundation.hardware import PresetChoice, choose_preset
from models.amazon.recommenders import Recommender
from models.amazon.training import AUTOENCODER_PRESETS, CPU_PRESET, GPU_PRESET, make_recommender

SPLIT_FIELDS = {"positive_min_rating", "split_protocol", "test_share", "validation_share", "preset"}


class AmazonModelSettingsResource(dg.ConfigurableResource):
    """Hyper-parameters of the recommenders and of the split; tests use a tiny autoencoder, the demo and benchmarks
    the preset's (`small` on a CPU). `autoencoder_epochs=0` scales the epochs with the data; `positive_min_rating=0` keeps every
    rating as a positive (e.g. 4.0: only ratings of 4 and 5 count)."""

    preset: str = ""  # `small` | `full`; empty: by the hardware (`small` without a GPU)
    knn_neighbours: int = 100
    ease_l2: float = 200.0
    autoencoder_hidden: int = 0  # 0: the preset's
    autoencoder_epochs: int = 0
    autoencoder_dropout: float = 0.5
    seed: int = 0
    positive_min_rating: float = 0.0
    # `temporal_leave_last_out` (each user's latest rating) or `global_time` (one cut for everybody: the latest
    # `test_share` of ratings); each with a validation split made the same way inside the training ratings.
    split_protocol: str = "temporal_leave_last_out"
    test_share: float = 0.1
    validation_share: float = 0.1

    def preset_choice(self) -> PresetChoice:
        """The autoencoder preset: configured, else by the hardware (the others have no size to choose)."""
        choice = choose_preset(self.preset or None, CPU_PRESET, GPU_PRESET)
        if choice.preset not in AUTOENCODER_PRESETS:
            raise ValueError(f"unknown preset {choice.preset!r}; choose one of {sorted(AUTOENCODER_PRESETS)}")
        return choice

    def make(self, name: str, log: Any = None) -> Recommender:
        """The recommender `name` (one of models.amazon.training.MODEL_NAMES), unfitted."""
        settings = self.model_dump(exclude=SPLIT_FIELDS)
        settings["autoencoder_hidden"] = self.autoencoder_hidden or AUTOENCODER_PRESETS[self.preset_choice().preset]
        return make_recommender(name, log=log, **settings)

    def min_rating(self) -> float | None:
        """The split's positive threshold (None: off)."""
        return self.positive_min_rating or None
