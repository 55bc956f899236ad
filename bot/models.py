"""The nouns every layer shares: frozen values, so no layer can change what another one saw.

Story is what a feed said (normalised), Post is what one platform will receive, PublishResult is
what the platform answered. They carry no behaviour beyond small derived views.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

_T = TypeVar("_T")


def slot_setting_init(cls: type[_T]) -> type[_T]:
    """Give a frozen slots dataclass an __init__ that stores each field through its slot's
    descriptor, with the same signature and defaults.

    dataclasses' frozen __init__ goes through object.__setattr__ for every field, to get past
    the frozen __setattr__; for Story's eleven fields that was 40% of building one, and the feed
    parser builds one per item of every changed feed. The slot descriptors write the same
    slots without the attribute lookup; __setattr__ stays frozen for everyone else.
    """
    params, body, cells = [], [], {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.default_factory is not MISSING or not f.init:
            raise TypeError(f"{cls.__name__}.{f.name}: only plain defaults are supported")
        if f.default is MISSING:
            params.append(f.name)
        else:
            cells[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        cells[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        body.append(f"  _set_{f.name}(self, {f.name})")
    source = (
        f"def _make({', '.join(cells)}):\n"
        f" def __init__(self, {', '.join(params)}) -> None:\n" + "\n".join(body) + "\n"
        " return __init__\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # built from the field names only, as dataclasses does itself
    init: Callable[..., None] = namespace["_make"](**cells)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[misc]
    return cls


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


class Platform(StrEnum):
    """The platforms we publish to; the values are the names used in PLATFORMS and in output."""

    TWITTER = "twitter"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"


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


@slot_setting_init
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
