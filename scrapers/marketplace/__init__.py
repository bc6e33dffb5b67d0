"""The marketplace scraping engine: a shop described as a site profile (YAML, `profile.py`, JSON Schema in
`site_profile.schema.json`), crawled by Scrapy over plain HTTP (`spider.py`, page logic in `pager.py`) or by
Playwright in real Chromium (`playwright_strategy.py`), one crawl per child process (`crawl.py`), which reports
why each query stopped and whether the result is complete.

Run Scrapy on its own from this folder (`scrapy.cfg` names `scrapers.marketplace.scrapy_settings`):
`cd scrapers/marketplace && scrapy crawl marketplace -a profile=PROFILE.yaml -a base_url=URL -O out.jsonl`.
"""
