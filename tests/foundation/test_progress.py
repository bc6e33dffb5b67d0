import logging

from foundation.progress import Progress


def test_progress_logs_counts_and_rates(caplog):
    caplog.set_level(logging.INFO)
    with Progress(logging.getLogger("t"), "lines", total=3, every_seconds=0) as p:
        for _ in range(3):
            p.advance()
    assert "lines: 3/3 done" in caplog.text
    assert p.metadata()["lines_per_second"] > 0


def test_keras_progress_logs_every_epoch_with_metrics_and_rate(caplog):
    import keras
    import numpy as np

    from foundation.progress import keras_progress

    caplog.set_level(logging.INFO)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    x, y = np.ones((32, 3), "float32"), np.zeros((32, 1), "float32")
    callback = keras_progress(logging.getLogger("t"), "toy model", batch_size=8, every_seconds=0)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[callback])
    assert "toy model: epoch 1, step 1/4: loss" in caplog.text
    epoch_lines = [r.message for r in caplog.records if r.message.startswith("toy model: epoch 2/2: loss ")]
    assert epoch_lines and "mae " in epoch_lines[0] and epoch_lines[0].endswith("examples/s)")
