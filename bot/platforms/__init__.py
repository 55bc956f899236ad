"""The platform registry: names to publisher classes, in one explicit dict.

Nothing else in the bot branches on a platform name; it asks the registry.
"""

from __future__ import annotations

import httpx

from bot.errors import ConfigError
from bot.models import Limits
from bot.platforms.base import Publisher
from bot.platforms.dryrun import DryRunPublisher
from bot.platforms.facebook import FacebookPublisher
from bot.platforms.instagram import InstagramPublisher
from bot.platforms.twitter import TwitterPublisher
from bot.settings import Settings

REGISTRY: dict[str, type[TwitterPublisher | FacebookPublisher | InstagramPublisher]] = {
    "twitter": TwitterPublisher,
    "facebook": FacebookPublisher,
    "instagram": InstagramPublisher,
}

__all__ = ["REGISTRY", "DryRunPublisher", "Publisher", "build_publishers", "limits_for"]


def _publisher_class(
    platform: str,
) -> type[TwitterPublisher | FacebookPublisher | InstagramPublisher]:
    try:
        return REGISTRY[platform]
    except KeyError:
        known = ", ".join(REGISTRY)
        raise ConfigError(
            f"{platform!r} is not a platform; use one of {known}", "PLATFORMS"
        ) from None


def limits_for(platform: str) -> Limits:
    """What `platform` accepts, for the composer (no credentials needed)."""
    return _publisher_class(platform).limits


def build_publishers(
    settings: Settings, *, dry_run: bool, http: httpx.Client | None = None
) -> dict[str, Publisher]:
    """One publisher per name in PLATFORMS; a dry run gets stand-ins that need no credentials."""
    publishers: dict[str, Publisher] = {}
    for platform in settings.platforms:
        cls = _publisher_class(platform)
        if dry_run:
            publishers[platform] = DryRunPublisher(platform, cls.limits_for(settings))
        else:
            publishers[platform] = cls.from_settings(settings, http)
    return publishers
