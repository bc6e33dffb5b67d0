"""The real 2014 Musical Instruments sample (../shared/data), converted to the 2023 format and ingested."""

import json

import pytest

from assets.amazon.tables import REVIEWS
from scrapers.amazon.ingest import ingest_file
from scrapers.amazon.jsonl import convert_2014_reviews
from scrapers.amazon.landing import LANDING_SOURCE


@pytest.mark.real_data
def test_real_2014_reviews_convert_and_ingest_cleanly(shared_data, storage, tmp_path):
    source = shared_data / "amazon" / "musical_instruments_5core_2014_first50.json"
    target = storage.landing_path(LANDING_SOURCE) / "Musical_Instruments_2014.jsonl"
    assert convert_2014_reviews(source, target) == 50
    quarantine = storage.quarantine("amazon_reviews", "Musical_Instruments_2014")
    result, stats = ingest_file(REVIEWS.store(storage), quarantine, target, "reviews", "Musical_Instruments_2014")
    assert (result.rows_written, quarantine.count, stats["lines"]) == (50, 0, 50)
    first = json.loads(source.read_text().splitlines()[0])
    row = REVIEWS.store(storage).read().sort_by("source_line").slice(0, 1).to_pylist()[0]
    assert (row["user_id"], row["asin"], row["rating"]) == (first["reviewerID"], first["asin"], first["overall"])
    assert int(row["timestamp"].timestamp()) == first["unixReviewTime"]
