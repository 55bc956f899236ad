"""Metadata of an article page (Open Graph, canonical link) for stories a feed left thin.

Used when a platform needs an image the feed did not give (Instagram), or when a "feed" is a
single article URL. Regexes over the <head> rather than an HTML parser: we only need a handful
of <meta>/<link> tags, pages can be megabytes, and attribute order varies, which the small
attribute parser below handles.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import replace
from datetime import datetime

import httpx

from bot.errors import FeedError
from bot.feeds.normalize import canonical_url, parse_date, plain_text, safe_url, story_identity
from bot.models import Story
from bot.net import DownloadError, download

log = logging.getLogger("bot.feeds")
_HEAD_LIMIT = 512 * 1024
_TAG_RE = re.compile(r"<(meta|link)\b([^>]*)>", re.I)
_ATTR_RE = re.compile(r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_TITLE_RE = re.compile(r"<title\b[^>]*>(.*?)</title>", re.I | re.S)
_ACCEPT = ("text/html", "application/xhtml+xml")


def _decode(page: bytes) -> str:
    head = page[:_HEAD_LIMIT]
    match = re.search(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._-]+)""", head[:4096], re.I)
    for codec in ((match.group(1).decode("ascii"),) if match else ()) + ("utf-8",):
        try:
            return head.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
    return head.decode("utf-8", "replace")


def page_meta(page: bytes) -> dict[str, str]:
    """First value of each og:/twitter:/article: property and name, plus canonical and title."""
    text = _decode(page)
    end = text.lower().find("</head>")
    if end > 0:
        text = text[: end + 7]
    meta: dict[str, str] = {}
    for tag, attrs in _TAG_RE.findall(text):
        values = {
            name.lower(): html.unescape(a or b or c) for name, a, b, c in _ATTR_RE.findall(attrs)
        }
        if tag.lower() == "meta":
            key = (values.get("property") or values.get("name") or "").lower()
            if key and "content" in values:
                meta.setdefault(key, values["content"])
        elif "canonical" in values.get("rel", "").lower().split() and values.get("href"):
            meta.setdefault("canonical", values["href"])
    title = _TITLE_RE.search(text)
    if title:
        meta.setdefault("<title>", title.group(1))
    return meta


def find_og_image(page: bytes, url: str) -> str | None:
    """The page's share image (og:image, its secure_url, or twitter:image), http(s) only."""
    meta = page_meta(page)
    for key in ("og:image:secure_url", "og:image", "og:image:url", "twitter:image"):
        image = safe_url(meta.get(key), url)
        if image:
            return image
    return None


def parse_article(page: bytes, *, url: str, now: datetime) -> Story:
    """A Story from an article page; FeedError when the page has no title at all."""
    meta = page_meta(page)
    title = plain_text(meta.get("og:title") or meta.get("twitter:title") or meta.get("<title>", ""))
    if not title:
        raise FeedError(url, "the page has no title (no og:title or <title>)")
    summary = plain_text(
        meta.get("og:description") or meta.get("twitter:description") or meta.get("description", "")
    )
    link = canonical_url(meta.get("canonical"), url) or canonical_url(meta.get("og:url"), url)
    link = link or canonical_url(url)
    published = parse_date(meta.get("article:published_time"))
    author = plain_text(meta.get("author") or meta.get("article:author") or "") or None
    if author and author.lower().startswith(("http://", "https://")):
        author = None
    tags = tuple(t for t in [plain_text(meta.get("article:tag", ""))] if t)
    return Story(
        identity=story_identity(None, link, title, published),
        url=link,
        title=title,
        summary=summary,
        published=published or now,
        feed_url=url,
        author=author,
        categories=tags,
        image_url=find_og_image(page, url),
        dated=published is not None,
    )


def fetch_article(client: httpx.Client, url: str, *, now: datetime, max_bytes: int) -> Story:
    """Download (capped, HTML only) and parse an article page; FeedError on any failure."""
    try:
        page = download(client, url, max_bytes=max_bytes, accept=_ACCEPT)
    except DownloadError as exc:
        raise FeedError(url, exc.reason, status=exc.status) from None
    return parse_article(page.body, url=page.final_url, now=now)


def with_og_image(client: httpx.Client, story: Story, *, max_bytes: int = 2 * 1024 * 1024) -> Story:
    """A story the feed gave no image gets its article page's og:image, or stays as it is.

    The one fallback the engine (before composing) and `preview` both use, so a preview shows
    the image the worker would really send."""
    if story.image_url or not story.url:
        return story
    try:
        page = download(client, story.url, max_bytes=max_bytes, accept=_ACCEPT)
    except DownloadError as exc:
        log.info(
            "no og:image: article page unavailable",
            extra={"story": story.url, "reason": exc.reason},
        )
        return story
    image = find_og_image(page.body, page.final_url)
    return replace(story, image_url=image) if image else story
