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

__all__ = [
    "REGISTRY",
    "DryRunPublisher",
    "Publisher",
    "build_publishers",
    "limits_for",
    "require_platforms",
]


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


def require_platforms(settings: Settings, *, dry_run: bool) -> None:
    """No platform, no poll: with nothing to post to, a cycle would record every story as
    handled and none would ever go out once a platform is set up. Stop before anything is
    recorded, naming what to set (exit 2)."""
    if settings.platforms:
        return
    if dry_run:
        raise ConfigError(
            "no platform is configured: a dry run needs PLATFORMS, "
            "e.g. PLATFORMS=twitter,facebook,instagram (no credentials needed)",
            "PLATFORMS",
        )
    raise ConfigError(
        "no platform is configured, so nothing would be posted: set the credentials of at least "
        "one platform (see .env.example), or try it without posting with DRY_RUN=true "
        "PLATFORMS=twitter",
        "PLATFORMS",
    )


def build_publishers(
    settings: Settings, *, dry_run: bool, http: httpx.Client | None = None
) -> dict[str, Publisher]:
    """One publisher per name in PLATFORMS; a dry run gets stand-ins that need no credentials."""
    publishers: dict[str, Publisher] = {}
    for platform in settings.platforms:
        cls = _publisher_class(platform)
        if dry_run:
            publishers[platform] = _dry_run(cls, settings, http)
        else:
            publishers[platform] = cls.from_settings(settings, http)
    return publishers


def _dry_run(
    cls: type[TwitterPublisher | FacebookPublisher | InstagramPublisher],
    settings: Settings,
    http: httpx.Client | None,
) -> DryRunPublisher:
    """A stand-in that runs the live run's checks before "posting": all of them (quota
    included) with the platform's credentials, those that need none without."""
    limits = cls.limits_for(settings)
    if http is None:
        return DryRunPublisher(cls.name, limits)
    try:
        real = cls.from_settings(settings, http)
    except ConfigError:  # no credentials: the checks that need none
        return DryRunPublisher(
            cls.name, limits, lambda post, pending: cls.offline_checks(post, http, settings)
        )
    return DryRunPublisher(cls.name, limits, real.preflight, real.close)
