"""The edge where settings meet the platforms: one publisher per name in PLATFORMS.

Each platform package reads its own section of the settings at start; here those values, and
what every adapter shares (the HTTP client, timeouts, proxies, image preferences and IMAGE_HOST),
are handed to the adapters. This is the first place an adapter module (tweepy, httpx, PIL...)
is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import ConfigError
from bot.platforms import registry
from bot.platforms.base import Publisher, Wiring
from bot.platforms.dryrun import DryRunPublisher
from bot.settings import Settings

if TYPE_CHECKING:
    import httpx

    from bot.platforms.hosting import ImageHost
    from bot.platforms.state import KeyValue

__all__ = ["build_publishers", "image_host", "require_platforms", "wiring"]


def require_platforms(settings: Settings, *, dry_run: bool) -> None:
    """No platform, no poll: with nothing to post to, a cycle would record every story as
    handled and none would ever go out once a platform is set up. Stop before anything is
    recorded, naming what to set (exit 2)."""
    if settings.platforms:
        return
    first = registry.names()[0]
    if dry_run:
        raise ConfigError(
            "no platform is configured: a dry run needs PLATFORMS, "
            f"e.g. PLATFORMS={','.join(registry.names())} (no credentials needed)",
            "PLATFORMS",
        )
    raise ConfigError(
        "no platform is configured, so nothing would be posted: set the credentials of at least "
        "one platform (see .env.example), or try it without posting with DRY_RUN=true "
        f"PLATFORMS={first}",
        "PLATFORMS",
    )


def image_host(settings: Settings, platform: str, http: httpx.Client) -> ImageHost | None:
    """The IMAGE_HOST the settings name, for `platform`'s publisher; None without one."""
    images = settings.reach.images
    kind = images.image_host
    if kind is None:
        return None
    if kind == "s3":
        from bot.platforms.hosting import S3Host

        assert images.s3 is not None
        return S3Host(images.s3, platform)
    if kind == "web":
        from bot.platforms.hosting import WebFaceHost, media_upload_key

        password = settings.web.password
        if password is None or not images.public_url:
            raise ConfigError(
                "IMAGE_HOST=web uploads images to the web face at PUBLIC_URL, which takes them "
                "only with a key derived from WEB_PASSWORD: set WEB_PASSWORD (the same for the "
                "workers and the web face) and PUBLIC_URL",
                "WEB_PASSWORD",
            )
        return WebFaceHost(images.public_url, media_upload_key(password.reveal()), http, platform)
    return registry.spec(kind).image_host(settings.section(kind), platform, http)


def wiring(
    settings: Settings, http: httpx.Client | None = None, state: KeyValue | None = None
) -> Wiring:
    """What every adapter gets besides its own section."""
    return Wiring(
        http=http,
        timeout=settings.http_timeout,
        proxies=settings.proxies,
        images=settings.reach.images,
        image_host=lambda platform, client: image_host(settings, platform, client),
        state=state,
    )


def build_publishers(
    settings: Settings,
    *,
    dry_run: bool,
    http: httpx.Client | None = None,
    state: KeyValue | None = None,
) -> dict[str, Publisher]:
    """One publisher per name in PLATFORMS; a dry run gets stand-ins that need no credentials.
    `state`: where adapters keep small facts between runs (the store's platform state)."""
    publishers: dict[str, Publisher] = {}
    wired = wiring(settings, http, state)
    for platform in settings.platforms:
        cls = registry.spec(platform).publisher_class()
        if dry_run:
            publishers[platform] = _dry_run(cls, settings, wired)
        else:
            publishers[platform] = cls.from_section(settings.section(platform), wired)
    return publishers


def _dry_run(cls: type[Publisher], settings: Settings, wired: Wiring) -> DryRunPublisher:
    """A stand-in that runs the live run's checks before "posting": all of them (quota
    included) with the platform's credentials, those that need none without."""
    limits = cls.limits_for(wired)
    http = wired.http
    if http is None:
        return DryRunPublisher(cls.name, limits)
    try:
        real = cls.from_section(settings.section(cls.name), wired)
    except ConfigError:  # no credentials: the checks that need none
        return DryRunPublisher(
            cls.name, limits, lambda post, pending: cls.offline_checks(post, http)
        )
    # The publisher's own limits: what a live run composes for (a Mastodon instance's limit).
    return DryRunPublisher(cls.name, real.limits, real.preflight, real.close)
