"""Record linkage on generated customers: quality against planted truth, near-linear blocking, scoring."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from models.retail.dedup import BLOCKING_RULES, candidate_pairs, link_records, normalise, pairwise_scores
from models.retail.linkage_splink import BLOCKING_RULES as SPLINK_BLOCKING_RULES
from models.retail.linkage_splink import MATCH_THRESHOLD, link_records_splink
from sandbox.retail import generate_customers, linkage_input


def test_generator_is_deterministic_and_plants_duplicates() -> None:
    a, b = generate_customers(500, seed=4), generate_customers(500, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(generate_customers(500, seed=5))
    sizes = a.groupby("PersonID").size()
    assert (sizes > 1).mean() == pytest.approx(0.3, abs=0.06)
    # duplicates span stores and carry damage (typos, missing phone/e-mail)
    assert (a.groupby("PersonID")["StoreID"].nunique() > 1).any()
    assert a["PhoneNumber"].isna().any() and (a["EmailAddress"].fillna("") == "").any()
    assert a.groupby(["StoreID", "ID"]).size().max() == 1


def test_dedup_quality_on_generated_stores() -> None:
    customers = generate_customers(3000, seed=21)
    result = link_records(linkage_input(customers))
    quality = pairwise_scores(result.entities["entity_id"], customers["PersonID"])
    assert quality["f1"] >= 0.95, quality
    assert quality["true_positive_pairs"] + quality["false_negative_pairs"] == quality["true_pairs"]
    # entity ids are the smallest record key of each cluster, and every record has exactly one
    assert result.entities["record_key"].is_unique
    assert (
        result.entities.groupby("entity_id")["record_key"].min() == result.entities.groupby("entity_id").size().index
    ).all()
    linked = result.entities.dropna(subset=["match_score"])
    assert ((linked["match_score"] >= 0.97) & (linked["cluster_size"] > 1)).all()


def test_blocking_grows_near_linearly() -> None:
    per_record = []
    for people in (2000, 8000):
        norm = normalise(linkage_input(generate_customers(people, seed=2)))
        pairs, stats = candidate_pairs(norm)
        per_record.append(len(pairs) / len(norm))
        assert set(stats["pairs_per_rule"]) >= {"email", "phone"}
    assert per_record[1] < per_record[0] * 1.5, per_record


def test_pairwise_scores_counts_pairs_exactly() -> None:
    # truth: {a,b,c} {d}; predicted: {a,b} {c,d} -> tp 1 (a-b), fp 1 (c-d), fn 2 (a-c, b-c)
    scores = pairwise_scores(["x", "x", "y", "y"], [1, 1, 1, 2])
    assert (scores["true_positive_pairs"], scores["false_positive_pairs"], scores["false_negative_pairs"]) == (1, 1, 2)
    assert scores["precision"] == 0.5 and scores["recall"] == pytest.approx(1 / 3, abs=1e-4)


def swapped_names_records() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_key": ["s1:1", "s2:7", "s1:2"],
            "first_name": ["Maria", "Garcia", "Mark"],
            "last_name": ["Garcia", "Maria", "Hughes"],
            "company": [None, None, None],
            "address": ["12 Oak Street", "12 Oak St", "99 Elm Road"],
            "city": ["Hoover", "Hoover", "Hoover"],
            "state": ["AL", "AL", "AL"],
            "zip": ["35201", "35201-1234", "35201"],
            "phone": ["(205) 555-0101", "2055550101", "205-555-0199"],
            "email": ["m.garcia@aol.com", None, "mh@aol.com"],
        }
    )


@pytest.mark.parametrize("engine", [link_records, link_records_splink], ids=["baseline", "splink"])
def test_swapped_names_and_reformatted_phones_still_match(engine) -> None:
    # three records: too few for EM, so splink skips the sessions without pairs and still links
    entities = engine(swapped_names_records(), u_pairs=1000).entities.set_index("record_key")["entity_id"]
    assert entities["s1:1"] == entities["s2:7"] == "s1:1"
    assert entities["s1:2"] == "s1:2"


def test_splink_dedup_quality_and_same_candidate_pairs_as_baseline() -> None:
    customers = generate_customers(3000, seed=21)
    records = linkage_input(customers)
    result = link_records_splink(records)
    quality = pairwise_scores(result.entities["entity_id"], customers["PersonID"])
    assert quality["f1"] >= 0.95 and quality["precision"] >= 0.98, quality
    # the blocking rules are the baseline's: the same candidate pairs get scored
    assert result.stats["candidate_pairs"] == len(candidate_pairs(normalise(records))[0])
    assert set(result.stats["pairs_per_rule"]) <= set(SPLINK_BLOCKING_RULES) == set(BLOCKING_RULES)
    assert result.stats["em_sessions_skipped"] == []
    entities = result.entities
    assert entities["record_key"].is_unique and len(entities) == len(records)
    assert (entities.groupby("entity_id")["record_key"].min() == entities.groupby("entity_id").size().index).all()
    linked = entities.dropna(subset=["match_score"])
    assert ((linked["match_score"] >= MATCH_THRESHOLD) & (linked["cluster_size"] > 1)).all()


OFFLINE_RUN = """
from models.retail.linkage_splink import link_records_splink
from sandbox.retail import generate_customers, linkage_input
result = link_records_splink(linkage_input(generate_customers(300, seed=3)))
assert result.stats["linked_pairs"] > 0, result.stats
"""


def test_splink_runs_without_network_and_writes_only_to_a_temp_dir(tmp_path: Path, missing) -> None:
    # A new network namespace has no interfaces: any download attempt (DuckDB extensions) would fail.
    if not shutil.which("unshare") or subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode:
        missing("unshare -rn (user + network namespace) is not available here")
    home, temp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temp.mkdir()
    repo = Path(__file__).resolve().parents[2]
    env = os.environ | {"HOME": str(home), "TMPDIR": str(temp), "PYTHONPATH": str(repo)}
    run = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c", OFFLINE_RUN], cwd=home, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert list(home.iterdir()) == [] and list(temp.iterdir()) == []  # spill dir removed, nothing else written
