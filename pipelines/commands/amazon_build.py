"""`storefront build`: the DeepCart `build` step on an ingested Amazon category, as a Dagster run.

    storefront build --category Electronics --min-interactions 5 --min-ratings 10 --sample-n 10000 --tag e10k

materialises `amazon_dataset[tag]` (and with `--train`, every recommender and their comparison) on the
instance in DAGSTER_HOME, so the run and its report show in the UI, and prints the report. The model options
(`--ease-lambda`, `--knn-k`, `--autoencoder-epochs`, `--min-rating`, ...) override the `amazon_model_settings`
resource for this run; every model records the settings it was trained with in its metrics.json.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("build", help="build an Amazon reviews dataset (filters + report) under a tag")
    parser.add_argument("--category", required=True, help="an ingested category, e.g. Electronics")
    parser.add_argument("--min-interactions", type=int, default=5, help="keep users with at least N ratings")
    parser.add_argument("--min-ratings", type=int, default=10, help="keep items with more than M site ratings")
    parser.add_argument("--sample-n", type=int, default=0, help="sample K users (0: all)")
    parser.add_argument("--tag", required=True, help="name of the dataset (its Delta partition)")
    parser.add_argument("--k-core", action="store_true", help="repeat the user/item filters until they hold")
    parser.add_argument("--min-item-interactions", type=int, default=1, help="with --k-core: ratings per item")
    parser.add_argument("--seed", type=int, default=0, help="seed of the user sample")
    parser.add_argument("--train", action="store_true", help="also train, evaluate and compare every recommender")
    models = parser.add_argument_group("model settings (with --train; default: the amazon_model_settings resource)")
    for flag, field, kind, text in MODEL_OPTIONS:
        models.add_argument(flag, dest=f"model_{field}", type=kind, default=None, help=text)  # `seed` is taken
    parser.set_defaults(handler=run)


# flag, AmazonModelSettingsResource field, type, help
MODEL_OPTIONS = (
    ("--ease-lambda", "ease_l2", float, "EASE's L2 regularisation (lambda)"),
    ("--knn-k", "knn_neighbours", int, "item-kNN: neighbours kept per item"),
    ("--autoencoder-epochs", "autoencoder_epochs", int, "autoencoder epochs (0: scale with the data)"),
    ("--autoencoder-hidden", "autoencoder_hidden", int, "autoencoder bottleneck width (0: the preset's)"),
    ("--preset", "preset", str, "small | full (default: by the hardware, small without a GPU)"),
    ("--split-protocol", "split_protocol", str, "temporal_leave_last_out (default) | global_time"),
    ("--model-seed", "seed", int, "seed of the models and of the split's tie-break draw"),
    ("--min-rating", "positive_min_rating", float, "only ratings >= this are positives (0: all)"),
)


def run(args: argparse.Namespace) -> int:
    import dagster as dg

    from assets.amazon.automation import MODEL_ASSETS
    from assets.amazon.dataset import AmazonDatasetConfig
    from assets.amazon.partitions import dataset_partitions
    from assets.amazon.resources import AmazonModelSettingsResource
    from pipelines.definitions import defs, shared_resources

    # The options are named after the build spec's fields (models/amazon/dataset_builder.py BuildSpec).
    config = AmazonDatasetConfig(**{name: getattr(args, name) for name in AmazonDatasetConfig.model_fields})
    selection = ["amazon_dataset"]
    if args.train:
        selection += [*MODEL_ASSETS, "amazon_model_comparison"]
    chosen = {field: getattr(args, f"model_{field}") for _, field, _, _ in MODEL_OPTIONS}
    overrides = {field: value for field, value in chosen.items() if value is not None}
    if overrides and not args.train:
        print("model settings only apply with --train")
        return 2
    resources = {**defs.resources, **shared_resources()}
    current = resources.get("amazon_model_settings")
    if not isinstance(current, AmazonModelSettingsResource):
        current = AmazonModelSettingsResource()
    resources["amazon_model_settings"] = AmazonModelSettingsResource(**{**current.model_dump(), **overrides})
    instance = dg.DagsterInstance.get()
    if not instance.has_dynamic_partition(dataset_partitions.name, args.tag):
        instance.add_dynamic_partitions(dataset_partitions.name, [args.tag])
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=selection,
        partition_key=args.tag,
        instance=instance,
        resources=resources,
        run_config={"ops": {"amazon_dataset": {"config": config.model_dump()}}},
        tags={"storefront/source": "cli"},
        raise_on_error=False,
    )
    for event in result.get_asset_materialization_events():
        meta = event.event_specific_data.materialization.metadata
        for key in ("report", "comparison"):
            if key in meta:
                print(meta[key].value.replace("    ", "", 1).replace("\n    ", "\n"))
                print()
    if not result.success:
        for event in result.all_events:
            if event.event_type_value == "STEP_FAILURE":
                error = event.event_specific_data.error
                print(f"{event.step_key} failed: {(error.cause or error).message.strip()}")
        return 1
    return 0
