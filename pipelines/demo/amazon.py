"""The Amazon demo: the sandbox category landed, both files ingested, the `sandbox` tag built, every
recommender trained and compared."""

from assets.amazon.automation import MODEL_ASSETS
from assets.amazon.dataset import AmazonDatasetConfig
from assets.amazon.partitions import category_partitions, dataset_partitions
from pipelines.demo import DemoContext
from sandbox.amazon import AmazonSandboxSpec, generate
from scrapers.amazon.landing import LANDING_SOURCE

DEMO_TAG = "sandbox"


def run(ctx: DemoContext) -> None:
    """Generate the sandbox category, ingest both files, build the `sandbox` tag, train and compare."""
    spec = AmazonSandboxSpec()
    with ctx.landing(LANDING_SOURCE) as folder:
        generate(folder, spec)
    ctx.instance.add_dynamic_partitions(category_partitions.name, [spec.category])
    ctx.instance.add_dynamic_partitions(dataset_partitions.name, [DEMO_TAG])
    ctx.materialize(["amazon_reviews", "amazon_items"], partitions=[spec.category])
    build = AmazonDatasetConfig(category=spec.category, min_interactions=3, min_ratings=5, k_core=True)
    ctx.materialize(
        "amazon_dataset",
        partitions=[DEMO_TAG],
        run_config={"ops": {"amazon_dataset": {"config": build.model_dump()}}},
    )
    ctx.materialize([*MODEL_ASSETS, "amazon_model_comparison"], partitions=[DEMO_TAG])
