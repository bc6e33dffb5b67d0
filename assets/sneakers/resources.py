"""The sneakers pipeline's resource: which marketplace to scrape, and how."""

import dagster as dg

from scrapers.marketplace.profile import SiteProfile

# The site profile (YAML) of the shop to scrape; no default: production never falls back to the sandbox's.
PROFILE_ENV_VAR = "SNEAKERS_MARKETPLACE_PROFILE"


class SneakersMarketplaceResource(dg.ConfigurableResource):
    """Which shop to scrape and how: a site profile plus the base URL (the sandbox's, or the real shop's)."""

    profile_path: str  # site profile YAML; bound to $SNEAKERS_MARKETPLACE_PROFILE (read when a run starts)
    base_url: str | None = None  # overrides the profile's base_url
    strategy: str = "scrapy"  # "scrapy" pages the JSON API; "playwright" scrolls real Chromium
    max_reject_share: float = 0.05
    max_image_failure_share: float = 0.2

    def profile(self, queries: list[str]) -> SiteProfile:
        return SiteProfile.load(self.profile_path, base_url=self.base_url, queries=queries)


def marketplace_from_env() -> SneakersMarketplaceResource:
    """The code location's binding: the profile path comes from the environment at run time."""
    return SneakersMarketplaceResource(profile_path=dg.EnvVar(PROFILE_ENV_VAR))
