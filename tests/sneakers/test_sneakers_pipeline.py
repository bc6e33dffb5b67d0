"""The whole pipeline for real: sandbox shop -> crawl in a child process -> Delta -> images -> TFRecords -> CNN,
stacking, predictions and evaluation (tiny CNN configuration)."""

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest
from PIL import Image

from assets.sneakers import automation
from assets.sneakers.tables import CNN_MODEL, IMAGES, LISTINGS, PREDICTIONS, PRICE_HISTORY, SPLITS, TRAINING_SET
from foundation.storage.tfrecords import read_manifest
from models.sneakers import cnn as sneaker_cnn

from .conftest import ALL, materialize

INGEST = list(automation.INGEST)


@pytest.mark.slow
def test_pipeline_end_to_end_idempotent_with_price_history_quarantine_and_models(instance, storage, sandbox_shop):
    url = sandbox_shop.base_url
    meta, checks = materialize(
        instance, storage, url, INGEST, partition_range=ALL, tags={"sneakers/scrape_date": "2026-11-01"}
    )
    assert all(checks.values()), checks
    listings = LISTINGS.store(storage).read()
    expected = sandbox_shop.shop.expected_ids()
    assert sorted(listings.column("listing_id").to_pylist()) == sorted(expected)  # none missing, none twice
    assert meta["sneaker_listings"]["rate_limited_429"] >= 1
    assert meta["sneaker_listings"]["empty_prices"] > 0
    images = meta["sneaker_images"]
    assert images["quarantined_rows"] > 0
    assert set(images["quarantine_reasons"]) <= {"placeholder_image", "corrupt", "not_an_image", "decompression_bomb"}
    image_rows = IMAGES.store(storage).read()
    path = Path(image_rows.column("path")[0].as_py())
    assert Image.open(path).size == (224, 224)

    # The same day again: nothing doubles; good images are not downloaded again (failed ones are retried).
    retried = images["quarantined_rows"] - images["quarantine_reasons"].get("placeholder_image", 0)
    meta, checks = materialize(
        instance, storage, url, INGEST, partition_range=ALL, tags={"sneakers/scrape_date": "2026-11-01"}
    )
    assert all(checks.values()), checks
    assert LISTINGS.store(storage).count() == len(expected)
    assert PRICE_HISTORY.store(storage).count() == len(expected)
    assert meta["sneaker_images"]["downloaded"] == retried
    assert meta["sneaker_images"]["reused_from_earlier_runs"] == image_rows.num_rows
    assert IMAGES.store(storage).count() == image_rows.num_rows

    # The next day, one query re-scraped (through the browser): its prices join the history.
    meta, checks = materialize(
        instance,
        storage,
        url,
        INGEST,
        partition="yeezy-slide",
        tags={"sneakers/scrape_date": "2026-11-02"},
        strategy="playwright",
    )
    assert all(checks.values()), checks
    history = PRICE_HISTORY.store(storage).read()
    per_day = Counter(str(d) for d in history.column("scrape_date").to_pylist())
    assert per_day == {"2026-11-01": len(expected), "2026-11-02": 40}
    assert LISTINGS.store(storage).count() == len(expected)

    # TFRecords: three leak-free splits with every feature the models need.
    meta, checks = materialize(instance, storage, url, ["sneaker_tfrecords"])
    assert checks == {"sneaker_splits_do_not_leak": True}
    tf_meta = meta["sneaker_tfrecords"]
    manifest = read_manifest(TRAINING_SET.uri(storage, "train"))
    assert set(manifest.features) == {
        "listing_id",
        "image",
        "title",
        "price",
        "price_bin",
        "price_quantile",
        "model",
        "brand",
    }
    assert manifest.features["model"].length == 25 and manifest.features["brand"].length == 6
    assert manifest.metadata["vocabularies"]["brand"] == [
        "ADIDAS",
        "AIR JORDAN",
        "BAPESTA",
        "NEW BALANCE",
        "NIKE",
        "YEEZY",
    ]
    splits = SPLITS.store(storage).read()
    assert splits.num_rows == sum(tf_meta["examples"].values())
    assert tf_meta["skipped"]["no_price"] > 0

    # Models: tiny CNN, stacking, predictions, evaluation next to the baselines.
    meta, checks = materialize(instance, storage, url, list(automation.TRAINING))
    version = meta["sneaker_cnn"]["model_version"]
    store = storage.model_store(CNN_MODEL)
    assert meta["sneaker_cnn"]["architecture"] == "tiny"
    assert store.versions() == [version] and store.latest() == version
    evaluation = meta["sneaker_evaluation"]
    print(evaluation["metrics"])
    assert evaluation["cnn_beats_majority"] == {"price_bin": True, "price_quantile": True, "model": True, "brand": True}
    # Each head serves its validation champion (title-only may beat a tiny CNN: then the baseline is served and the
    # metadata says so); every candidate's test accuracy comes with a bootstrap interval over listings.
    champions = evaluation["champions"]
    for head, chosen in champions.items():
        validation = {c: v["accuracy"]["mean"] for c, v in chosen["validation"].items()}
        assert validation[chosen["champion"]] == max(validation.values())
        assert evaluation["served"][head].startswith(chosen["champion"])
        assert evaluation["served"][head].endswith("(baseline)") == chosen["champion_is_baseline"]
        for interval in (v["accuracy"] for v in chosen["test"].values()):
            assert interval["low"] <= interval["mean"] <= interval["high"]
    served = Counter(
        zip(
            PREDICTIONS.store(storage).read().column("head").to_pylist(),
            PREDICTIONS.store(storage).read().column("served_by").to_pylist(),
            strict=True,
        )
    )
    assert {h: b for h, b in served} == {h: c["champion"] for h, c in champions.items()}
    # The model check (WARN) compares each head's champion with its strongest baseline on test (paired interval).
    holds = [
        c["champion_is_baseline"] or c["champion_minus_best_baseline_test"]["high"] >= 0 for c in champions.values()
    ]
    assert checks["sneaker_cnn_beats_majority"] == all(holds)
    for head, methods in evaluation["metrics"].items():
        assert {"cnn", "stacked", "majority", "title_only"} <= set(methods)
        assert ("median_model_price" in methods) == head.startswith("price")
    assert "data:image/png;base64," in evaluation["report"]

    predictions = PREDICTIONS.store(storage).read()
    keys = Counter(
        zip(predictions.column("listing_id").to_pylist(), predictions.column("head").to_pylist(), strict=True)
    )
    assert max(keys.values()) == 1 and len(keys) == 4 * splits.num_rows

    # The saved model reloads and reproduces the stored predictions exactly.
    model, settings, info = sneaker_cnn.load(store.path(version))
    ids, probabilities, _ = sneaker_cnn.predict(model, TRAINING_SET.uri(storage, "test"), settings)
    stored = {
        (r["listing_id"], r["head"]): r["cnn_probabilities"]
        for r in predictions.filter(pc.equal(pc.field("split"), "test")).to_pylist()
    }
    for head in settings.heads:
        expected_rows = np.array([stored[(i, head)] for i in ids], dtype=np.float32)
        np.testing.assert_array_equal(probabilities[head].astype(np.float32), expected_rows)
    assert info["trained_from"]["splits_table_version"] == tf_meta["splits_table_version"]
    # Meta-models and the evaluation report were added to the CNN's version; the manifest records its data.
    assert {"meta_models.pkl", "validation_oof.npz", "evaluation.md"} <= {p.name for p in store.path(version).iterdir()}
    assert store.manifest(version)["data_versions"]["splits_table_version"] == tf_meta["splits_table_version"]
    assert store.read_text("evaluation.md", version) == evaluation["report"]
