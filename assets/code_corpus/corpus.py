"""The character corpus: kept source files -> next-character windows in TFRecords, split by repository."""

from typing import Any

import dagster as dg

from assets.code_corpus.ingestion import source_files
from assets.code_corpus.partitions import GROUP
from assets.code_corpus.resources import CodeCorpusSettingsResource
from assets.code_corpus.tables import CHAR_CORPUS, SOURCE_FILES
from foundation.automation import follow_updates
from foundation.resources import StorageResource
from models.code_corpus.corpus import SPLITS, drop_repeated_contents, write_splits
from models.code_corpus.vocab import CharVocabulary


# Rebuilt whenever a crawled month updates (encoding is cheap next to training); months never crawled do not block it.
@dg.asset(group_name=GROUP, deps=[source_files], kinds={"tensorflow"}, automation_condition=follow_updates())
def char_corpus(
    context: dg.AssetExecutionContext, storage: StorageResource, code_corpus: CodeCorpusSettingsResource
) -> dg.MaterializeResult:
    """Next-character examples in TFRecords, one folder per split, repositories held out whole."""
    store = SOURCE_FILES.store(storage)
    table = store.read(columns=["created_month", "repo_id", "name_with_owner", "path", "content_hash", "content"])
    table = table.sort_by([("created_month", "ascending"), ("name_with_owner", "ascending"), ("path", "ascending")])
    # The table is unique when months ran in order; this keeps the corpus unique whatever the order was.
    table, duplicates = drop_repeated_contents(table)
    vocab = CharVocabulary()
    version = store.version() if store.exists() else -1
    meta: dict[str, Any] = {
        "source_table_version": version,
        "duplicates_dropped": duplicates,
        "vocabulary_size": vocab.size,
    }
    unknown = 0
    for split in write_splits(
        table,
        lambda s: CHAR_CORPUS.uri(storage, s),
        code_corpus.seq_len,
        code_corpus.validation_fraction,
        code_corpus.test_fraction,
        {"source_table": store.uri, "source_table_version": version},
        vocab,
    ):
        meta |= {
            f"{split.split}_examples": split.examples,
            f"{split.split}_repositories": len(split.repositories),
            f"{split.split}_characters": split.characters,
            f"{split.split}_manifest": dg.MetadataValue.path(f"{split.uri}/manifest.json"),
        }
        unknown += split.unknown_characters
        context.log.info(
            f"{split.split}: {len(split.repositories)} repositories, {split.files} files, {split.characters} characters"
        )
    total = sum(meta[f"{s}_characters"] for s in SPLITS)
    meta["unknown_character_share"] = round(unknown / max(total, 1), 5)
    meta["dagster/row_count"] = sum(meta[f"{s}_examples"] for s in SPLITS)
    return dg.MaterializeResult(metadata=meta)
