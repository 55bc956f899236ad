"""The weighted length (the twitter_text package's configuration v3), fast enough to call inside
a fitting loop; and the URL and emoji spans every counting method and the fitter rely on. The
composer fits posts with it, and X's adapter checks a post with it before sending.

The counting rules are the twitter_text package's own (it passes every v3 conformance case), but
its URL and emoji regular expressions are slow on long texts and quadratic on long dotted tokens
("a.a.a.…"), and fitting measures near-identical drafts dozens of times. No URL or emoji sequence
can contain a space or a newline, so the text is split there and each token is counted once and
memoised; the sum is exactly the library's answer (checked against it by the conformance and
property tests).

Most tokens need no library call at all: the package finds no URL in a text without a '.', no
emoji among ASCII characters, and weighs every ASCII character 1. So only "special" tokens (with
a '.' or a non-ASCII character) are looked up; every other character counts as itself. And the
commonest special token, a story's own link, is recognised without the package (see
`_simple_url`): loading its URL expressions costs 57 ms of a process's life.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import cache, lru_cache
from typing import Any

from bot.twitter_text_parts import (
    extract_emojis_with_indices,
    extract_urls_with_indices,
    get_character_weight,
    has_invalid_characters,
    tld_patterns,
    v3_config,
)

V3: dict[str, object] = v3_config()
"""Weighted configuration v3: 280 weighted, URLs 23, CJK/emoji 2, emoji sequences once."""

MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23
_SCALE = int(V3["scale"])  # weights are hundredths: ASCII 100
_URL_SCALED = int(V3["transformed_url_length"]) * _SCALE
_EMOJI_SCALED = int(V3["default_weight"])  # a sequence, once
_EMOJI_PARSING = bool(V3["emoji_parsing_enabled"])

_LINE_ENDINGS = re.compile(r"\r\n|\r")
_SEPARATOR = re.compile(r"[ \n]")
_SPECIAL = re.compile(r"[^\x00-\x2d\x2f-\x7f]")
"""A character that is not plain ASCII: '.' (URLs) or non-ASCII (weights, emoji, IDN URLs)."""
_DOT = re.compile(r"\.")
"""The only tokens where the package can find a URL hold a '.'."""
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
"""The only tokens where an emoji can be hold a non-ASCII character."""


def _tokens_with(text: str, wanted: re.Pattern[str]) -> Iterator[tuple[int, str]]:
    """(start, token) of each token (a run between spaces and newlines) holding a `wanted`
    character. Found from those characters outwards, so plain tokens cost nothing."""
    pos = 0
    while found := wanted.search(text, pos):
        index = found.start()
        start = max(text.rfind(" ", pos, index), text.rfind("\n", pos, index)) + 1
        after = _SEPARATOR.search(text, index)
        end = after.start() if after else len(text)
        yield start, text[start:end]
        pos = end


def _prepare(text: str) -> str:
    """The text as the weighted count sees it: NFC, with CR and CRLF read as one newline."""
    if "\r" in text:
        text = _LINE_ENDINGS.sub("\n", text)
    return unicodedata.normalize("NFC", text)


@cache
def _tld_after_dot() -> re.Pattern[str]:
    """Every URL the package extracts has a domain ending in '.' + a known TLD (or xn--...),
    matched case-insensitively, schemes included. Its URL regex is quadratic on long dotted
    tokens with no such ending ("ab.ab.ab.…", "U.S.-based"), so those are answered here without
    running it (and without loading it: see bot.twitter_text_parts)."""
    gtld, cctld, punycode = tld_patterns()
    return re.compile(rf"\.(?:{gtld}|{cctld}|{punycode})", re.IGNORECASE)


_COMMON_TLDS = frozenset(
    {
        *("com", "net", "org", "info", "biz", "edu", "gov", "io", "co", "ai", "app", "dev"),
        *("news", "online", "blog", "shop", "store", "tech", "media", "jewelry"),
        *("us", "uk", "ca", "au", "nz", "ie", "de", "fr", "it", "es", "nl", "be", "ch", "at"),
        *("se", "no", "dk", "fi", "pl", "pt", "eu", "in", "jp", "cn", "hk", "sg", "za", "br"),
        "mx",
    }
)
"""Top-level domains a story's link most often ends in; each is on the package's own lists (a
test checks). Any other TLD goes to the package."""

_SIMPLE_URL = re.compile(
    r"https?://(?P<host>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?P<tld>[a-z]+))"
    r"(?:/(?:[A-Za-z0-9._~%/=+&-]*[A-Za-z0-9_=/+-])?"  # path: ends where the package's does
    r"(?:\?[A-Za-z0-9._~%/=+&-]*[A-Za-z0-9_&=/-])?)?"  # query: likewise
)
"""A whole token that is one plain link: scheme, lower-case ASCII host of 1-63 character labels,
then a path and query whose characters are all in the package's path and query sets and whose
last character is one the package lets a URL end with."""


def _simple_url(token: str) -> bool:
    """Whether the package would find `token` to be exactly one URL, known without running it.

    Step by step through extract_urls_with_indices: at the start of a token its URL expression
    takes the scheme, then the host (labels with inner hyphens, and a TLD on its list followed
    by '/' or the end), then the longest path and query ending in a character it allows, which
    here is the whole rest; is_valid_url's IDNA check passes labels of 1-63 characters, its
    4,096-character limit is far off, and t.co links are cut to their slug, so they are left
    to the package. tests/test_weighted_length.py checks the claim against the package."""
    if len(token) > 2048 or not (match := _SIMPLE_URL.fullmatch(token)):
        return False
    return match["tld"] in _COMMON_TLDS and match["host"] != "t.co"


def _library_urls(text: str, spaced: bool = False) -> list[dict[str, Any]]:
    """The package's URL entities of the token `text`, skipping its slow regex where it cannot
    match, and the package itself for a token that is one plain link.

    `spaced`: the token follows a space or newline, not the start of the text. The package's
    expression takes the character before a URL as its own, and at the start of a text that can
    be the token's first character ("Àexample.org" alone is "À" + the URL "example.org"; after
    a space the URL is "Àexample.org"), so a spaced token is looked up behind a space."""
    if "." not in text:
        return []
    if _simple_url(text):
        return [{"url": text, "indices": [0, len(text)]}]
    if not _tld_after_dot().search(text):
        return []
    if not spaced:
        return extract_urls_with_indices(text)
    return [
        {"url": u["url"], "indices": [u["indices"][0] - 1, u["indices"][1] - 1]}
        for u in extract_urls_with_indices(" " + text)
    ]


@lru_cache(maxsize=16384)
def _token_weight(token: str, url_scaled: int = _URL_SCALED, spaced: bool = False) -> int:
    """The package's parse_tweet(token, V3).weightedLength, step for step (with URLs weighing
    `url_scaled` hundredths), its two entity extractors only run where they can find something
    (URLs need '.' + TLD, emoji non-ASCII); `spaced` as for _library_urls."""
    text = _LINE_ENDINGS.sub("\n", unicodedata.normalize("NFC", token))
    urls = {u["indices"][0]: len(u["url"]) for u in _library_urls(text, spaced)}
    emojis = {}
    if _EMOJI_PARSING and not text.isascii():
        emojis = {e["indices"][0]: len(e["emoji"]) for e in extract_emojis_with_indices(text)}
    weight, index = 0, 0
    while index < len(text):
        if index in urls:
            weight += url_scaled
            index += urls[index] - 1
        elif index in emojis:
            weight += _EMOJI_SCALED
            index += emojis[index] - 1
        else:
            weight += get_character_weight(text[index], V3)
        index += 1
    return int(weight / _SCALE)


def weighted_length(text: str, url_weight: int = URL_WEIGHT) -> int:
    """The weighted count of `text` (v3, each URL `url_weight`): the number to keep at or under
    280 where posts are counted this way."""
    text = _prepare(text)
    total = len(text)  # spaces, newlines and plain ASCII characters weigh 1 each
    if text.isascii() and "." not in text:
        return total
    for start, token in _tokens_with(text, _SPECIAL):
        total += _token_weight(token, url_weight * _SCALE, start > 0) - len(token)
    return total


def is_valid_tweet(text: str, max_length: int = MAX_WEIGHTED_LENGTH) -> bool:
    """What a weighted-count platform accepts: not empty, no U+FFFE/U+FEFF/U+FFFF, weighted
    length <= max_length."""
    prepared = _prepare(text)
    return 0 < weighted_length(prepared) <= max_length and not has_invalid_characters(prepared)


def permillage(text: str, max_length: int = MAX_WEIGHTED_LENGTH) -> int:
    """Thousandths of the allowance used, as the package reports it."""
    return weighted_length(text) * 1000 // max_length


@lru_cache(maxsize=16384)
def _token_urls(token: str, spaced: bool) -> tuple[tuple[int, int], ...]:
    return tuple((u["indices"][0], u["indices"][1]) for u in _library_urls(token, spaced))


@lru_cache(maxsize=16384)
def _token_emojis(token: str) -> tuple[tuple[int, int], ...]:
    return tuple((e["indices"][0], e["indices"][1]) for e in extract_emojis_with_indices(token))


def url_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of every URL the package recognises in `text` (NFC, LF text), scheme or
    not: the widest view of what a platform links, so nothing any of them links is cut."""
    if "." not in text:
        return []
    spans: list[tuple[int, int]] = []
    for offset, token in _tokens_with(text, _DOT):
        spans.extend((offset + a, offset + b) for a, b in _token_urls(token, offset > 0))
    return spans


def inside_url(text: str, index: int) -> bool:
    """Whether text[index] (not a space or newline) is part of a URL `url_spans` finds.

    The same answer as looking `index` up in url_spans(text), but only the token around `index`
    is examined: a '#' or '@' is asked about far more often than a whole text's URLs are needed.
    """
    start = max(text.rfind(" ", 0, index), text.rfind("\n", 0, index)) + 1
    after = _SEPARATOR.search(text, index)
    end = after.start() if after else len(text)
    if text.find(".", start, end) == -1:
        return False
    offset = index - start
    return any(a <= offset < b for a, b in _token_urls(text[start:end], start > 0))


def emoji_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of every emoji sequence (ZWJ families, flags, keycaps, skin tones)."""
    if text.isascii():
        return []
    spans: list[tuple[int, int]] = []
    for offset, token in _tokens_with(text, _NON_ASCII):
        spans.extend((offset + a, offset + b) for a, b in _token_emojis(token))
    return spans
