"""The whole Amazon pipeline for real: landing files -> Delta -> dataset tag -> five models -> comparison."""

import contextlib
import io
import json

import pytest

from assets.amazon.automation import AUTOMATION_TAG, MODEL_ASSETS
from assets.amazon.partitions import category_partitions, dataset_partitions
from assets.amazon.tables import DATASET_RATINGS, MODEL_METRICS
from models.amazon.training import MODEL_NAMES

from .conftest import SMALL, materialize

BUILD = {"category": SMALL.category, "min_interactions": 2, "min_ratings": 3, "k_core": True}


@pytest.mark.slow
def test_ingest_build_train_and_compare(instance, storage, landed):
    instance.add_dynamic_partitions(category_partitions.name, [SMALL.category])
    instance.add_dynamic_partitions(dataset_partitions.name, ["toys"])
    assert materialize(instance, storage, ["amazon_reviews", "amazon_items"], SMALL.category).success
    run_config = {"ops": {"amazon_dataset": {"config": BUILD}}}
    built = materialize(instance, storage, ["amazon_dataset"], "toys", run_config=run_config)
    meta = built.asset_materializations_for_node("amazon_dataset")[0].metadata
    assert meta["report"].value.strip().startswith(f"Found 600 users with {landed.good_reviews:,} ratings")
    assert all(e.passed for e in built.get_asset_check_evaluations())
    ratings = DATASET_RATINGS.store(storage)
    rows = ratings.count()
    assert rows == meta["count_ratings"].value > 0

    # rebuilding the same tag replaces its rows
    materialize(instance, storage, ["amazon_dataset"], "toys", run_config=run_config)
    assert ratings.count() == rows

    # What the automation sensor launches (no run config): nothing while Toys is unchanged since the build...
    automated = {AUTOMATION_TAG: "true"}
    skipped = materialize(instance, storage, ["amazon_dataset"], "toys", tags=automated)
    assert not skipped.asset_materializations_for_node("amazon_dataset")
    # ...then, once Toys is re-ingested, the tag rebuilt with its saved spec (not the config defaults).
    assert materialize(instance, storage, ["amazon_reviews"], SMALL.category).success
    rebuilt = materialize(instance, storage, ["amazon_dataset"], "toys", tags=automated)
    spec = rebuilt.asset_materializations_for_node("amazon_dataset")[0].metadata["spec"].value
    assert spec["category"] == SMALL.category and spec["min_ratings"] == BUILD["min_ratings"]
    assert ratings.count() == rows

    compared = materialize(instance, storage, [*MODEL_ASSETS, "amazon_model_comparison"], "toys")
    assert all(e.passed for e in compared.get_asset_check_evaluations())
    table = MODEL_METRICS.store(storage).read()
    ndcg = dict(zip(table["model"].to_pylist(), table["ndcg@10"].to_pylist(), strict=True))
    assert set(ndcg) == set(MODEL_NAMES)
    assert ndcg["ease"] > ndcg["popular"] > ndcg["random"]
    assert ndcg["item_knn"] > ndcg["random"]
    autoencoder = storage.model_store("amazon_autoencoder", "toys")
    assert (autoencoder.path() / "mult_dae.keras").is_file()
    assert autoencoder.manifest()["files"] == ["metrics.json", "mult_dae.keras", "per_user.npz"]
    report = json.loads(storage.model_store("amazon_ease", "toys").read_text("metrics.json"))
    assert report["test_users"] == len(set(ratings.read()["user_id"].to_pylist()))
    comparison = storage.model_store("amazon_comparison", "toys")
    md = comparison.read_text("comparison.md")
    assert "| ease |" in md and "recall@10" in md
    assert set(comparison.manifest()["data_versions"]) == {f"amazon_{name}" for name in MODEL_NAMES}
    # The champion is the validation winner, and every model's test metrics carry bootstrap intervals.
    selection = json.loads(comparison.read_text("champion.json"))
    validation = {name: m["ndcg@10"]["mean"] for name, m in selection["validation"].items()}
    assert selection["champion"] == max(validation, key=validation.__getitem__) and "Champion (served)" in md
    assert set(selection["test"]) == set(MODEL_NAMES)
    assert all(m["ndcg@10"]["low"] <= m["ndcg@10"]["mean"] <= m["ndcg@10"]["high"] for m in selection["test"].values())
    assert selection["test"]["ease"]["ndcg@10"]["mean"] == pytest.approx(ndcg["ease"], abs=1e-4)
    assert report["split_settings"]["validation_users"] > 0 and report["validation_metrics"]["ndcg@10"] > 0
    spec = json.loads(storage.model_store("amazon_dataset", "toys").read_text("spec.json"))
    assert spec == {"min_item_interactions": 1, "sample_n": 0, "seed": 0, **BUILD}


def _storefront(*argv: str, root: str, monkeypatch) -> tuple[int, str]:
    """The real command line in this process (its output captured without pytest's capsys, which breaks once
    TensorFlow has hooked the streams); DAGSTER_HOME is the test instance's."""
    from pipelines.cli import main

    monkeypatch.setenv("STOREFRONT_ROOT", root)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


@pytest.mark.slow
def test_storefront_build_prints_the_report(instance, storage, landed, monkeypatch):
    instance.add_dynamic_partitions(category_partitions.name, [SMALL.category])
    materialize(instance, storage, ["amazon_reviews", "amazon_items"], SMALL.category)
    argv = ["build", "--category", SMALL.category, "--min-interactions", "3", "--min-ratings", "3"]
    code, out = _storefront(
        *argv, "--sample-n", "100", "--tag", "t100", "--k-core", root=storage.root_uri, monkeypatch=monkeypatch
    )
    assert code == 0
    assert out.startswith(f"Found 600 users with {landed.good_reviews:,} ratings of ")
    assert "Sampled 100 of " in out and "k-core holds" in out
    assert "Writing " in out and "amazon_dataset_ratings[tag=t100]" in out
    assert instance.has_dynamic_partition(dataset_partitions.name, "t100")
    assert len(set(DATASET_RATINGS.store(storage).read()["user_id"].to_pylist())) == 100

    code, out = _storefront("build", "--category", "Nope", "--tag", "x", root=storage.root_uri, monkeypatch=monkeypatch)
    assert code == 1
    assert "no rows for category 'Nope'" in out
