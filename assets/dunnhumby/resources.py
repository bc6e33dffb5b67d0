"""The dunnhumby settings resource (resource key `dunnhumby_models`)."""

from dataclasses import replace
from typing import Any

import dagster as dg


class DunnhumbyModelsResource(dg.ConfigurableResource):
    """Model and ingestion settings (resource key `dunnhumby_models`); tests pass tiny values."""

    mission_k_grid: list[int] = [10, 15, 20, 25, 30]
    mission_max_iter: int = 20
    mission_learning_method: str = "online"  # chosen by benchmarks/bench_dunnhumby_lda.py (2x faster, lower perplexity)
    mission_fit_max_baskets: int = 20_000  # LDA is fitted on a sample; every basket is scored
    # "full" (the original sizes), "small" (demo), "tiny" (tests); "-repeat" adds the repeat-aware output
    next_basket_preset: str = "full"
    next_basket_epochs: int = 0  # 0 keeps the preset's
    top_k: int = 10
    max_reject_share: float = 0.05

    def next_basket_config(self) -> Any:
        from models.dunnhumby.next_basket import NextBasketConfig  # Keras: imported when a model step runs

        config = NextBasketConfig.preset(self.next_basket_preset)
        config = replace(config, top_k=self.top_k)
        return replace(config, epochs=self.next_basket_epochs) if self.next_basket_epochs else config
