"""Manual posts (`post`): what a person asked for, and the checks that refuse a whole command
before anything is sent or recorded (a text over its platform's limit, a platform that needs a
picture and has none, a platform that is not configured).

A command is refused whole rather than posted in part: a corrected re-run would otherwise post
twice where it did go out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from bot.compose import Composer
from bot.compose.text import count_hashtags, count_mentions, neutralise
from bot.delivery import DeliveryReport
from bot.engine import Engine
from bot.errors import ConfigError
from bot.manual_image import ManualImage
from bot.models import Limits
from bot.settings import Settings
from bot.store import Store

log = logging.getLogger("bot.manual")


class ManualApp(Protocol):
    """The parts a manual post works with, built by the composition root (bot.app.App)."""

    settings: Settings
    store: Store
    composer: Composer
    http: httpx.Client
    engine: Engine

    def client_trusting(self, url: str) -> httpx.Client:
        """A client like `http` that also trusts the origin of `url`, which the person typed."""
        ...


@dataclass(frozen=True)
class ManualRequest:
    """What a person asked for on the command line, already parsed (times as epoch seconds)."""

    url: str | None = None
    text: str | None = None
    texts: Mapping[str, str] = field(default_factory=dict)
    """A platform's own text (`--text-twitter` ...), instead of `text`."""
    platforms: Sequence[str] = ()
    image: str | None = None
    """A local file's path or an http(s) URL."""
    alt: str | None = None
    at: float | None = None
    """When to send (epoch); None: now."""
    post_id: str | None = None
    force: bool = False
    dry_run: bool = False
    feed: str | None = None
    """`--feed NAME`: compose the story by this feed's rules (FEEDS_FILE), not its own feed's."""
    allow_mentions: bool = False
    """Leave a person's @mentions, #tags and $CASHTAGS live (by default they are made inert as
    feed text is, except the brand handle and the handles file's handles)."""


@dataclass
class ManualResult:
    reports: list[DeliveryReport]
    exit_code: int


def targets(app: ManualApp, request: ManualRequest) -> list[str]:
    """The platforms of this post: those named, else those with their own text when no common
    text is given, else every configured one."""
    publishers = app.engine.publishers
    if not publishers:
        raise ConfigError(
            "no platform is configured: set the credentials of at least one (see .env.example), "
            "or run with --dry-run"
        )
    names = list(dict.fromkeys(request.platforms))
    if not names and request.url is None and request.text is None:
        names = list(dict.fromkeys(request.texts))
    names = names or list(publishers)
    for name in names:
        if name not in publishers:
            configured = ", ".join(publishers) or "none"
            raise ConfigError(f"--platform {name!r} is not configured (configured: {configured})")
    return names


def checked_text(app: ManualApp, platform: str, text: str, option: str) -> str:
    """The text as it will be sent to `platform`, or ConfigError naming the platform and count."""
    limits = app.engine.publishers[platform].limits
    length = app.composer.measure(platform, text, limits)
    if length > limits.max_length:
        kind = "weighted length" if limits.weighted else "length"
        raise ConfigError(
            f"{option} is too long for {platform}: {kind} {length} over the limit of "
            f"{limits.max_length}; shorten it, or give {platform} its own with --text-{platform}"
        )
    if count_hashtags(text) > limits.max_hashtags:
        raise ConfigError(
            f"{option} has {count_hashtags(text)} hashtags; {platform} takes at most "
            f"{limits.max_hashtags}"
        )
    if limits.max_mentions is not None and count_mentions(text) > limits.max_mentions:
        raise ConfigError(
            f"{option} has {count_mentions(text)} @mentions; {platform} takes at most "
            f"{limits.max_mentions}"
        )
    return text


def inert(app: ManualApp, platform: str, text: str, allow: bool) -> str:
    """A person's text with stray @mentions (and #tags, $CASHTAGS) made inert exactly as feed
    text is (FEED_MENTIONS, FEED_HASHTAGS), the bot's own handles left live; `--allow-mentions`
    keeps everything live. Said once on stderr when anything was changed, so nobody wonders."""
    if allow:
        return text
    composer = app.composer
    live = frozenset(
        h.casefold()
        for h in (
            composer.brand_handles.get(platform, ""),
            *composer.handles.platform_handles(platform).values(),
        )
        if h
    )
    inert = neutralise(
        text, mentions=not composer.feed_mentions, hashtags=not composer.feed_hashtags, live=live
    )
    if inert != text:
        log.warning(
            f"{platform}: the @mentions, #tags or $CASHTAGS in the text are made inert (they read "
            "the same but link nowhere, as in feed text); --allow-mentions keeps them live",
            extra={"platform": platform},
        )
    return inert


def check_image(platform: str, limits: Limits, image: ManualImage | None) -> None:
    if image is None:
        if limits.requires_image:
            raise ConfigError(
                f"{platform} posts nothing without a picture: add --image PATH|URL, or leave "
                f"{platform} out with --platform (one for each of the others)"
            )
        return
    image.check_for(platform, limits)
