"""Real customer data (../shared/data/retail/anon_customers_1000.csv, anonymised: ID and Zip, no names)."""

from __future__ import annotations

import pandas as pd
import pytest

from models.retail.dedup import link_records, normalise
from models.retail.linkage_splink import link_records_splink


@pytest.mark.real_data
def test_real_zip_codes_normalise_and_zip_alone_never_links(shared_data) -> None:
    real = pd.read_csv(shared_data / "retail" / "anon_customers_1000.csv", dtype=str, keep_default_na=False)
    assert len(real) == 1000 and real["Zip"].str.contains("-").any()  # ZIP+4 occurs in the source
    records = pd.DataFrame(
        {
            "record_key": "real:" + real["ID"],
            "first_name": None,
            "last_name": None,
            "company": None,
            "address": None,
            "city": None,
            "state": None,
            "zip": real["Zip"],
            "phone": None,
            "email": real["ReferralCode"].str.strip().where(lambda s: s.str.contains("@"), None),
        }
    )
    norm = normalise(records)
    valid = real["Zip"].str.match(r"^\d{5}")
    assert norm.loc[valid, "zip"].str.fullmatch(r"\d{5}").all()
    # Anonymised customers share zip codes but nothing else: no evidence, so no merged entities.
    for result in (link_records(records, u_pairs=5000), link_records_splink(records, u_pairs=5000)):
        assert result.stats["candidate_pairs"] == 0
        assert result.entities["entity_id"].nunique() == 1000
