"""Settings module of the `scrapy crawl marketplace` project (scrapers/marketplace/scrapy.cfg points here).

The settings of a profile with every default: the spider passes the profile it is given (`-a profile=...`).
"""

from scrapers.marketplace.profile import SiteProfile
from scrapers.marketplace.spider import crawl_settings

BOT_NAME = "storefront"
SPIDER_MODULES = ["scrapers.marketplace.spider"]
globals().update(crawl_settings(SiteProfile(name="default", base_url="")))
