"""The nouns every layer shares: frozen values, so no layer can change what another one saw.

Story is what a feed said (normalised), Post is what one platform will receive, PublishResult is
what the platform answered. They carry no behaviour beyond small derived views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum


@dataclass(frozen=True)
class Backlog:
    """What the first poll of a never-seen feed does (BACKLOG), or what a platform added to a
    store with stories gets of them (NEW_PLATFORM_BACKLOG): skip all, the newest N, or all."""

    mode: str  # "skip" | "latest" | "all"
    count: int = 0

    def __str__(self) -> str:
        """As the setting is written: `skip`, `latest:N` or `all`."""
        return f"latest:{self.count}" if self.mode == "latest" else self.mode


@dataclass(frozen=True)
class QuietHours:
    """A daily window (in TIMEZONE) during which nothing is posted; it may wrap midnight."""

    start: time
    end: time

    def contains(self, t: time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


@dataclass(frozen=True)
class TokenInfo:
    """What Graph's debug_token says about an access token (a token may inspect itself).

    `expires_at` and `data_access_expires_at` are epoch seconds, None for "never" (Graph's 0).
    """

    platform: str
    variable: str
    is_valid: bool
    type: str | None
    scopes: tuple[str, ...]
    expires_at: float | None
    data_access_expires_at: float | None


class DeliveryStatus(StrEnum):
    """Life cycle of one (story, platform) delivery.

    queued -> sending -> published | deferred | skipped | failed; dry_run is the terminal state
    of a delivery that the dry-run publisher reported instead of sending; cancelled is a queued or
    deferred delivery a person stopped (`cancel`) before any worker claimed it: never sent. An
    attempt whose outcome is unknown (answer lost) and whose look-up failed is `unconfirmed`: it
    waits and is looked up again, never re-sent blindly; after repeated failed look-ups over
    hours it is `needs_attention` (still looked up, and a person may settle it with `resolve`).
    With APPROVAL, a new delivery starts as pending_approval and becomes queued (approved) or
    skipped (rejected).
    """

    QUEUED = "queued"
    SENDING = "sending"
    PUBLISHED = "published"
    DEFERRED = "deferred"
    SKIPPED = "skipped"
    FAILED = "failed"
    DRY_RUN = "dry_run"
    CANCELLED = "cancelled"
    PENDING_APPROVAL = "pending_approval"
    UNCONFIRMED = "unconfirmed"
    NEEDS_ATTENTION = "needs_attention"


TERMINAL_STATUSES = frozenset(
    {
        DeliveryStatus.PUBLISHED,
        DeliveryStatus.SKIPPED,
        DeliveryStatus.FAILED,
        DeliveryStatus.DRY_RUN,
        DeliveryStatus.CANCELLED,
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


class Counting(StrEnum):
    """How a platform counts a post's length against `Limits.max_length`.

    Each is a rule the platform's own server applies; counting differently from it either
    wastes room or gets a post refused, so the method is data the composer follows blindly.
    """

    CODE_POINTS = "code_points"
    """One per Unicode code point (Python's len): Facebook, Instagram, LinkedIn."""
    WEIGHTED = "weighted"
    """twitter-text v3 (X): most Latin characters 1, CJK and emoji 2, an emoji sequence once,
    every URL `url_weight`; NFC and CRLF-as-one first."""
    GRAPHEMES = "graphemes"
    """One per extended grapheme cluster (what a reader sees as one character): Bluesky,
    Mastodon (whose URLs count `url_weight`)."""
    UTF8_EMOJI = "utf8_emoji"
    """Code points, except that an emoji sequence counts its UTF-8 bytes (up to 4 per code
    point): Threads."""


class MentionStyle(StrEnum):
    """How a name from the handles file is written as a handle in a post."""

    REPLACE = "replace"
    """The handle takes the name's place: "De Beers cuts prices" -> "@DeBeersGroup cuts
    prices" (where room is short: X)."""
    SUFFIX = "suffix"
    """The handle follows the name: "De Beers (@debeersgroup) cuts prices"."""
    ELEMENT = "element"
    """The name becomes a mention element whose target is the handle: "@[De Beers](urn:li:
    organization:1234) cuts prices" (a network whose mentions name an id, not a handle)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What a platform accepts and how its posts are written, declared as data by the platform's
    adapter so the composer and the engine can follow it without knowing any platform's name."""

    max_length: int
    counting: Counting = Counting.CODE_POINTS
    url_weight: int | None = None
    """What each URL with a scheme counts, whatever its length (X 23; Mastodon 23 unless the
    instance says otherwise); None: a URL counts like any other text."""
    max_bytes: int | None = None
    """A second ceiling on the text's UTF-8 size (Bluesky: 3,000 bytes beside 300 graphemes)."""
    requires_image: bool = False
    max_hashtags: int = 30
    max_mentions: int | None = None
    mention_style: MentionStyle = MentionStyle.SUFFIX
    link_card: bool = False
    """The URL goes beside the text (Post.link) and the platform unfolds it into a card; the
    text then need not carry it."""
    handle_max_length: int = 50
    """Longest handle the platform allows, without its '@'."""
    handle_syntax: str = r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*"
    """What follows a handle's '@', as a regular expression (X's: no dots; a domain name for
    some networks, user@instance for others)."""
    handle_hint: str = "letters, digits, _ and ."
    """`handle_syntax` in words, for the message that refuses a handle."""
    default_hashtags: int = 0
    """Hashtags a post gets when the operator set no count of their own."""
    label: str = ""
    """The platform's name as people know it ("X"), for messages; empty: the platform's name."""
    image_types: tuple[str, ...] = ("image/jpeg", "image/png", "image/gif", "image/webp")
    max_image_bytes: int = 5 * 1024 * 1024
    image_url_only: bool = False
    """The platform fetches the picture from a public URL itself: it cannot be uploaded to it."""
    hourly_cap: int | None = None
    """Posts an hour when MAX_POSTS_PER_HOUR is not set: a flood of stories trickles out at
    this pace instead of all at once (None: no cap of its own)."""

    @property
    def weighted(self) -> bool:
        """True where the count is not plain characters (shown as "weighted length")."""
        return self.counting is Counting.WEIGHTED


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
    image_data: bytes | None = field(default=None, repr=False, compare=False)
    """The picture's bytes when `image_url` names one kept in the store (`media:<sha256>`, a
    person's local file): filled in just before publishing, never stored with the post."""


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
