"""Feed bytes to Stories: which parser reads a document, and what no parser is given.

A JSON body goes to the JSON Feed parser; an HTML page is refused; everything else loses its
DOCTYPE (bot.feeds.sniff) and goes to the lxml path (bot.feeds.xmlfeed), which reads
well-formed RSS and Atom and declines the rest. A declined document is checked once more
(entities, nesting) and then given to feedparser (bot.feeds.fallback), here or, through
`fallback`, in a bounded child process (bot.feeds.sandbox). Every path builds its Stories
with bot.feeds.normalize.build_story.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.errors import FeedError
from bot.feeds.fallback import parse_with_feedparser
from bot.feeds.jsonfeed import looks_like_json, parse_json_feed
from bot.feeds.parsed import ParsedFeed, Unsure
from bot.feeds.sniff import (
    MAX_OPEN_ELEMENTS,
    check_before_fallback,
    looks_like_html,
    strip_doctype,
)
from bot.feeds.xmlfeed import parse_fast, xml_parser

if TYPE_CHECKING:
    from bot.feeds.fetched import FetchResult

__all__ = [
    "MAX_OPEN_ELEMENTS",
    "Fallback",
    "ParsedFeed",
    "parse_fast",
    "parse_feed",
    "parse_fetched",
    "parse_with_feedparser",
    "strip_doctype",
    "xml_parser",
]

Fallback = Callable[..., ParsedFeed]


def parse_feed(
    body: bytes,
    *,
    url: str,
    now: datetime,
    content_type: str | None = None,
    fallback: Fallback | None = None,
) -> ParsedFeed:
    """Parse one feed document; raises FeedError naming `url` when it is not a feed at all.

    `fallback` runs feedparser for what the fast path declined (default: here, in this
    process; `bot.feeds.sandbox` passes one that runs it in a bounded child process). Before
    any fallback, a document that still declares entities, or nests elements too deeply, is
    refused: feedparser's expat would expand the entities, and its lenient parser crawls."""
    if not body or body.isspace():  # not body.strip(): that copies the whole document
        raise FeedError(url, "not a feed: the response is empty")
    if looks_like_json(body, content_type):
        return parse_json_feed(body, url=url, now=now, content_type=content_type)
    if looks_like_html(body):
        raise FeedError(url, "not a feed: got an HTML page")
    body = strip_doctype(body, url)
    try:
        return parse_fast(body, url=url, now=now, content_type=content_type)
    except Unsure as unsure:
        if "Excessive depth" in str(unsure):  # feedparser's loose parser would crawl for seconds
            raise FeedError(url, "not a feed: elements nested too deeply") from None
        check_before_fallback(body, url, content_type)
        run = fallback or parse_with_feedparser
        return run(body, url=url, now=now, content_type=content_type)


def parse_fetched(result: FetchResult, *, now: datetime) -> ParsedFeed | None:
    """Glue for the engine: raise the fetch error, None on 304, else parse at the final URL."""
    if result.error is not None:
        raise result.error
    if result.not_modified or result.body is None:
        return None
    return parse_feed(result.body, url=result.final_url, now=now, content_type=result.content_type)
