"""The sneakers pipeline's resource: which marketplace to scrape, and how."""

import dagster as dg

from foundation.outbound import OutboundLimits
from scrapers.marketplace.profile import SiteProfile

# The site profile (YAML) of the shop to scrape; no default: production never falls back to the sandbox's.
PROFILE_ENV_VAR = "SNEAKERS_MARKETPLACE_PROFILE"


class SneakersMarketplaceResource(dg.ConfigurableResource):
    """Which shop to scrape and how: a site profile plus the base URL (the sandbox's, or the real shop's)."""

    profile_path: str  # site profile YAML; bound to $SNEAKERS_MARKETPLACE_PROFILE (read when a run starts)
    base_url: str | None = None  # overrides the profile's base_url
    strategy: str = "scrapy"  # "scrapy" pages the profile's `http` section; "playwright" drives its `browser` section
    max_reject_share: float = 0.05
    max_image_failure_share: float = 0.2
    # Internal destinations image downloads may reach (host:port or CIDR; foundation.outbound): loopback, private
    # and link-local addresses are refused unless listed here. Empty in production; the demo and tests list the
    # sandbox shop's 127.0.0.1:<port>.
    image_allow: list[str] = []
    image_max_bytes: int = 20 * 1024 * 1024  # a download aborts as soon as it passes this
    image_deadline_s: float = 30.0  # per download attempt: connect, redirects and body together
    image_first_retry_wait_s: float = 1.0  # 429/5xx/timeouts: backoff 1, 2, 4 s, or a longer Retry-After (<= 30 s)

    def image_limits(self) -> OutboundLimits:
        return OutboundLimits(
            max_bytes=self.image_max_bytes,
            deadline_s=self.image_deadline_s,
            read_timeout_s=min(10.0, self.image_deadline_s),
            first_retry_wait_s=self.image_first_retry_wait_s,
        )

    def profile(self, queries: list[str] | None) -> SiteProfile:
        """The site profile, its base URL replaced when set, its queries replaced when given (a run's partitions)."""
        return SiteProfile.load(self.profile_path, base_url=self.base_url, queries=queries or None)


def marketplace_from_env() -> SneakersMarketplaceResource:
    """The code location's binding: the profile path comes from the environment at run time."""
    return SneakersMarketplaceResource(profile_path=dg.EnvVar(PROFILE_ENV_VAR))
