"""The key under which the store remembers a story: "seen" is decided by it, forever.

A key once stored is compared with the keys of every later poll, so the rule below may never
change its output for an input it has seen (tests/test_feeds_identity.py holds it to the frozen
code of earlier releases); a change would make every upgraded store post its old stories again.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from bot.feeds.text import collapse
from bot.feeds.urls import canonical_url, is_http

_UNSTABLE_GUIDS = frozenset({"", "0", "-1", "null", "none", "undefined", "true", "false", "nan"})
"""Guids that CMSs write when they have none, in lower case."""
MAX_GUID_CHARS = 2048
"""A longer guid is garbage (a whole article pasted in), not an identifier."""


def stable_guid(guid: str | None) -> str | None:
    """The guid trimmed, or None when it cannot identify one story: a placeholder ("", "0",
    "null"... in any case) or a guid over 2,048 characters."""
    if guid is None:
        return None
    guid = guid.strip()
    if len(guid) > MAX_GUID_CHARS or guid.lower() in _UNSTABLE_GUIDS:
        return None
    return guid


def story_identity(
    guid: str | None, url: str | None, title: str, published: datetime | None
) -> str:
    """The key for "seen before", the first that applies:

    - "guid:" and the stable guid (stable_guid); a guid that is itself an http(s) link is
      canonicalised first, so a feed that adds tracking parameters to its guids does not
      repost everything (a link guid that canonical_url refuses is kept as written);
    - "url:" and the story's canonical link (`url` is already canonical_url's output);
    - "hash:" and the SHA-256 of the collapsed title, a newline, and the date as ISO 8601 in
      UTC, the date only when the feed gave one (an undated story's `published` is the time
      we first saw it, which changes every poll).
    """
    stable = stable_guid(guid)
    if stable is not None:
        if is_http(stable):
            stable = canonical_url(stable) or stable
        return f"guid:{stable}"
    if url:
        return f"url:{url}"
    stamp = published.astimezone(UTC).isoformat() if published is not None else ""
    digest = hashlib.sha256(f"{collapse(title)}\n{stamp}".encode()).hexdigest()
    return f"hash:{digest}"
