"""The sneaker split's grouping is transitive: listings linked through a shared image or model+colourway share a split."""

from models.sneakers.dataset import DatasetSettings, assign_splits, group_keys


def test_a_chain_of_shared_image_then_shared_model_colourway_is_one_group():
    # A~B share an image, B~C share a model+colourway; D is unrelated. The old rule gave A and B the group
    # "m1|red" (first user of the image) but C "m2|blue": a leak through B.
    models = ["m1", "m2", "m2", "m3"]
    colourways = ["red", "blue", "blue", "black"]
    images = ["img-1", "img-1", "img-2", "img-3"]
    groups = group_keys(models, colourways, images)
    assert groups[0] == groups[1] == groups[2] == "m1|red"
    assert groups[3] == "m3|black"
    # The name does not depend on row order.
    assert group_keys(models[::-1], colourways[::-1], images[::-1]) == groups[::-1]


def test_a_long_chain_lands_in_one_split_and_no_key_spans_two():
    # 40 listings chained alternately by image and by model+colourway, plus 40 unrelated ones.
    rows = []
    for i in range(40):
        rows.append({"model": f"m{(i + 1) // 2}", "colourway": "c", "image_sha": f"chain-{i // 2}", "price": 100.0 + i})
    rows += [{"model": f"solo{i}", "colourway": "c", "image_sha": f"solo-{i}", "price": 50.0 + i} for i in range(40)]
    assign_splits(rows, DatasetSettings(price_quantile_bins=2))
    assert len({r["split"] for r in rows[:40]}) == 1
    for key in ("image_sha", "model"):
        splits: dict[str, set[str]] = {}
        for r in rows:
            splits.setdefault(r[key], set()).add(r["split"])
        assert all(len(s) == 1 for s in splits.values())
    assert len({r["split"] for r in rows[40:]}) > 1  # unrelated listings still spread over the splits


def _write_splits(storage, splits: dict[str, str]) -> None:
    """A `sneaker_splits` table of five listings with the old rule's groups, and shards that match its counts."""
    import pyarrow as pa

    from assets.sneakers.tables import SPLITS, TRAINING_SET
    from foundation.storage.tfrecords import FeatureSpec, ShardWriter

    listings = {  # id: model, title, image; A~B share an image, B~C a model+colourway
        "A": ("m1", "Nike M1 'Red'", "img-1"),
        "B": ("m2", "Nike M2 'Blue'", "img-1"),
        "C": ("m2", "Nike M2 Retro 'Blue' 2019", "img-2"),
        "D": ("m3", "Nike M3 'Black'", "img-3"),
        "E": ("m4", "Nike M4 'White'", "img-4"),
    }
    old_groups = {"A": "m1|red", "B": "m1|red", "C": "m2|blue", "D": "m3|black", "E": "m4|white"}
    rows = [
        {"listing_id": i, "split": splits[i], "group": old_groups[i], "image_sha": sha, "title": title}
        | {"price": 100.0, "model": model, "brand": "Nike", "query": "q"}
        for i, (model, title, sha) in listings.items()
    ]
    SPLITS.store(storage).replace_all(pa.Table.from_pylist(rows, schema=SPLITS.schema))
    for split in ("train", "validation", "test"):
        with ShardWriter(TRAINING_SET.uri(storage, split), {"listing_id": FeatureSpec("bytes")}) as writer:
            for r in (r for r in rows if r["split"] == split):
                writer.write({"listing_id": r["listing_id"]})


def test_leak_check_sees_a_model_colourway_in_two_splits_that_the_groups_hide(storage):
    from assets.sneakers.checks import sneaker_splits_do_not_leak

    check = sneaker_splits_do_not_leak.op.compute_fn.decorated_fn
    # The old grouping's outcome: A, B in one group (train), C in another (test): B and C share m2|blue.
    _write_splits(storage, {"A": "train", "B": "train", "C": "test", "D": "validation", "E": "test"})
    result = check(storage)
    assert not result.passed
    assert result.metadata["keys_in_two_splits"].value == {"listing_id": 0, "model_colourway": 1, "image_sha": 0}
    # The union-find grouping keeps the chain A, B, C together: the check passes.
    _write_splits(storage, {"A": "train", "B": "train", "C": "train", "D": "validation", "E": "test"})
    assert check(storage).passed
