"""The character-level code model: vocabulary (`vocab`), corpus cutting (`corpus`), configurations and presets
(`config`), the LSTM (`model`), baselines and evaluation (`baselines`, `evaluation`), completion and its web page
(`completion`, `service`)."""
