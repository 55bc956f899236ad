"""Rich text for a post record: links, mentions and tags as facets with UTF-8 byte offsets.

Bluesky makes nothing clickable by itself: a URL without a link facet is plain text, an
@handle without a mention facet (carrying the account's DID) tags nobody, a #word without a tag
facet is no hashtag. The offsets are UTF-8 bytes, start inclusive, end exclusive, and facets may
not overlap (app.bsky.richtext.facet).

Which tokens count is decided the way the composer decides it, so that the bot's own hashtags
and handles become facets and a stranger's neutralised ones (a word joiner after the sigil,
see bot.compose.text.neutralise) do not: a mention or tag must start with a letter or digit
right after its sigil. Only URLs with a scheme are links; a bare "amazon.com" in a title stays
text, as the composer wrote it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_URL = re.compile(r"(?<![\w/@#])https?://[^\s<>\"]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\"”’…"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_MENTION = re.compile(
    rf"(?<![\w@/.\-])@((?:{_LABEL}\.)+[a-zA-Z](?:[a-zA-Z0-9-]{{0,61}}[a-zA-Z0-9])?)"
)
"""A handle is a domain name with at least two labels, the last not starting with a digit."""
_TAG = re.compile(r"(?<![\w#&])[#＃](\w+)")
MAX_TAG = 64
"""Bluesky's longest tag (graphemes; counted here in code points, which is never fewer)."""

LINK = "app.bsky.richtext.facet#link"
MENTION = "app.bsky.richtext.facet#mention"
TAG = "app.bsky.richtext.facet#tag"


@dataclass(frozen=True, slots=True)
class Span:
    """A token of the text, in code-point offsets, with what it points at."""

    start: int
    end: int
    kind: str  # LINK | MENTION | TAG
    value: str  # the URL, the handle (without '@', lower case) or the tag (without '#')


def _strip_url(url: str) -> str:
    """A URL as a reader means it: it ends before a non-ASCII symbol or invisible character (an
    emoji glued to it), and trailing punctuation and an unbalanced ')' are not part of it."""
    for index, char in enumerate(url):
        if not char.isascii() and unicodedata.category(char)[0] in "SCZ":
            url = url[:index]
            break
    while url:
        if url[-1] in _TRAILING or (url[-1] == ")" and url.count(")") > url.count("(")):
            url = url[:-1]
        else:
            break
    return url


def spans(text: str) -> list[Span]:
    """Every link, mention and tag of `text`, in order, none overlapping (links win)."""
    found: list[Span] = []
    for match in _URL.finditer(text):
        url = _strip_url(match.group(0))
        if "://" in url and len(url) > url.index("://") + 3:
            found.append(Span(match.start(), match.start() + len(url), LINK, url))

    def free(start: int, end: int) -> bool:
        return not any(s.start < end and start < s.end for s in found)

    for match in _MENTION.finditer(text):
        handle = match.group(1)
        end = match.start() + 1 + len(handle)
        if free(match.start(), end):
            found.append(Span(match.start(), end, MENTION, handle.lower()))
    for match in _TAG.finditer(text):
        tag = match.group(1)
        if tag.isdigit() or len(tag) > MAX_TAG:
            continue
        if free(match.start(), match.end()):
            found.append(Span(match.start(), match.end(), TAG, tag))
    return sorted(found, key=lambda s: s.start)


def mentioned_handles(text: str) -> list[str]:
    """The handles to resolve to DIDs before the facets can be built (each once, in order)."""
    return list(dict.fromkeys(s.value for s in spans(text) if s.kind == MENTION))


def byte_offset(text: str, index: int) -> int:
    """The UTF-8 byte offset of code point `index` (what facets count in)."""
    return len(text[:index].encode("utf-8"))


def facets(text: str, dids: Mapping[str, str]) -> list[dict[str, Any]]:
    """The record's `facets`. A mention whose handle has no DID in `dids` (it did not resolve)
    gets none: the text keeps the handle, which tags nobody (Bluesky's own advice)."""
    result: list[dict[str, Any]] = []
    for span in spans(text):
        if span.kind == LINK:
            feature: dict[str, Any] = {"$type": LINK, "uri": span.value}
        elif span.kind == MENTION:
            did = dids.get(span.value)
            if not did:
                continue
            feature = {"$type": MENTION, "did": did}
        else:
            feature = {"$type": TAG, "tag": span.value}
        index = {"byteStart": byte_offset(text, span.start), "byteEnd": byte_offset(text, span.end)}
        result.append({"index": index, "features": [feature]})
    return result
