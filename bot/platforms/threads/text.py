"""How Threads measures a post's text: pure, no I/O.

Threads documents "500 characters, emojis counted as the number of UTF-8 bytes", and refuses
longer texts with "Param text must be at most 500 characters long". Clients that counted
characters saw texts of 498 characters (504 bytes, three curly apostrophes) refused, so the
limit is held in UTF-8 bytes of the whole text: every text that passes here passes there.
"""

from __future__ import annotations

import re

MAX_LENGTH = 500
MAX_LINKS = 5
"""Unique links in a post (the text's and the link attachment); more fail at creation with
THREADS_API__LINK_LIMIT_EXCEEDED since 22 December 2025."""

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


def threads_length(text: str) -> int:
    """The length Threads holds against its 500: the UTF-8 bytes of the text as sent."""
    return len(text.encode("utf-8"))


def unique_links(text: str, attachment: str | None = None) -> set[str]:
    """The links Threads counts against its five: each URL of the text once, and the link
    attachment when it differs from all of them."""
    found = {_key(m.group(0).rstrip(_TRAILING)) for m in _URL.finditer(text)}
    if attachment:
        found.add(_key(attachment))
    return found


def _key(url: str) -> str:
    lowered = url.lower()
    for prefix in ("https://", "http://"):
        if lowered.startswith(prefix):
            lowered = lowered[len(prefix) :]
    return lowered.rstrip("/")


def first_url(text: str) -> str | None:
    """The first http(s) URL written in `text`, without the punctuation that ends a sentence."""
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        if url.lower().startswith(("http://", "https://")):
            return url
    return None
