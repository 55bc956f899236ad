"""RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom 0.3/1.0 through lxml: the path nearly every feed takes.

It reads what a well-formed feed says into RawItems (bot.feeds.normalize builds the Stories) and
declines (raises Unsure) the moment it meets something it is not sure about: a parse error, an
unknown root, a charset conflict, a base64 Atom body; bot.feeds.parse then hands the bytes to
feedparser. lxml runs with entities, DTDs and network access off, on bytes whose DOCTYPE is
already gone (bot.feeds.sniff), so no entity is expanded and no local file is read.
"""

from __future__ import annotations

import html
import threading
from datetime import datetime
from typing import Any

from lxml import etree

from bot.feeds.normalize import (
    RawItem,
    build_story,
    canonical_url,
    collapse,
    drop_shared_guids,
    parse_date,
    plain_text,
)
from bot.feeds.parsed import ParsedFeed, Unsure
from bot.feeds.sniff import charset_conflict

ATOM10 = "http://www.w3.org/2005/Atom"
ATOM03 = "http://purl.org/atom/ns#"
RSS10 = "http://purl.org/rss/1.0/"
RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
DCTERMS = "http://purl.org/dc/terms/"
MEDIA = ("http://search.yahoo.com/mrss/", "http://search.yahoo.com/mrss")
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
XHTML = "http://www.w3.org/1999/xhtml"
_RSS_CORE = ("", RSS10, RSS090, "http://backend.userland.com/rss2", "http://purl.org/net/rss1.1#")
_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")

_local = threading.local()


def xml_parser() -> etree.XMLParser:
    """The lxml parser for untrusted feeds (one per thread: lxml parsers are not thread-safe).

    resolve_entities=False and load_dtd=False: no entity is ever expanded, internal or external;
    no_network=True: nothing is fetched; huge_tree=False keeps libxml2's size and depth limits.
    """
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


def _split(tag: str) -> tuple[str, str]:
    if tag[0] == "{":
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _inner_html(el: Any, xhtml: bool = False) -> str:
    """The element's content as HTML. Plain or CDATA text already is HTML (RSS escapes its
    markup); with child elements (inline XHTML) text nodes are text and are escaped back."""
    if len(el) == 0 and not xhtml:
        return el.text or ""
    parts = [html.escape(el.text or "", quote=False)]
    for child in el:
        parts.append(etree.tostring(child, encoding="unicode", with_tail=True))
    return "".join(parts)


def _atom_text(el: Any) -> tuple[str, bool]:
    """(value, is_html) of an Atom text construct (1.0 type=text|html|xhtml, 0.3 mode=...)."""
    kind = (el.get("type") or "text").lower()
    mode = (el.get("mode") or "").lower()
    if mode == "base64":
        raise Unsure("base64 Atom content")
    if kind in ("xhtml", "application/xhtml+xml") or mode == "xml":
        children = list(el)
        if len(children) == 1 and _split(children[0].tag) == (XHTML, "div"):
            return _inner_html(children[0], xhtml=True), True
        return _inner_html(el, xhtml=True), True
    if len(el):
        return _inner_html(el), True
    text = el.text or ""
    if "html" in kind or mode == "escaped":
        return text, True
    if kind not in ("text", "text/plain") and not kind.startswith("text/"):
        raise Unsure(f"Atom text of type {kind!r}")  # base64 per RFC 4287 4.1.3.3
    return text, False


def _media_image(el: Any, item: RawItem) -> None:
    url = el.get("url")
    if not url:
        return
    medium = (el.get("medium") or "").lower()
    mime = (el.get("type") or "").lower()
    if (
        medium == "image"
        or mime.startswith("image/")
        or (not medium and not mime and url.lower().split("?")[0].endswith(_IMAGE_EXT))
    ):
        item.images.append(url)


def _resolve_base(el: Any, fallback: str) -> str:
    try:
        return el.base or fallback
    except ValueError:
        return fallback


def _clark_codes() -> dict[str, str]:
    """Clark tag -> short code for the RSS item children we read; one dict lookup per child."""
    codes: dict[str, str] = {}
    for ns in _RSS_CORE:
        prefix = f"{{{ns}}}" if ns else ""
        for local in ("title", "link", "description", "guid", "pubDate", "author", "category"):
            codes[prefix + local] = local
        codes[prefix + "enclosure"] = "enclosure"
    codes[f"{{{CONTENT}}}encoded"] = "content"
    for ns in (DC, DCTERMS):
        for local in ("creator", "date", "issued", "created", "modified", "subject"):
            codes[f"{{{ns}}}{local}"] = "dc:" + local
        codes[f"{{{ns}}}title"] = "dc:title"
        codes[f"{{{ns}}}description"] = "dc:description"
    for ns in MEDIA:
        for local in ("content", "thumbnail", "group", "title"):
            codes[f"{{{ns}}}{local}"] = "media:" + local
    codes[f"{{{ATOM10}}}link"] = "atom:link"
    codes[f"{{{ITUNES}}}image"] = "itunes:image"
    codes[f"{{{ITUNES}}}summary"] = "itunes:summary"
    codes[f"{{{XHTML}}}body"] = "xhtml:body"
    return codes


_RSS_CODES = _clark_codes()
_DATE_CODES = ("pubDate", "dc:date", "dc:issued", "dc:created", "dc:modified")
_RDF_ABOUT = f"{{{RDF}}}about"


def _rss_item(el: Any, feed_url: str) -> RawItem:
    item = RawItem()
    dates: dict[str, str] = {}
    thumbs: list[str] = []
    enclosures: list[str] = []
    guid_permalink = True
    media_title = ""
    for child in el:
        code = _RSS_CODES.get(child.tag)  # type: ignore[call-overload]
        if code is None:
            continue
        if code == "title":
            item.title = _inner_html(child)
        elif code == "link":
            item.link = (child.text or "").strip() or item.link
        elif code == "description":
            item.summary = _inner_html(child)
        elif code == "content":
            item.content = _inner_html(child)
        elif code == "guid":
            item.guid = child.text
            guid_permalink = (child.get("isPermaLink") or "true").strip().lower() != "false"
        elif code == "category":
            if child.text:
                item.categories.append(child.text)
        elif code in _DATE_CODES:
            dates.setdefault(code, child.text or "")
        elif code == "author" or code == "dc:creator":
            item.author = item.author or child.text
        elif code == "dc:subject":
            if child.text:
                item.categories.append(child.text)
        elif code == "media:title":
            media_title = media_title or child.text or ""
        elif code.startswith("media:"):
            _rss_media(child, code[6:], item, thumbs)
        elif code == "enclosure":
            if (child.get("type") or "").lower().startswith("image/") and child.get("url"):
                enclosures.append(child.get("url"))
        elif code == "dc:title":
            item.title = item.title or child.text or ""
        elif code == "dc:description":
            item.summary = item.summary or child.text or ""
        elif code == "atom:link":
            rel = child.get("rel") or "alternate"
            if rel == "alternate" and not item.link:
                item.link = child.get("href")
            elif rel == "enclosure" and (child.get("type") or "").startswith("image/"):
                enclosures.append(child.get("href") or "")
        elif code == "itunes:image" and child.get("href"):
            enclosures.append(child.get("href"))
        elif code == "xhtml:body":
            item.content = item.content or _inner_html(child, xhtml=True)
        elif code == "itunes:summary":
            item.summary = item.summary or html.escape(child.text or "", quote=False)
    item.images.extend(thumbs)
    item.images.extend(enclosures)
    if not item.title and media_title:
        item.title, item.title_is_html = media_title, False
    # Only RDF items have rdf:about, and only a missing guid or link needs it.
    rdf_about = el.get(_RDF_ABOUT) if item.guid is None or not item.link else None
    if item.guid is None and rdf_about:
        item.guid = rdf_about
    if not item.link:
        guid = (item.guid or "").strip()
        if guid_permalink and guid.lower().startswith(("http://", "https://")):
            item.link = guid
        elif rdf_about:
            item.link = rdf_about
    for key in _DATE_CODES:
        if key in dates:
            item.published = parse_date(dates[key])
            if item.published is not None:
                break
    item.base = _resolve_base(el, feed_url)
    return item


def _rss_media(el: Any, local: str, item: RawItem, thumbs: list[str]) -> None:
    if local == "content":
        _media_image(el, item)
        for sub in el:
            if isinstance(sub.tag, str) and _split(sub.tag) in ((MEDIA[0], "thumbnail"),):
                thumbs.append(sub.get("url") or "")
    elif local == "thumbnail" and el.get("url"):
        thumbs.append(el.get("url"))
    elif local == "group":
        for sub in el:
            if isinstance(sub.tag, str):
                _rss_media(sub, _split(sub.tag)[1], item, thumbs)


def _atom_entry(el: Any, feed_url: str, atom: str) -> RawItem:
    item = RawItem(base=_resolve_base(el, feed_url))
    dates: dict[str, str] = {}
    thumbs: list[str] = []
    enclosures: list[str] = []
    alternate: str | None = None
    for child in el:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        ns, local = _split(tag)
        if ns == atom:
            if local == "title":
                item.title, item.title_is_html = _atom_text(child)
            elif local == "link":
                rel = (child.get("rel") or "alternate").strip()
                href = child.get("href")
                if not href:
                    continue
                if rel == "alternate":
                    mime = (child.get("type") or "text/html").lower()
                    if alternate is None and ("html" in mime or not item.link):
                        alternate = href
                        item.link = _atom_link(child, href, item.base or feed_url)
                    elif not item.link:
                        item.link = _atom_link(child, href, item.base or feed_url)
                elif rel == "enclosure" and (child.get("type") or "").startswith("image/"):
                    enclosures.append(_atom_link(child, href, item.base or feed_url))
            elif local == "id":
                item.guid = child.text
            elif local == "summary":
                item.summary, _ = _atom_text(child)
            elif local == "content":
                if child.get("src") is None:
                    item.content, _ = _atom_text(child)
            elif local in ("published", "issued", "created", "updated", "modified"):
                dates.setdefault(local, child.text or "")
            elif local == "author" and not item.author:
                for sub in child:
                    if isinstance(sub.tag, str) and _split(sub.tag)[1] == "name":
                        item.author = sub.text
                        break
            elif local == "category":
                term = child.get("term") or child.get("label") or child.text
                if term:
                    item.categories.append(term)
        elif ns in MEDIA:
            _rss_media(child, local, item, thumbs)
        elif ns == DC:
            if local == "creator" and not item.author:
                item.author = child.text
            elif local == "subject" and child.text:
                item.categories.append(child.text)
            elif local == "date":
                dates.setdefault("dc:date", child.text or "")
    item.images.extend(thumbs)
    item.images.extend(enclosures)
    guid = (item.guid or "").strip()
    if not item.link and guid.lower().startswith(("http://", "https://", "/")):
        item.link = _atom_link(el, guid, item.base or feed_url)  # feedparser does the same
    for key in ("published", "issued", "created", "dc:date", "updated", "modified"):
        if key in dates:
            item.published = parse_date(dates[key])
            if item.published is not None:
                break
    return item


def _atom_link(el: Any, href: str, fallback: str) -> str:
    if href.lower().startswith(("http://", "https://")):
        return href
    return canonical_url(href, _resolve_base(el, fallback)) or href


def parse_fast(
    body: bytes, *, url: str, now: datetime, content_type: str | None = None
) -> ParsedFeed:
    """The lxml path; raises Unsure for anything it would rather leave to feedparser."""
    if charset_conflict(body, content_type):
        raise Unsure("charset conflict")
    try:
        root = etree.fromstring(body, xml_parser(), base_url=url)
    except etree.XMLSyntaxError as exc:
        if any(e.type_name == "ERR_NO_MEMORY" for e in exc.error_log):
            raise MemoryError("libxml2 ran out of memory") from None  # no fallback: it'd crawl
        raise Unsure(str(exc)) from None
    except ValueError as exc:
        raise Unsure(str(exc)) from None
    if not isinstance(root.tag, str):
        raise Unsure("no root element")
    ns, local = _split(root.tag)
    feed_title: str | None = None
    feed_link: str | None = None
    items: list[RawItem] = []
    if local == "rss" and ns == "":
        channel = root.find("channel")
        if channel is None:
            raise Unsure("rss without channel")
        feed_title, feed_link = _channel_meta(channel)
        items = [_rss_item(el, url) for el in channel.iterchildren("item")]
    elif local == "RDF" and ns == RDF:
        containers = [c for c in root if isinstance(c.tag, str)]
        channel = next((c for c in containers if _split(c.tag)[1] == "channel"), None)
        if channel is not None:
            feed_title, feed_link = _channel_meta(channel)
        for el in containers:
            if _split(el.tag)[1] == "item":
                items.append(_rss_item(el, url))
    elif local == "feed" and ns in (ATOM10, ATOM03):
        for child in root:
            if not isinstance(child.tag, str):
                continue
            cns, clocal = _split(child.tag)
            if cns != ns:
                continue
            if clocal == "title":
                text, is_html = _atom_text(child)
                feed_title = plain_text(text) if is_html else collapse(text)
            elif clocal == "link" and (child.get("rel") or "alternate") == "alternate":
                feed_link = feed_link or child.get("href")
            elif clocal == "entry":
                items.append(_atom_entry(child, url, ns))
    else:
        raise Unsure(f"unknown root {root.tag!r}")
    if not items and not feed_title:
        raise Unsure("nothing recognised")  # odd dialects (case-folded iTunes names...)
    drop_shared_guids(items, url, feed_link)
    stories = [build_story(item, feed_url=url, now=now) for item in items]
    return ParsedFeed(feed_title or None, stories, None, "fast")


def _channel_meta(channel: Any) -> tuple[str | None, str | None]:
    title = link = None
    for child in channel:
        if not isinstance(child.tag, str):
            continue
        ns, local = _split(child.tag)
        if ns in _RSS_CORE:
            if local == "title" and not title:
                title = plain_text(_inner_html(child))
            elif local == "link" and link is None:
                link = (child.text or "").strip()
            elif local == "item":
                break
        elif ns == DC and local == "title" and not title:
            title = plain_text(child.text or "")
    return title, link
