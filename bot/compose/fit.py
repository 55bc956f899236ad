"""Shortening one field so a post fits, without ever cutting a URL, a @handle or a #hashtag.

Cuts happen at spaces (URLs, handles and hashtags never contain one), and the shortened text
ends with "…". Only when not even the first word fits is that word cut inside, and then only if
it is a plain word: a token holding a URL, '@' or '#' is kept whole or dropped whole, and a cut
never splits an emoji sequence or separates a letter from its combining marks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import overload

from bot.weighted_length import emoji_spans, url_spans

ELLIPSIS = "…"
_TRAILING = " \n,;:-–—(/\"“‘'"
_JOINERS = {"\u200d", "\u200c"}
_SEPARATOR = re.compile(r"[ \n]")
_WORD_END = re.compile(r"(?<![ \n])[ \n]")
"""A space or newline right after a word: where a cut at a word boundary can go."""


def _inside(spans: list[tuple[int, int]], index: int) -> bool:
    """True when a cut at `index` would fall strictly inside one of `spans`."""
    return any(a < index < b for a, b in spans)


def _finish(prefix: str) -> str:
    """Drop dangling punctuation before the ellipsis, but never a URL's own last characters."""
    urls = url_spans(prefix)
    ends_in_url = any(b == len(prefix) for _, b in urls)
    if ends_in_url:
        return prefix + " " + ELLIPSIS
    stripped = prefix.rstrip(_TRAILING)
    if stripped != prefix and any(b > len(stripped) for _, b in url_spans(stripped)):
        stripped = prefix.rstrip(" \n")
    return stripped + ELLIPSIS if stripped else ""


def _safe_inside_word(text: str, k: int, emojis: list[tuple[int, int]]) -> bool:
    ch, before = text[k], text[k - 1]
    if unicodedata.category(ch).startswith("M") or ch in _JOINERS or before in _JOINERS:
        return False
    code = ord(ch)
    if 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF or 0xE0000 <= code <= 0xE01EF:
        return False
    return not _inside(emojis, k)


class Shortenings(Sequence[str]):
    """Every shortened form of a text, shortest first, built on demand (summaries can be long)."""

    def __init__(self, text: str) -> None:
        self.text = text
        ends: list[int] = []
        space = _SEPARATOR.search(text)
        first_space = space.start() if space else len(text)
        first = text[:first_space]
        plain = first and "@" not in first and "#" not in first and not url_spans(first)
        if plain:
            emojis = emoji_spans(first)
            ends.extend(k for k in range(1, len(first)) if _safe_inside_word(first, k, emojis))
        if first_space == 0 and text and text[-1] not in " \n":
            ends.append(0)  # text[0 - 1] wraps to the last character (kept as it always was)
        ends.extend(m.start() for m in _WORD_END.finditer(text, max(first_space, 1)))
        self.ends = ends

    def __len__(self) -> int:
        return len(self.ends)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return _finish(self.text[: self.ends[index]])


def longest_fitting(candidates: Sequence[str], fits: Callable[[str], bool]) -> str | None:
    """The longest candidate that fits (candidates shortest first), or None.

    Binary search assumes that a longer candidate never fits where a shorter one does not;
    URL detection can bend that slightly, so the answer is always one that was tested to fit,
    at worst a little shorter than the best.
    """
    lo, hi, best = 0, len(candidates) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if fits(candidates[mid]):
            best, lo = candidates[mid], mid + 1
        else:
            hi = mid - 1
    return best
