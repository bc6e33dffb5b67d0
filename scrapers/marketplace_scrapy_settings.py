"""Settings module of the `scrapy crawl marketplace` project (scrapers/scrapy.cfg points here)."""

from scrapers.marketplace_profile import SANDBOX_PROFILE, SiteProfile
from scrapers.marketplace_spider import crawl_settings

BOT_NAME = "storefront"
SPIDER_MODULES = ["scrapers.marketplace_spider"]
globals().update(crawl_settings(SiteProfile.load(SANDBOX_PROFILE)))
