"""Run configs come from the models' dataclasses: one declaration, the same defaults in the launchpad."""

from dataclasses import dataclass, field

import dagster as dg

from foundation.run_config import run_config_for


@dataclass
class Settings:
    """Tiny training settings."""

    epochs: int = 3
    layers: list[int] = field(default_factory=lambda: [8, 8])
    name: str = "m"


SettingsConfig = run_config_for(Settings, "SettingsConfig", defaults={"name": "ui"})


def test_config_has_the_dataclass_fields_and_round_trips():
    assert SettingsConfig().to_dataclass() == Settings(name="ui")

    @dg.asset
    def trained(config: SettingsConfig) -> int:
        return config.to_dataclass().epochs * len(config.layers)

    result = dg.materialize([trained], run_config={"ops": {"trained": {"config": {"epochs": 5}}}})
    assert result.output_for_node("trained") == 10
