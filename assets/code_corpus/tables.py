"""Every Delta table, TFRecord dataset and model store of the code corpus, declared once."""

import pyarrow as pa

from foundation.tables import DeltaTableSpec, TFRecordDatasetSpec
from models.code_corpus.corpus import char_features

REPOSITORY_SCHEMA = pa.schema(
    [
        ("created_month", pa.string()),
        ("repo_id", pa.string()),
        ("database_id", pa.int64()),
        ("name_with_owner", pa.string()),
        ("url", pa.string()),
        ("stars", pa.int64()),
        ("license_spdx", pa.string()),
        ("default_branch", pa.string()),
        ("head_oid", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("pushed_at", pa.timestamp("us", tz="UTC")),
        ("is_fork", pa.bool_()),
        ("is_archived", pa.bool_()),
        ("disk_usage_kb", pa.int64()),
        ("crawled_at", pa.timestamp("us", tz="UTC")),
    ]
)

SOURCE_FILE_SCHEMA = pa.schema(
    [
        ("created_month", pa.string()),
        ("repo_id", pa.string()),
        ("name_with_owner", pa.string()),
        ("license_spdx", pa.string()),
        ("commit", pa.string()),
        ("path", pa.string()),
        ("blob_sha", pa.string()),
        ("size_bytes", pa.int64()),
        ("content_hash", pa.string()),
        ("content", pa.large_string()),
        ("lines", pa.int64()),
        ("max_line_length", pa.int64()),
        ("mean_line_length", pa.float64()),
        ("alphanum_fraction", pa.float64()),
    ]
)

# Owner logins (in `name_with_owner` and the URL) identify people for user-owned repositories; file contents
# are free text written by people (author names, e-mail addresses in headers).
REPOSITORIES = DeltaTableSpec(
    "code_github_repositories",
    REPOSITORY_SCHEMA,
    partition_by=("created_month",),
    keys=("repo_id",),
    personal_data=("name_with_owner", "url"),
    description="Repositories as GitHub search reports them, one row per repository in its creation month.",
)

SOURCE_FILES = DeltaTableSpec(
    "code_source_files",
    SOURCE_FILE_SCHEMA,
    partition_by=("created_month",),
    keys=("content_hash",),
    personal_data=("name_with_owner", "content"),
    description="Python files kept for the corpus (licence allowed, filtered, de-duplicated), with their content.",
)

DEFAULT_SEQ_LEN = 100  # the `code_corpus` resource's seq_len may change the windows' length

CHAR_CORPUS = TFRecordDatasetSpec(
    "char_corpus",
    char_features(DEFAULT_SEQ_LEN),
    description="Next-character windows (inputs, targets), one partition per split: train, validation, test.",
)

CHAR_RNN_MODEL = "char_rnn"  # `storage.model_store(CHAR_RNN_MODEL)`: the trained char-LSTM versions
