"""The dunnhumby settings resource (resource key `dunnhumby_models`)."""

from dataclasses import replace
from typing import Any

import dagster as dg

from foundation.hardware import PresetChoice, choose_preset


class DunnhumbyModelsResource(dg.ConfigurableResource):
    """Model and ingestion settings (resource key `dunnhumby_models`); tests pass tiny values."""

    mission_k_grid: list[int] = [10, 15, 20, 25, 30]
    mission_max_iter: int = 20
    mission_learning_method: str = "online"  # chosen by benchmarks/bench_dunnhumby_lda.py (2x faster, lower perplexity)
    mission_fit_max_baskets: int = 20_000  # LDA is fitted on a sample; every basket is scored
    # A mission's words: "product", "class", "department" or "division" (PROD_CODE, _10, _20, _40). Department
    # by benchmarks/bench_dunnhumby_lda.py on later real weeks: coherent (NPMI > 0) and predictive (beats word
    # frequency), and among those the closest to dunnhumby's own mission label (docs/dunnhumby.md).
    mission_granularity: str = "department"
    # Next-basket model selection (models/dunnhumby/next_basket_selection.py): "cpu", "gpu", "small" (demo),
    # "tiny" (tests); empty = chosen by the hardware found (foundation/hardware.py), logged with the reason.
    next_basket_preset: str = ""
    next_basket_epochs: int = 0  # the repeat/explore network's epochs; 0 keeps the preset's
    top_k: int = 10
    max_reject_share: float = 0.05

    def next_basket_config(self) -> tuple[Any, PresetChoice]:
        """The selection settings and which preset was chosen, and why (a GPU or not, or the config)."""
        from models.dunnhumby.next_basket_selection import SelectionConfig

        choice = choose_preset(self.next_basket_preset or None, cpu_preset="cpu", gpu_preset="gpu")
        config = replace(SelectionConfig.preset(choice.preset), top_k=self.top_k)
        if self.next_basket_epochs:
            config = replace(config, network_epochs=self.next_basket_epochs)
        return config, choice
