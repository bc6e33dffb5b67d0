"""Sneakers: scrape an infinite-scroll marketplace, keep prices daily, normalise images, write TFRecords, train
a multi-head CNN with stacked meta-models and evaluate it next to baselines.

    marketplace search pages ──crawl (child process)──▶ sneaker_listings        (Delta, one partition per query)
                                                    └─▶ sneaker_price_history   (Delta, one row per listing per day)
    listing image URLs ──fetch once, normalise 224x224──▶ sneaker_images          (Delta + content-addressed JPEGs)
    listings + images ──leak-free split, price bins──▶ sneaker_tfrecords          (train/validation/test shards)
    TFRecords ──Keras CNN──▶ sneaker_cnn ──▶ sneaker_meta_models ──▶ sneaker_predictions ──▶ sneaker_evaluation
                                             (model store `sneaker_cnn`, one version folder per trained CNN)

Labels (model, brand) come from the listing titles (scrapers/sneakers/titles.py), never from row positions.
The crawl engine is scrapers/marketplace/ (a site profile + Scrapy or Playwright); the models are
models/sneakers/. Modules: tables.py (storage declarations), partitions.py, resources.py, ingestion.py,
dataset.py, training.py, checks.py, automation.py, definitions.py (`defs`).
"""
