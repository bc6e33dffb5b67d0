"""The dataset builder (the original `build` step): a category's ratings filtered into a dataset tag.

The filters are models/amazon/dataset_builder.py; the spec of each tag goes to the model store
`amazon_dataset/<tag>` (spec.json, report.txt), so automated rebuilds and checks use what was specified.
"""

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl

from assets.amazon.automation import AUTOMATION_TAG
from assets.amazon.ingestion import amazon_items, amazon_reviews
from assets.amazon.partitions import dataset_partitions
from assets.amazon.tables import DATASET_ITEMS, DATASET_ITEMS_SCHEMA, DATASET_RATINGS, ITEMS, REVIEWS
from foundation.automation import follow_updates
from foundation.compute import COMPUTE_RESOURCE_DEFS, ComputeResource
from foundation.progress import Progress
from foundation.resources import StorageResource
from foundation.run_config import run_config_for
from foundation.storage.delta_tables import Window
from models.amazon.dataset_builder import BuildSpec, build_dataset
from models.amazon.dataset_builder_daft import build_dataset_on_cluster

AmazonDatasetConfig = run_config_for(
    BuildSpec,
    "AmazonDatasetConfig",
    defaults={"category": "Sandbox_Electronics"},
    doc="The build spec of one dataset tag (same knobs as `storefront build`).",
)


def build_for_tag(
    storage: StorageResource,
    tag: str,
    spec: BuildSpec,
    run_id: str,
    log: Any = None,
    compute: ComputeResource | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """Read the category, build, write both tables for `tag` and publish the spec; returns the report lines
    and asset metadata. With a Ray cluster (`compute`) the ratings are read and filtered by its workers."""
    window = Window.of("category", spec.category)
    reviews_store, items_store = REVIEWS.store(storage), ITEMS.store(storage)
    engine = compute.engine() if compute is not None else None
    rating_columns = ["user_id", "parent_asin", "rating", "timestamp"]
    if engine is not None:
        reviews_on_cluster = engine.read_delta(reviews_store.uri, window, rating_columns)
        found = reviews_on_cluster.count_rows()
    else:
        reviews = pl.from_arrow(reviews_store.read(window, columns=rating_columns))
        found = reviews.height
    items = pl.from_arrow(
        items_store.read(
            window,
            columns=["parent_asin", "title", "main_category", "store", "average_rating", "rating_number", "price"],
        )
    )
    if found == 0:
        raise dg.Failure(
            description=f"amazon_reviews has no rows for category {spec.category!r}: ingest it first",
            metadata={"category": spec.category, "tag": tag},
        )
    with Progress(log, "reviews filtered into the dataset", found) as progress:
        if engine is not None:
            result = build_dataset_on_cluster(reviews_on_cluster, items, spec)
        else:
            result = build_dataset(reviews, items, spec)
        progress.advance(found)
    ratings_table = f"amazon_dataset_ratings[tag={tag}]"
    result.report.append(
        f"Writing {result.counts['ratings']:,} ratings by {result.counts['users']:,} users of "
        f"{result.counts['items']:,} items to {ratings_table} and amazon_dataset_items[tag={tag}]."
    )
    tagged = pl.lit(tag).alias("tag")
    # Derived from the (shrink-guarded) category tables by the tag's spec: a new spec may keep far fewer rows.
    ratings_result = DATASET_RATINGS.store(storage).overwrite(
        result.ratings.with_columns(tagged).to_arrow(), Window.of("tag", tag), allow_shrink=True
    )
    items_result = DATASET_ITEMS.store(storage).overwrite(
        result.items.select(DATASET_ITEMS_SCHEMA.names[1:]).with_columns(tagged).to_arrow(),
        Window.of("tag", tag),
        allow_shrink=True,
    )
    data_versions = {
        "amazon_reviews": reviews_store.version(),
        "amazon_items": items_store.version(),
        "amazon_dataset_ratings": ratings_result.version,
        "amazon_dataset_items": items_result.version,
    }
    store = storage.model_store("amazon_dataset", tag)
    with store.publish(run_id, data_versions=data_versions, params=spec.as_dict()) as draft:
        (draft.path / "spec.json").write_text(json.dumps(spec.as_dict(), indent=2))
        (draft.path / "report.txt").write_text("\n".join(result.report) + "\n")
        draft.metrics = dict(result.counts)
    metadata = ratings_result.metadata() | {
        "report": dg.MetadataValue.md("\n".join(f"    {line}" for line in result.report)),
        "spec": dg.MetadataValue.json(spec.as_dict()),
        "spec_version": draft.version,
        "items_table": dg.MetadataValue.path(items_result.uri),
        **{f"count_{k}": v for k, v in result.counts.items()},
        **progress.metadata(),
    }
    return result.report, metadata


def saved_spec(storage: StorageResource, tag: str) -> BuildSpec:
    """The spec the tag was last built with (its latest `amazon_dataset` model-store version)."""
    return BuildSpec(**json.loads(storage.model_store("amazon_dataset", tag).read_text("spec.json")))


def category_updated_since_build(instance: dg.DagsterInstance, category: str, tag: str) -> bool:
    """Whether amazon_reviews[category] or amazon_items[category] materialised after amazon_dataset[tag]."""

    def latest(key: str, partition: str) -> int:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(key), asset_partitions=[partition]), limit=1
        ).records
        return records[0].storage_id if records else -1

    return max(latest("amazon_reviews", category), latest("amazon_items", category)) > latest("amazon_dataset", tag)


@dg.asset(
    partitions_def=dataset_partitions,
    deps=[
        dg.AssetDep(amazon_reviews, partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep(amazon_items, partition_mapping=dg.AllPartitionMapping()),
    ],
    group_name="amazon",
    kinds={"delta", "polars"},
    description="A DeepCart-style dataset (filtered ratings + their items) per tag; `storefront build` runs it.",
    output_required=False,
    resource_defs=COMPUTE_RESOURCE_DEFS,
    # Cheap: tags built before are rebuilt when a category is re-ingested; new tags need a spec (`storefront build`).
    automation_condition=follow_updates() & ~dg.AutomationCondition.missing(),
)
def amazon_dataset(
    context: dg.AssetExecutionContext, config: AmazonDatasetConfig, storage: StorageResource, compute: ComputeResource
) -> Iterator[dg.MaterializeResult]:
    spec = config.to_dataclass()
    if context.run.tags.get(AUTOMATION_TAG):
        # Automated runs carry no run config: rebuild the tag as it was specified, and only if its own category
        # was re-ingested since (the graph maps every category to every tag, so every tag is asked).
        spec = saved_spec(storage, context.partition_key)
        if not category_updated_since_build(context.instance, spec.category, context.partition_key):
            context.log.info(f"category {spec.category} unchanged since tag {context.partition_key} was built; skipped")
            return
    report, metadata = build_for_tag(storage, context.partition_key, spec, context.run_id, context.log, compute)
    for line in report:
        context.log.info(line)
    yield dg.MaterializeResult(metadata=metadata)
