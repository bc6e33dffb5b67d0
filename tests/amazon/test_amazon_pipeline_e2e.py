"""The whole Amazon pipeline for real: landing files -> Delta -> dataset tag -> five models -> comparison."""

import contextlib
import io
import json

import pytest

from assets import amazon

from .conftest import SMALL, materialize

BUILD = {"category": SMALL.category, "min_interactions": 2, "min_ratings": 3, "k_core": True}


@pytest.mark.slow
def test_ingest_build_train_and_compare(instance, storage, landed):
    instance.add_dynamic_partitions(amazon.category_partitions.name, [SMALL.category])
    instance.add_dynamic_partitions(amazon.dataset_partitions.name, ["toys"])
    assert materialize(instance, storage, ["amazon_reviews", "amazon_items"], SMALL.category).success
    run_config = {"ops": {"amazon_dataset": {"config": BUILD}}}
    built = materialize(instance, storage, ["amazon_dataset"], "toys", run_config=run_config)
    meta = built.asset_materializations_for_node("amazon_dataset")[0].metadata
    assert meta["report"].value.strip().startswith(f"Found 600 users with {landed.good_reviews:,} ratings")
    assert all(e.passed for e in built.get_asset_check_evaluations())
    ratings = amazon.dataset_ratings_store(storage)
    rows = ratings.count()
    assert rows == meta["count_ratings"].value > 0

    # rebuilding the same tag replaces its rows
    materialize(instance, storage, ["amazon_dataset"], "toys", run_config=run_config)
    assert ratings.count() == rows

    # What the automation sensor launches (no run config): nothing while Toys is unchanged since the build...
    automated = {amazon.AUTOMATION_TAG: "true"}
    skipped = materialize(instance, storage, ["amazon_dataset"], "toys", tags=automated)
    assert not skipped.asset_materializations_for_node("amazon_dataset")
    # ...then, once Toys is re-ingested, the tag rebuilt with its saved spec (not the config defaults).
    assert materialize(instance, storage, ["amazon_reviews"], SMALL.category).success
    rebuilt = materialize(instance, storage, ["amazon_dataset"], "toys", tags=automated)
    spec = rebuilt.asset_materializations_for_node("amazon_dataset")[0].metadata["spec"].value
    assert spec["category"] == SMALL.category and spec["min_ratings"] == BUILD["min_ratings"]
    assert ratings.count() == rows

    models = [f"amazon_model_{name}" for name in amazon.MODEL_NAMES]
    compared = materialize(instance, storage, [*models, "amazon_model_comparison"], "toys")
    assert all(e.passed for e in compared.get_asset_check_evaluations())
    table = storage.delta("amazon_model_metrics", amazon.MODEL_METRICS_SCHEMA, ["tag"]).read()
    ndcg = dict(zip(table["model"].to_pylist(), table["ndcg@10"].to_pylist(), strict=True))
    assert set(ndcg) == set(amazon.MODEL_NAMES)
    assert ndcg["ease"] > ndcg["popular"] > ndcg["random"]
    assert ndcg["item_knn"] > ndcg["random"]
    assert (storage.model_path("amazon_autoencoder", "toys") / "mult_dae.keras").is_file()
    report = json.loads((storage.model_path("amazon_ease", "toys") / "metrics.json").read_text())
    assert report["test_users"] == len(set(ratings.read()["user_id"].to_pylist()))
    md = (storage.model_path("amazon_comparison", "toys") / "comparison.md").read_text()
    assert "| ease |" in md and "recall@10" in md


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
    instance.add_dynamic_partitions(amazon.category_partitions.name, [SMALL.category])
    materialize(instance, storage, ["amazon_reviews", "amazon_items"], SMALL.category)
    argv = ["build", "--category", SMALL.category, "--min-interactions", "3", "--min-ratings", "3"]
    code, out = _storefront(
        *argv, "--sample-n", "100", "--tag", "t100", "--k-core", root=storage.root_uri, monkeypatch=monkeypatch
    )
    assert code == 0
    assert out.startswith(f"Found 600 users with {landed.good_reviews:,} ratings of ")
    assert "Sampled 100 of " in out and "k-core holds" in out
    assert "Writing " in out and "amazon_dataset_ratings[tag=t100]" in out
    assert instance.has_dynamic_partition(amazon.dataset_partitions.name, "t100")
    assert len(set(amazon.dataset_ratings_store(storage).read()["user_id"].to_pylist())) == 100

    code, out = _storefront("build", "--category", "Nope", "--tag", "x", root=storage.root_uri, monkeypatch=monkeypatch)
    assert code == 1
    assert "no rows for category 'Nope'" in out
