import pytest

from foundation.hardware import FORCE_ENV, choose_preset


def test_config_wins_then_hardware_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_preset("full", "small", "full").preset == "full"
    monkeypatch.setenv(FORCE_ENV, "cpu")
    choice = choose_preset(None, "small", "full")
    assert choice.preset == "small" and "no GPU" in choice.reason
    monkeypatch.setenv(FORCE_ENV, "gpu")
    assert choose_preset(None, "small", "full").preset == "full"
