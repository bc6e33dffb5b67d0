"""Code corpus: GitHub repository search -> shallow clones -> filtered Python files -> character corpus -> char-LSTM.

    GitHub GraphQL search (sliced by creation date and stars)  -->  github_repositories[creation month]  (Delta)
    clone + extract + licence/quality filters + exact/near dedup  -->  source_files[creation month]     (Delta)
    split by repository, encode, fixed-length windows  -->  char_corpus  (TFRecords train/validation/test)
    char_rnn_model (model store `char_rnn`)  -->  char_rnn_evaluation, code_completions

A month partition owns the repositories created in that month, so a range backfill crawls history
and a re-crawl replaces exactly its months. Every dropped repository or file goes to the quarantine
with its reason. A weekly schedule re-crawls; a sensor asks GitHub for repositories pushed since its
cursor and re-runs their months. See docs/code_corpus.md.

    tables.py      the Delta tables, the TFRecord dataset and the model store name, declared once
    partitions.py  the group, the creation-month partitions and month helpers
    resources.py   the GitHub endpoint/token (`code_github`) and corpus settings (`code_corpus`)
    ingestion.py   github_repositories, source_files (scrapers/code_corpus/)
    corpus.py      char_corpus (models/code_corpus/corpus.py)
    training.py    char_rnn_model, char_rnn_evaluation, code_completions (models/code_corpus/)
    checks.py      asset checks
    automation.py  jobs, the weekly re-crawl schedule, the pushed-repositories sensor
    definitions.py `defs`
"""
