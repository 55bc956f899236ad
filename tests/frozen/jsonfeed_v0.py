"""FROZEN COPY of bot/feeds/jsonfeed.py at commit 7498e24 (before issue 17 rewrote the feeds
wing as a specification), importing the other frozen copies. Never edit it:
tests/test_feeds_identity.py parses whole documents with it and with today's code and wants
the same stories.

The original docstring follows.

JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1), which feedparser does not read.

Lenient on purpose: a value of the wrong type is dropped, never fatal, because one sloppy item
must not hide the rest of the feed. NaN and Infinity (not JSON, but Python's json accepts them)
are treated as missing values.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from typing import Any

from bot.errors import FeedError
from tests.frozen.normalize_v0 import RawItem, build_story, collapse, drop_shared_guids, parse_date
from tests.frozen.parse_v0 import ParsedFeed

VERSION_PREFIX = "https://jsonfeed.org/version/"
_JSON_TYPES = ("application/feed+json", "application/json")
_ENTITY_RE = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,31});")


def looks_like_json(body: bytes, content_type: str | None) -> bool:
    """A JSON document by its media type or its first byte (BOM and whitespace skipped)."""
    if content_type and content_type.split(";")[0].strip().lower() in _JSON_TYPES:
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _reject_constant(_name: str) -> None:
    return None


def _text(value: Any) -> str | None:
    """A string field: strings are trimmed, anything else (number, list, null...) is dropped."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def _plain(value: Any) -> str:
    """JSON Feed titles are plain text; decode stray character references some CMSs emit."""
    text = _text(value) or ""
    if "&" in text and _ENTITY_RE.search(text):
        text = html.unescape(text)
    return collapse(text)


def _identifier(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return None if value != value or value in (float("inf"), float("-inf")) else repr(value)
    return _text(value)


def _author(obj: dict[str, Any]) -> str | None:
    candidates: list[Any] = []
    if isinstance(obj.get("authors"), list):
        candidates.extend(obj["authors"])
    candidates.append(obj.get("author"))
    for author in candidates:
        if isinstance(author, dict):
            name = _text(author.get("name"))
            if name:
                return name
    return None


def parse_json_feed(
    body: bytes, *, url: str, now: datetime, content_type: str | None = None
) -> ParsedFeed:
    """Parse a JSON Feed; FeedError("not a feed") for other JSON or for broken JSON."""
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise FeedError(url, f"not a feed: invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise FeedError(url, "not a feed: JSON that is not an object")
    version = data.get("version")
    declared = content_type and content_type.split(";")[0].strip().lower() == _JSON_TYPES[0]
    versioned = isinstance(version, str) and version.strip().startswith(VERSION_PREFIX)
    if not versioned and not declared:
        raise FeedError(url, "not a feed: JSON without a jsonfeed.org version")
    base = _text(data.get("feed_url")) or url
    if not base.lower().startswith(("http://", "https://")):
        base = url
    raw_items = data.get("items")
    items: list[RawItem] = []
    feed_author = _author(data)
    if isinstance(raw_items, list):
        for raw in raw_items:
            if isinstance(raw, dict):
                items.append(_item(raw, base, feed_author))
    drop_shared_guids(items, url, _text(data.get("home_page_url")))
    stories = [build_story(item, feed_url=url, now=now) for item in items]
    return ParsedFeed(_plain(data.get("title")) or None, stories, None, "jsonfeed")


def _item(raw: dict[str, Any], base: str, feed_author: str | None) -> RawItem:
    item = RawItem(title=_plain(raw.get("title")), title_is_html=False, base=base)
    item.guid = _identifier(raw.get("id"))
    item.link = _text(raw.get("url")) or _text(raw.get("external_url"))
    summary = _text(raw.get("summary"))
    if summary:
        item.summary = html.escape(summary, quote=False)  # plain text: keep "<" literal
    content_html = _text(raw.get("content_html"))
    content_text = _text(raw.get("content_text"))
    if content_html:
        item.content = content_html
    elif content_text:
        item.content = html.escape(content_text, quote=False)
    for key in ("date_published", "date_modified"):
        value = _text(raw.get(key))
        if value:
            item.published = parse_date(value)
            if item.published is not None:
                break
    item.author = _author(raw) or feed_author
    tags = raw.get("tags")
    if isinstance(tags, list):
        item.categories = [t.strip() for t in tags if isinstance(t, str) and t.strip()]
    for key in ("image", "banner_image"):
        value = _text(raw.get(key))
        if value:
            item.images.append(value)
    attachments = raw.get("attachments")
    if isinstance(attachments, list):
        for att in attachments:
            if isinstance(att, dict) and str(att.get("mime_type", "")).startswith("image/"):
                value = _text(att.get("url"))
                if value:
                    item.images.append(value)
    return item
