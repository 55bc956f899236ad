"""Hashtags from a story's categories: "lab-grown diamonds" becomes #LabGrownDiamonds.

Categories are written for a website's menus, not for hashtags: they hold spaces, hyphens,
ampersands and full stops, and the same category often comes twice in different case.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

MAX_HASHTAGS = 30
"""The Graph API's hard cap; no platform setting may exceed it."""

_APOSTROPHES = re.compile(r"['’ʼ`]")


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


def _words(text: str) -> list[str]:
    """Runs of letters, digits and combining marks (marks matter: Devanagari, Thai, Arabic...)."""
    words: list[str] = []
    current: list[str] = []
    for ch in text:
        if unicodedata.category(ch)[0] in "LNM":
            current.append(ch)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


@lru_cache(maxsize=4096)
def hashtag(category: str) -> str | None:
    """One category as a CamelCase hashtag, or None when nothing usable is left.

    Apostrophes vanish inside words ("Women's" -> "Womens"); every other non-letter,
    non-digit character separates words. A tag needs a letter: platforms ignore "#2026".
    Memoised: a feed's few categories come back on every story and every platform.
    """
    text = unicodedata.normalize("NFC", _APOSTROPHES.sub("", category))
    words = _words(text)
    body = "".join(w[0].upper() + w[1:] for w in words)
    if not any(_is_letter(ch) for ch in body):
        return None
    return "#" + body


def hashtags(categories: Iterable[str], cap: int, *, exclude: Iterable[str] = ()) -> list[str]:
    """At most `cap` distinct hashtags in category order; duplicates compared case-insensitively.

    `exclude` holds tags already present in the post (so a title's #Diamonds is not repeated).
    """
    seen = {tag.casefold() for tag in exclude}
    result: list[str] = []
    for category in categories:
        if len(result) >= min(cap, MAX_HASHTAGS):
            break
        tag = hashtag(category)
        if tag is None or tag.casefold() in seen:
            continue
        seen.add(tag.casefold())
        result.append(tag)
    return result
