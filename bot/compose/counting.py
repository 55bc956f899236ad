"""A post's length as its platform counts it, chosen by `Limits.counting`, never by a name.

Platforms disagree on what a character is: plain code points, what a reader sees as one
character (an extended grapheme cluster: "e" + combining accent, a flag, a ZWJ family), code
points with emoji counted by their UTF-8 bytes, or the weighted count where CJK and emoji weigh
2. Several also give every URL a fixed weight, so a long link costs no more than a short one.
Counting as the server does is what lets fitting use all the room and never get a post refused.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from bot.models import Counting, Limits
from bot.weighted_length import URL_WEIGHT, emoji_spans, url_spans, weighted_length

if TYPE_CHECKING:
    import regex

_SCHEMES = ("http://", "https://")


def graphemes(text: str) -> int:
    """Extended grapheme clusters (Unicode's UAX #29, as the `regex` module's \\X finds them)."""
    if text.isascii():  # every ASCII character is a cluster of its own, except CR LF together
        return len(text) - text.count("\r\n")
    return len(_grapheme().findall(text))


@cache
def _grapheme() -> regex.Pattern[str]:
    """The `regex` module loads (about 5 ms) with the first non-ASCII text a platform counts in
    graphemes, not with every command that composes."""
    import regex

    return regex.compile(r"\X")


def utf8_emoji(text: str) -> int:
    """Code points, but every emoji sequence counts the UTF-8 bytes of all its code points."""
    total = len(text)
    for start, end in emoji_spans(text):
        piece = text[start:end]
        total += len(piece.encode("utf-8")) - len(piece)
    return total


def with_url_weight(text: str, weight: int) -> str:
    """`text` with every URL that has a scheme replaced by `weight` x's: counting the result by
    any method gives each such link the fixed weight (a bare "example.com" is plain text)."""
    spans = [(a, b) for a, b in url_spans(text) if text[a : a + 8].lower().startswith(_SCHEMES)]
    if not spans:
        return text
    pieces: list[str] = []
    last = 0
    for start, end in spans:
        pieces.append(text[last:start])
        pieces.append("x" * weight)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def measure(text: str, limits: Limits) -> int:
    """The number the platform compares with `limits.max_length`."""
    method = limits.counting
    if method is Counting.WEIGHTED:
        weight = URL_WEIGHT if limits.url_weight is None else limits.url_weight
        return weighted_length(text, url_weight=weight)
    if limits.url_weight is not None:
        text = with_url_weight(text, limits.url_weight)
    if method is Counting.GRAPHEMES:
        return graphemes(text)
    if method is Counting.UTF8_EMOJI:
        return utf8_emoji(text)
    return len(text)


def over_bytes(text: str, limits: Limits) -> int | None:
    """The text's UTF-8 size when it breaks `limits.max_bytes`, else None."""
    if limits.max_bytes is None:
        return None
    size = len(text.encode("utf-8"))
    return size if size > limits.max_bytes else None


def fits(text: str, limits: Limits, size: int | None = None) -> bool:
    """Within every ceiling the platform sets (`size`: measure(text), when already known)."""
    if size is None:
        size = measure(text, limits)
    return size <= limits.max_length and over_bytes(text, limits) is None
