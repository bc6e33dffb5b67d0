"""The marketplace scraping engine: a shop described as a site profile (YAML), crawled by Scrapy (JSON API
pager) or Playwright (real Chromium through the infinite scroll), one crawl per child process.

Run Scrapy on its own from this folder (`scrapy.cfg` names `scrapers.marketplace.scrapy_settings`):
`cd scrapers/marketplace && scrapy crawl marketplace -a profile=PROFILE.yaml -a base_url=URL -O out.jsonl`.
"""
