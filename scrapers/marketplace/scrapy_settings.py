"""Settings module of the `scrapy crawl marketplace` project (scrapers/marketplace/scrapy.cfg points here).

The crawl settings with one profile's defaults: the spider is given its profile (`-a profile=...`).
"""

from scrapers.marketplace.spider import crawl_settings

BOT_NAME = "storefront"
SPIDER_MODULES = ["scrapers.marketplace.spider"]
globals().update(crawl_settings())
