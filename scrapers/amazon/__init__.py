"""Amazon Reviews 2023 files: where they land and how they are named (`landing`), the streaming JSON-lines
reader (`jsonl`), and streaming one file into a Delta table with its rejects quarantined (`ingest`)."""
