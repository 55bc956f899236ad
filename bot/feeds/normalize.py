"""What a feed said, as a Story: the one place that decides what a story looks like.

Every parser (RSS and Atom through lxml, feedparser's fallback, JSON Feed) fills a RawItem and
hands it to `build_story`, so the paths cannot drift apart. The rules themselves live in small
modules, each written to be read as the specification of its part:
- bot.feeds.text: markup to plain text, summaries, the first image of a fragment;
- bot.feeds.urls: which links are allowed, and the canonical form of a link;
- bot.feeds.dates: a feed's date as UTC;
- bot.feeds.identity: the key under which the store remembers a story ("seen" forever).
Their names are re-exported here for the callers that import them from this module.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.feeds.dates import parse_date
from bot.feeds.identity import stable_guid, story_identity
from bot.feeds.text import clean_summary, collapse, first_image_src, plain_text, summary_text
from bot.feeds.urls import (
    TRACKING_PARAMS,
    TRACKING_PREFIXES,
    canonical_url,
    is_tracking_param,
    safe_url,
)
from bot.models import Story

__all__ = [
    "SUMMARY_MAX_CHARS",
    "TITLE_MAX_CHARS",
    "TRACKING_PARAMS",
    "TRACKING_PREFIXES",
    "RawItem",
    "build_story",
    "canonical_url",
    "clean_summary",
    "collapse",
    "drop_shared_guids",
    "first_image_src",
    "is_tracking_param",
    "parse_date",
    "plain_text",
    "safe_url",
    "stable_guid",
    "story_identity",
    "summary_text",
]


@dataclass(slots=True)
class RawItem:
    """One entry as a parser found it, before normalisation."""

    title: str = ""
    title_is_html: bool = True
    link: str | None = None
    guid: str | None = None
    summary: str = ""
    """HTML (or plain text, which plain_text leaves alone apart from entities)."""
    content: str = ""
    published: datetime | None = None
    author: str | None = None
    categories: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    """Image URL candidates from metadata (media:content, thumbnails, enclosures), best first."""
    base: str | None = None
    """The URL relative links are resolved against (xml:base or the feed URL)."""


SUMMARY_MAX_CHARS = 2000
TITLE_MAX_CHARS = 500
_CONTENT_READ_CHARS = SUMMARY_MAX_CHARS * 20
"""How much of an item's full content is read for a summary when it has no description."""
_EMAIL_NAME_RE = re.compile(r"^\s*\S+@\S+\s*\((.+)\)\s*$")


def build_story(item: RawItem, *, feed_url: str, now: datetime) -> Story:
    """Normalise one RawItem. The rules, field by field:

    - title: plain text (collapsed only, when the feed says it is not HTML); over 500
      characters it is cut at the last space before and ends with "…";
    - url: the canonical link, resolved against the item's base (xml:base) or the feed URL;
    - summary: the description's summary text, else the content's (its first 40,000
      characters); over 2,000 characters it is cut at the last space before and ends "…";
    - image: the first safe image URL of the metadata candidates, else the first <img> of
      the content, else of the description;
    - author: see _author_name; categories: plain text, empty and repeated ones dropped;
    - published: the feed's date, else `now` (and `dated` says which);
    - guid and identity: bot.feeds.identity.
    """
    base = item.base or feed_url
    title = plain_text(item.title) if item.title_is_html else collapse(item.title)
    if len(title) > TITLE_MAX_CHARS:  # no real headline is this long; hostile or broken
        title = title[:TITLE_MAX_CHARS].rsplit(" ", 1)[0] + "…"
    url = canonical_url(item.link, base)
    summary = summary_text(item.summary) if item.summary else ""
    if not summary and item.content:
        summary = summary_text(item.content[:_CONTENT_READ_CHARS])
    if len(summary) > SUMMARY_MAX_CHARS:
        summary = summary[:SUMMARY_MAX_CHARS].rsplit(" ", 1)[0] + "…"
    guid = stable_guid(item.guid)
    return Story(
        identity=story_identity(guid, url, title, item.published),
        url=url,
        title=title,
        summary=summary,
        published=item.published if item.published is not None else now.astimezone(UTC),
        feed_url=feed_url,
        guid=guid,
        author=_author_name(item.author) if item.author else None,
        categories=tuple(dict.fromkeys(c for c in map(_category_name, item.categories) if c)),
        image_url=_image_url(item, base),
        dated=item.published is not None,
    )


def _image_url(item: RawItem, base: str) -> str | None:
    for candidate in item.images:
        image = safe_url(candidate, base)
        if image:
            return image
    for markup in (item.content, item.summary):
        if markup:
            image = safe_url(first_image_src(markup), base)
            if image:
                return image
    return None


# Memoised (a site repeats a few dozen authors and categories in every item): see
# benchmarks/README.md.
@functools.lru_cache(maxsize=4096)
def _author_name(raw: str) -> str | None:
    """ "Jane Doe", also from "jane@example.com (Jane Doe)"; None when nothing is left."""
    author = plain_text(raw)
    match = _EMAIL_NAME_RE.match(author)
    if match:
        author = match.group(1).strip()
    return author or None


@functools.lru_cache(maxsize=4096)
def _category_name(raw: str) -> str:
    return plain_text(raw)


def drop_shared_guids(items: list[RawItem], *feed_links: str | None) -> None:
    """Forget guids that cannot tell stories apart: shared by two items, or the feed's own URL.

    Some CMSs give every item the same guid (the site URL, a constant); trusting it would make
    every later story look "seen". Such items fall back to their canonical link.
    """
    counts: dict[str, int] = {}
    for item in items:
        if item.guid:
            key = item.guid.strip()
            counts[key] = counts.get(key, 0) + 1
    own = {_loose_key(link) for link in feed_links if link}
    for item in items:
        if not item.guid:
            continue
        key = item.guid.strip()
        if counts.get(key, 0) > 1 or _loose_key(key) in own:
            item.guid = None


def _loose_key(url: str) -> str:
    """A cheap comparison key for "is this guid just the site's URL?"."""
    url = url.strip().lower()
    if url.startswith(("http://", "https://")):
        url = url.split("://", 1)[1]
    return url.split("#", 1)[0].rstrip("/")
