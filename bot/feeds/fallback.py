"""feedparser, for the documents the lxml path declined: slow, but forgiving.

The body goes in as a stream, never as a string: feedparser would treat a string as a URL or a
file name and open it. It only ever sees documents bot.feeds.sniff has let through.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from bot.errors import FeedError
from bot.feeds.normalize import RawItem, build_story, collapse, drop_shared_guids, plain_text
from bot.feeds.parsed import ParsedFeed


def _struct_to_utc(value: Any) -> datetime | None:
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def parse_with_feedparser(
    body: bytes, *, url: str, now: datetime, content_type: str | None = None
) -> ParsedFeed:
    """feedparser for what the fast path declined. The body goes in as a stream, never as a
    string: feedparser would treat a string as a URL or a file name and open it."""
    import feedparser  # local: 80 ms to import, and most feeds never need it

    # Without a type feedparser flags every document "NonXMLContentType"; application/xml
    # keeps its default of trusting the XML declaration's encoding.
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    try:
        result = feedparser.parse(io.BytesIO(body), response_headers=headers)
    except Exception as exc:  # feedparser promises not to raise; a bug there must not kill us
        raise FeedError(url, f"unparseable: {type(exc).__name__}: {exc}") from None
    entries = result.get("entries") or []
    version = result.get("version") or ""
    feed = result.get("feed") or {}
    if not entries and not version and (result.get("bozo") or not feed.get("title")):
        reason = result.get("bozo_exception")
        detail = f" ({type(reason).__name__}: {reason})" if reason else ""
        raise FeedError(url, f"not a feed: no RSS, Atom or JSON Feed found{detail}")
    items = [_feedparser_item(entry) for entry in entries]
    drop_shared_guids(items, url, feed.get("link"))
    stories = [build_story(item, feed_url=url, now=now) for item in items]
    warning = None
    if result.get("bozo"):
        exc = result.get("bozo_exception")
        warning = f"recovered from ill-formed feed: {type(exc).__name__}: {exc}"
    title_detail = feed.get("title_detail") or {}
    title = feed.get("title")
    if isinstance(title, str):
        title = plain_text(title) if "html" in title_detail.get("type", "html") else collapse(title)
    return ParsedFeed(title or None, stories, warning, "feedparser")


def _feedparser_item(entry: Any) -> RawItem:
    title_detail = entry.get("title_detail") or {}
    item = RawItem(
        title=entry.get("title") or "",
        title_is_html="html" in (title_detail.get("type") or "text/html"),
        link=entry.get("link"),
        guid=entry.get("id") if isinstance(entry.get("id"), str) else None,
        summary=entry.get("summary") or "",
        author=entry.get("author") if isinstance(entry.get("author"), str) else None,
    )
    content = entry.get("content") or []
    if content and isinstance(content[0], dict):
        item.content = content[0].get("value") or ""
    if item.summary and item.content and item.summary == item.content:
        item.content = ""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        if entry.get(key):
            item.published = _struct_to_utc(entry[key])
            if item.published is not None:
                break
    for tag in entry.get("tags") or []:
        term = tag.get("term") or tag.get("label")
        if isinstance(term, str) and term:
            item.categories.append(term)
    for media in entry.get("media_content") or []:
        medium = (media.get("medium") or "").lower()
        mime = (media.get("type") or "").lower()
        if media.get("url") and (medium == "image" or mime.startswith("image/")):
            item.images.append(media["url"])
    for media in entry.get("media_thumbnail") or []:
        if media.get("url"):
            item.images.append(media["url"])
    for link in entry.get("links") or []:
        mime = link.get("type") or ""
        if link.get("rel") == "enclosure" and mime.startswith("image/") and link.get("href"):
            item.images.append(link["href"])
    return item
