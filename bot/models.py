"""The nouns every layer shares: frozen values, so no layer can change what another one saw.

Story is what a feed said (normalised), Post is what one platform will receive, PublishResult is
what the platform answered. They carry no behaviour beyond small derived views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Platform(StrEnum):
    """The platforms we publish to; the values are the names used in PLATFORMS and in output."""

    TWITTER = "twitter"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"


class DeliveryStatus(StrEnum):
    """Life cycle of one (story, platform) delivery.

    queued -> sending -> published | deferred | skipped | failed; dry_run is the terminal state
    of a delivery that the dry-run publisher reported instead of sending.
    """

    QUEUED = "queued"
    SENDING = "sending"
    PUBLISHED = "published"
    DEFERRED = "deferred"
    SKIPPED = "skipped"
    FAILED = "failed"
    DRY_RUN = "dry_run"


TERMINAL_STATUSES = frozenset(
    {
        DeliveryStatus.PUBLISHED,
        DeliveryStatus.SKIPPED,
        DeliveryStatus.FAILED,
        DeliveryStatus.DRY_RUN,
    }
)


@dataclass(frozen=True, slots=True)
class Story:
    """One article as the feed described it, normalised to plain text and UTC.

    `identity` is the stable key used to decide "seen before"; `url` is the canonical link
    (tracking parameters and fragments removed) or None when the feed gave no usable link.
    """

    identity: str
    url: str | None
    title: str
    summary: str
    published: datetime
    feed_url: str
    guid: str | None = None
    author: str | None = None
    categories: tuple[str, ...] = ()
    image_url: str | None = None
    dated: bool = True
    """False when the feed gave no date and `published` is the time we first saw the story."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What a platform accepts, declared as data so the composer and the engine can read it."""

    max_length: int
    weighted: bool = False
    """True for X: length is twitter-text's weighted length (URLs 23, CJK/emoji 2)."""
    requires_image: bool = False
    max_hashtags: int = 30
    max_mentions: int | None = None
    image_types: tuple[str, ...] = ("image/jpeg", "image/png", "image/gif", "image/webp")
    max_image_bytes: int = 5 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Post:
    """Exactly what goes out to one platform for one story (composed once, stored, replayed)."""

    platform: str
    text: str
    link: str | None = None
    """The URL sent beside the text (Facebook's `link` field); None where the URL is in the text."""
    image_url: str | None = None
    alt_text: str | None = None
    story_url: str | None = None
    parts: dict[str, str] = field(default_factory=dict)
    """The named fields the text was built from (title, summary, hashtags...), for preview."""
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PublishResult:
    """The platform's answer to a successful publish (or a post found by reconciliation)."""

    remote_id: str
    remote_url: str | None = None
    container_id: str | None = None
    """Instagram only: the media container, kept so a crash between steps can be recovered."""


@dataclass(frozen=True, slots=True)
class Account:
    """Whom a token belongs to, as the platform reports it (the `check` command)."""

    platform: str
    id: str
    name: str
