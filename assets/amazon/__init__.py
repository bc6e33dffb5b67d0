"""Amazon Reviews 2023: landing files -> Delta tables -> DeepCart-style datasets -> recommenders, compared.

    <landing>/amazon/<Category>.jsonl[.gz]        --amazon_landing_sensor-->  amazon_reviews[category]
    <landing>/amazon/meta_<Category>.jsonl[.gz]   --amazon_landing_sensor-->  amazon_items[category]
    amazon_reviews + amazon_items   --build spec (run config)-->  amazon_dataset[tag]
    amazon_dataset[tag]  -->  amazon_model_{random,popular,item_knn,ease,autoencoder}[tag]  -->  amazon_model_comparison[tag]

Ingestion streams a file chunk by chunk into one Delta commit that replaces the category's rows, so memory does
not grow with the file (the Electronics reviews are 22 GB) and re-ingesting a file gives the same rows, never
doubled; bad lines go to the quarantine with their line number and reason. See docs/amazon.md.

    tables.py       the Delta tables, each declared once
    partitions.py   categories (amazon_category) and dataset tags (amazon_dataset_tag)
    resources.py    amazon_model_settings: the recommenders' hyper-parameters
    ingestion.py    amazon_reviews, amazon_items (scrapers/amazon/)
    dataset.py      amazon_dataset (models/amazon/dataset_builder.py)
    training.py     amazon_model_<name>, amazon_model_comparison (models/amazon/training.py, comparison.py)
    checks.py       the asset checks
    automation.py   jobs, the landing sensor, the training cron
    definitions.py  defs
"""
