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
    image_url_only: bool = False
    """The platform fetches the picture from a public URL itself: it cannot be uploaded to it."""
    hourly_cap: int | None = None
    """Posts an hour when MAX_POSTS_PER_HOUR is not set: a flood of stories trickles out at
    this pace instead of all at once (None: no cap of its own)."""


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
