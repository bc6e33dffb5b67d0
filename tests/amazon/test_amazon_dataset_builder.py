"""The build step on a hand-built case: every count in the report is worked out by hand in the comments."""

from datetime import UTC, datetime

import polars as pl

from models.amazon.dataset_builder import BuildSpec, build_dataset


def _reviews(rows):
    return pl.DataFrame(
        {
            "user_id": [r[0] for r in rows],
            "parent_asin": [r[1] for r in rows],
            "rating": [float(r[3]) for r in rows],
            "timestamp": [datetime.fromtimestamp(r[2], tz=UTC) for r in rows],
        }
    )


REVIEWS = _reviews(
    [
        ("u1", "i1", 1, 2),
        ("u1", "i1", 5, 4),  # the same item again: only this, the latest, is kept
        ("u1", "i2", 2, 5),
        ("u1", "i3", 3, 5),
        ("u2", "i1", 1, 3),
        ("u2", "i4", 2, 3),
        ("u3", "i4", 1, 1),
        ("u4", "i1", 1, 5),
        ("u4", "i2", 2, 4),
        ("u4", "i3", 3, 4),
        ("u4", "i5", 4, 2),
    ]
)
ITEMS = pl.DataFrame({"parent_asin": ["i1", "i2", "i3", "i4", "i5", "i6"], "rating_number": [100, 50, 20, 3, 10, 40]})


def test_original_filters_and_report():
    result = build_dataset(REVIEWS, ITEMS, BuildSpec(category="C", min_interactions=2, min_ratings=10))
    assert result.report == [
        "Found 4 users with 11 ratings of 5 items.",
        "Dropped 1 repeated ratings of an item by the same user (kept the latest).",
        # i4 (3 site ratings) and i5 (10, not above 10): u2-i4, u3-i4, u4-i5
        "Dropped 2 items with 10 or fewer ratings (or no metadata) and their 3 ratings.",
        # u2 is left with i1 only; u3 already vanished with i4
        "Dropped 1 users with fewer than 2 ratings (1 ratings).",
        # i6 is popular on the site but nobody here rated it
        "Dropped 1 items with no ratings left.",
    ]
    assert result.counts | {} == {
        "found_users": 4,
        "found_ratings": 11,
        "found_items": 5,
        "dropped_repeats": 1,
        "dropped_unpopular_items": 2,
        "dropped_light_users": 1,
        "sampled_users": 2,
        "users": 2,
        "ratings": 6,
        "items": 3,
    }
    u1_i1 = result.ratings.filter((pl.col("user_id") == "u1") & (pl.col("parent_asin") == "i1"))
    assert u1_i1["rating"].to_list() == [4.0]
    assert sorted(result.items["parent_asin"]) == ["i1", "i2", "i3"]


def test_sample_n_keeps_that_many_users_deterministically():
    spec = BuildSpec(category="C", min_interactions=1, min_ratings=0, sample_n=2, seed=4)
    first = build_dataset(REVIEWS, ITEMS, spec)
    assert first.counts["users"] == 2
    assert first.ratings.equals(build_dataset(REVIEWS, ITEMS, spec).ratings)
    assert "Sampled 2 of 4 users" in first.report[4]


def test_iterative_k_core_makes_the_thresholds_hold():
    # u5 rates i1 and i7; i7 has one rater, so dropping it leaves u5 with one rating: a second pass drops u5.
    reviews = pl.concat([REVIEWS, _reviews([("u5", "i1", 1, 5), ("u5", "i7", 2, 5)])])
    items = pl.concat([ITEMS, pl.DataFrame({"parent_asin": ["i7"], "rating_number": [30]})])
    plain = build_dataset(reviews, items, BuildSpec(category="C", min_interactions=2, min_ratings=10))
    per_item = plain.ratings.group_by("parent_asin").len()
    assert per_item.filter(pl.col("parent_asin") == "i7")["len"].to_list() == [1]

    spec = BuildSpec(category="C", min_interactions=2, min_ratings=10, k_core=True, min_item_interactions=2)
    core = build_dataset(reviews, items, spec)
    assert core.counts["k_core_passes"] == 3  # pass 1 drops i7, pass 2 drops u5, pass 3 changes nothing
    assert core.report[-3:] == [
        "k-core pass 1: dropped 0 users and 1 items (1 ratings).",
        "k-core pass 2: dropped 1 users and 0 items (1 ratings).",
        "k-core holds after 3 pass(es): every user has >= 2 ratings, every item >= 2.",
    ]
    assert core.ratings.group_by("user_id").len()["len"].min() >= 2
    assert core.ratings.group_by("parent_asin").len()["len"].min() >= 2
