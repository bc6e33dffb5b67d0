"""Declared tables: columns named in a declaration must exist; personal data never reaches metadata."""

import pyarrow as pa
import pytest

from foundation.resources import StorageResource
from foundation.tables import DeltaTableSpec

SCHEMA = pa.schema([("store", pa.string()), ("customer_id", pa.int64()), ("email", pa.string())])


def test_declaration_refuses_unknown_columns():
    with pytest.raises(ValueError, match="not in its schema"):
        DeltaTableSpec("t", SCHEMA, partition_by=("week",))


def test_personal_data_is_masked_in_sample_rows(tmp_path):
    spec = DeltaTableSpec("customers", SCHEMA, ("store",), keys=("customer_id",), personal_data=("email",))
    table = pa.table({"store": ["a"], "customer_id": [1], "email": ["jane@example.com"]}, schema=SCHEMA)
    meta = spec.store(StorageResource(root_uri=str(tmp_path))).replace_all(table).metadata()
    sample = meta["sample_rows"].value
    assert "jane@example.com" not in sample and "(personal data)" in sample and "| a | 1 |" in sample
