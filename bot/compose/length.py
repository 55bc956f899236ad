"""X's weighted length (twitter-text configuration v3), fast enough to call inside a fitting loop.

The counting rules are twitter-text-parser's own (it passes every v3 conformance case), but its
URL and emoji regular expressions are slow on long texts and quadratic on long dotted tokens
("a.a.a.…"), and fitting measures near-identical drafts dozens of times. No URL or emoji sequence
can contain a space or a newline, so the text is split there and each token is counted once and
memoised; the sum is exactly the library's answer (checked against it by the conformance and
property tests).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from twitter_text import parse_tweet
from twitter_text.config import config as _TT_CONFIG
from twitter_text.extract_emojis import extract_emojis_with_indices
from twitter_text.extract_urls import extract_urls_with_indices
from twitter_text.has_invalid_characters import has_invalid_characters

V3: dict[str, object] = dict(_TT_CONFIG["version3"])
"""twitter-text configuration v3: 280 weighted, URLs 23, CJK/emoji 2, emoji sequences once."""

MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23

_SEPARATORS = re.compile(r"([ \n])")
_LINE_ENDINGS = re.compile(r"\r\n|\r")


def _prepare(text: str) -> str:
    """The text as X counts it: NFC, with CR and CRLF read as one newline (as twitter-text does)."""
    return _LINE_ENDINGS.sub("\n", unicodedata.normalize("NFC", text))


@lru_cache(maxsize=16384)
def _token_weight(token: str) -> int:
    return parse_tweet(token, V3).weightedLength


def weighted_length(text: str) -> int:
    """X's count of `text` (twitter-text v3): the number to keep at or under 280."""
    total = 0
    for piece in _SEPARATORS.split(_prepare(text)):
        if piece in (" ", "\n"):
            total += 1
        elif piece:
            total += _token_weight(piece)
    return total


def is_valid_tweet(text: str, max_length: int = MAX_WEIGHTED_LENGTH) -> bool:
    """What X would accept: not empty, no U+FFFE/U+FEFF/U+FFFF, weighted length <= max_length."""
    prepared = _prepare(text)
    return 0 < weighted_length(prepared) <= max_length and not has_invalid_characters(prepared)


def permillage(text: str, max_length: int = MAX_WEIGHTED_LENGTH) -> int:
    """Thousandths of the allowance used, as twitter-text reports it."""
    return weighted_length(text) * 1000 // max_length


@lru_cache(maxsize=16384)
def _token_spans(token: str) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    urls = tuple((u["indices"][0], u["indices"][1]) for u in extract_urls_with_indices(token))
    emojis = tuple((e["indices"][0], e["indices"][1]) for e in extract_emojis_with_indices(token))
    return urls, emojis


def _spans(text: str, kind: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    offset = 0
    for piece in _SEPARATORS.split(text):
        if piece and piece not in (" ", "\n"):
            spans.extend((offset + a, offset + b) for a, b in _token_spans(piece)[kind])
        offset += len(piece)
    return spans


def url_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of every URL X recognises in `text` (NFC, LF text), scheme or not."""
    return _spans(text, 0)


def emoji_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of every emoji sequence (ZWJ families, flags, keycaps, skin tones)."""
    return _spans(text, 1)
