"""What an instance accepts, read from its own instance endpoint, and a post's length as it counts.

Every Mastodon server sets its own rules: 500 characters by default, but forks and many
instances raise it; each URL counts a fixed `characters_reserved_per_url` (23). The server
counts grapheme clusters of the text after replacing each URL with a scheme by that many
characters and each remote mention `@user@domain` by `@user` (StatusLengthValidator).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import regex

from bot.twitter_text_parts import extract_urls_with_indices

DEFAULT_MAX_CHARACTERS = 500
DEFAULT_URL_WEIGHT = 23
_GRAPHEME = regex.compile(r"\X")
_REMOTE_MENTION = re.compile(
    r"(?<![=/\w])@([a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?)@[\w.-]*\w", re.IGNORECASE
)
"""A mention of an account on another instance; the server counts only its `@user` part."""


@dataclass(frozen=True, slots=True)
class InstanceRules:
    max_characters: int = DEFAULT_MAX_CHARACTERS
    url_weight: int = DEFAULT_URL_WEIGHT
    max_media: int = 4
    description_limit: int = 1500
    image_size_limit: int = 16 * 1024 * 1024
    image_types: tuple[str, ...] = ("image/jpeg", "image/png", "image/gif", "image/webp")
    version: str = ""


def _positive(value: Any, default: int) -> int:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
    )


def parse_instance(answer: Any) -> InstanceRules:
    """Rules from `GET /api/v2/instance` (or v1's, whose `configuration` has the same keys, or
    a fork's `max_toot_chars`). Anything missing or odd keeps Mastodon's default."""
    if not isinstance(answer, dict):
        return InstanceRules()
    config = answer.get("configuration")
    config = config if isinstance(config, dict) else {}
    statuses = config.get("statuses") if isinstance(config.get("statuses"), dict) else {}
    media = config.get("media_attachments")
    media = media if isinstance(media, dict) else {}
    types = media.get("supported_mime_types")
    images = (
        tuple(t for t in types if isinstance(t, str) and t.startswith("image/"))
        if (isinstance(types, list))
        else ()
    )
    return InstanceRules(
        max_characters=_positive(
            statuses.get("max_characters"),
            _positive(answer.get("max_toot_chars"), DEFAULT_MAX_CHARACTERS),
        ),
        url_weight=_positive(statuses.get("characters_reserved_per_url"), DEFAULT_URL_WEIGHT),
        max_media=_positive(statuses.get("max_media_attachments"), 4),
        description_limit=_positive(media.get("description_limit"), 1500),
        image_size_limit=_positive(media.get("image_size_limit"), 16 * 1024 * 1024),
        image_types=images or InstanceRules().image_types,
        version=str(answer.get("version") or ""),
    )


def countable(text: str, url_weight: int) -> str:
    """The text as the server measures it: URLs (with a scheme) as `url_weight` x's, remote
    mentions as their local part."""
    urls = [
        tuple(u["indices"])
        for u in extract_urls_with_indices(text)
        if u["url"].lower().startswith(("http://", "https://"))
    ]
    pieces: list[str] = []
    last = 0
    for start, end in urls:
        pieces.append(text[last:start])
        pieces.append("x" * url_weight)
        last = end
    pieces.append(text[last:])
    return _REMOTE_MENTION.sub(lambda m: "@" + m.group(1), "".join(pieces))


def length(text: str, rules: InstanceRules) -> int:
    """The number the instance compares with its `max_characters`."""
    return len(_GRAPHEME.findall(countable(text, rules.url_weight)))
