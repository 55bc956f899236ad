"""FROZEN COPY of bot/feeds/parse.py at commit 7498e24 (before issue 17 rewrote the feeds wing as a
specification), importing the other frozen copies. Never edit it: tests/test_feeds_identity.py
parses whole documents with it and with today's code and wants the same stories.

The original docstring follows.

Feed bytes to Stories: a fast lxml path for the common case, feedparser for everything else.

The fast path handles well-formed RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom 0.3/1.0; the moment it
meets something it is not sure about (a parse error, an unknown root, a charset conflict, a
base64 Atom body) it hands the bytes to feedparser, which is slow but forgiving. JSON Feed has
its own parser. Both XML parsers only ever see bytes whose DOCTYPE has been removed, and lxml
runs with entities, DTDs and network access off, so entity bombs and external entities are
never expanded and no local file is ever read.
"""

from __future__ import annotations

import codecs
import html
import io
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lxml import etree

from bot.errors import FeedError
from bot.models import Story
from tests.frozen.normalize_v0 import (
    RawItem,
    build_story,
    canonical_url,
    collapse,
    drop_shared_guids,
    parse_date,
    plain_text,
)

if TYPE_CHECKING:
    from bot.feeds.fetch import FetchResult


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    stories: list[Story]
    warning: str | None = None
    """Set when the document was ill-formed and feedparser recovered what it could."""
    parser: str = "fast"
    """Which path produced it: "fast" (lxml), "feedparser" or "jsonfeed"."""


class _Unsure(Exception):
    """The fast path declines this document; feedparser gets it instead."""


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


Fallback = Callable[..., "ParsedFeed"]


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
    from tests.frozen import jsonfeed_v0 as jsonfeed

    if not body or body.isspace():  # not body.strip(): that copies the whole document
        raise FeedError(url, "not a feed: the response is empty")
    if jsonfeed.looks_like_json(body, content_type):
        return jsonfeed.parse_json_feed(body, url=url, now=now, content_type=content_type)
    if looks_like_html(body):
        raise FeedError(url, "not a feed: got an HTML page")
    body = strip_doctype(body, url)
    try:
        return parse_fast(body, url=url, now=now, content_type=content_type)
    except _Unsure as unsure:
        if "Excessive depth" in str(unsure):  # feedparser's loose parser would crawl for seconds
            raise FeedError(url, "not a feed: elements nested too deeply") from None
        check_before_fallback(body, url, content_type)
        run = fallback or parse_with_feedparser
        return run(body, url=url, now=now, content_type=content_type)


# --- what never reaches feedparser ------------------------------------------------------------

MAX_OPEN_ELEMENTS = 5000
"""Open elements a document may nest before feedparser is given it (real feeds: under 50)."""
_DEPTH_STEP = 8192
_ENTITY_DECL_RE = re.compile(r"<!\s*(?:entity|doctype)", re.I)
"""In a document decoded from an encoding whose DOCTYPE the byte scan could not see."""
_ENTITY_DECL_BYTES_RE = re.compile(rb"<!\s*entity", re.I)


def check_before_fallback(body: bytes, url: str, content_type: str | None) -> None:
    """Raise FeedError for a document feedparser must not see: one that declares entities
    anywhere, in any encoding feedparser might read it in, or nests elements too deeply."""
    if _declares_entities(body, content_type):
        raise FeedError(url, "not a feed: it declares XML entities (<!ENTITY), which are refused")
    depth = _open_elements(body)
    if depth > MAX_OPEN_ELEMENTS:
        raise FeedError(
            url, f"not a feed: elements nested too deeply (over {MAX_OPEN_ELEMENTS:,} levels)"
        )


def _declares_entities(body: bytes, content_type: str | None) -> bool:
    """An entity declaration anywhere. The DOCTYPE of the prolog is already gone, so any left
    is hostile or broken; a wide or ASCII-incompatible encoding (UTF-16/32, UTF-7, EBCDIC...)
    named by the BOM, the XML declaration or HTTP is decoded first, as feedparser would."""
    if _ENTITY_DECL_BYTES_RE.search(body):
        return True
    codecs_seen: set[str] = set()
    wide = _wide_codec(body)
    if wide is not None:
        codecs_seen.add(wide[0])
    declared = _XML_DECL_ANY_RE.search(body[:1024])
    names = [declared.group(1).decode("ascii")] if declared else []
    if content_type and (charset := _CHARSET_RE.search(content_type)):
        names.append(charset.group(1))
    for name in names:
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            continue
        if b"<!ENTITY".decode(codec, "replace") != "<!ENTITY" or "7" in codec:
            codecs_seen.add(codec)
    return any(_ENTITY_DECL_RE.search(body.decode(c, "replace")) for c in codecs_seen)


_XML_DECL_ANY_RE = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)")


def _open_elements(body: bytes) -> int:
    """About the deepest nesting in the document, cheaply: opened minus closed elements at
    every 8 KB boundary (C-speed byte counts, 10 MB in milliseconds). A <br> or <hr> left
    unclosed in a broken feed's HTML is not nesting."""
    depth = deepest = 0
    view = memoryview(body)
    for start in range(0, len(body), _DEPTH_STEP):
        chunk = bytes(view[start : start + _DEPTH_STEP])
        closed = chunk.count(b"</")
        other = chunk.count(b"<!") + chunk.count(b"<?") + chunk.count(b"/>")
        opened = chunk.count(b"<") - closed - other
        for void in (b"<br", b"<BR", b"<hr", b"<HR"):
            opened -= chunk.count(void) - chunk.count(void + b"/") - chunk.count(void + b" /")
        depth = max(0, depth + opened - closed)
        deepest = max(deepest, depth)
    return deepest


def parse_fetched(result: FetchResult, *, now: datetime) -> ParsedFeed | None:
    """Glue for the engine: raise the fetch error, None on 304, else parse at the final URL."""
    if result.error is not None:
        raise result.error
    if result.not_modified or result.body is None:
        return None
    return parse_feed(result.body, url=result.final_url, now=now, content_type=result.content_type)


# --- sniffing and the DOCTYPE ---------------------------------------------------------------

_XML_DECL_ENCODING_RE = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)"
)
_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([^\s;\"']+)", re.I)


def looks_like_html(body: bytes) -> bool:
    """An HTML page (a login wall, an error page, the site's home page) rather than a feed:
    the first element is <html>, <head> or <body>. A feed behind a stray HTML DOCTYPE is
    still a feed, so the DOCTYPE alone decides nothing."""
    if _wide_codec(body) is not None:
        return False
    head = body[:8192].decode("latin-1")
    start = _prolog(head)[1]
    return _HTML_ROOT_RE.match(head, start) is not None


_HTML_ROOT_RE = re.compile(r"<(?:html|head|body)[\s>/]", re.I)


def _wide_codec(body: bytes) -> tuple[str, bytes] | None:
    """(codec, BOM) for a UTF-16/32 document, None for an ASCII-compatible one."""
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if body.startswith(bom):
            return codec, bom
    head = body[:4]
    if head == b"<\x00\x00\x00":
        return "utf-32-le", b""
    if head == b"\x00\x00\x00<":
        return "utf-32-be", b""
    if head[:2] == b"<\x00":
        return "utf-16-le", b""
    if head[:2] == b"\x00<":
        return "utf-16-be", b""
    return None


def _prolog(text: str) -> tuple[tuple[int, int] | None, int]:
    """(span of the <!DOCTYPE ...> declaration or None, index where the root element starts).

    A small scanner rather than a regex: comments and processing instructions before the root
    may mention "<!DOCTYPE", and an internal subset may hold '>' and ']' inside quoted entity
    values and comments, which a regex would cut in the wrong place.
    """
    n = len(text)  # the whole prolog: a DOCTYPE after a megabyte of comments is still one
    i = 3 if text.startswith("\xef\xbb\xbf") else 0  # a UTF-8 BOM read as Latin-1
    doctype: tuple[int, int] | None = None
    while i < n:
        ch = text[i]
        if ch in " \t\r\n\ufeff":
            i += 1
        elif text.startswith("<?", i):
            close = text.find("?>", i + 2)
            i = n if close < 0 else close + 2
        elif text.startswith("<!--", i):
            close = text.find("-->", i + 4)
            i = n if close < 0 else close + 3
        elif text[i : i + 9].lower() == "<!doctype":
            end = _doctype_end(text, i + 9)
            doctype = doctype or (i, end)
            i = end
        else:
            return doctype, i
    return doctype, n


def _doctype_end(text: str, i: int) -> int:
    n, in_subset, quote = len(text), False, ""
    while i < n:
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif text.startswith("<!--", i):
            close = text.find("-->", i + 4)
            i = n if close < 0 else close + 3
            continue
        elif ch == "[":
            in_subset = True
        elif ch == "]":
            in_subset = False
        elif ch == ">" and not in_subset:
            return i + 1
        i += 1
    return n


def strip_doctype(body: bytes, url: str) -> bytes:
    """Remove the DOCTYPE (and with it every ENTITY declaration) before any XML parser runs.

    Feeds never need a DTD; entity declarations are how billion-laughs and external-entity
    attacks work, and feedparser would otherwise keep "safe" ones (still open to quadratic
    blow-up). HTML entities such as &eacute; then fall to feedparser's lenient parser.
    """
    wide = _wide_codec(body)
    if wide is None:
        head = body[:65536]
        if b"<!" not in head and _ROOT_RE.search(head):  # the prolog ended with no DOCTYPE
            return body
        span = _latin1_doctype(body)
        if span is None:
            return body
        return body[: span[0]] + body[span[1] :]
    codec, bom = wide
    try:
        text = body[len(bom) :].decode(codec)
    except UnicodeDecodeError:
        head = body[:65536].decode(codec, "replace").lower()
        if "<!doctype" in head or "<!entity" in head:
            raise FeedError(url, "not a feed: undecodable document with a DOCTYPE") from None
        return body
    span = _prolog(text)[0]
    if span is None:
        return body
    return bom + (text[: span[0]] + text[span[1] :]).encode(codec)


_ROOT_RE = re.compile(rb"<[A-Za-z_:]")


def _latin1_doctype(body: bytes) -> tuple[int, int] | None:
    """_prolog's DOCTYPE span in an ASCII-compatible body. Most prologs end in the first 4 KB,
    and the scan decides the same there as on the whole text once it has stopped short of the
    end (nothing cut off, not even a "<!doctype" to compare): decoding a whole feed, whose
    CDATA sections put a "<!" in it, cost more than the rest of the sniffing together."""
    head = body[:4096].decode("latin-1")
    span, root = _prolog(head)
    if root + len("<!doctype") < len(head):
        return span
    return _prolog(body.decode("latin-1"))[0]


def _charset_conflict(body: bytes, content_type: str | None) -> bool:
    """True when HTTP names a charset other than the document's own; feedparser arbitrates."""
    if not content_type:
        return False
    match = _CHARSET_RE.search(content_type)
    if not match:
        return False
    declared = _XML_DECL_ENCODING_RE.match(body[:512])
    declared_name = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        http_codec = codecs.lookup(match.group(1)).name
        doc_codec = codecs.lookup(declared_name).name
    except LookupError:
        return True
    return http_codec != doc_codec and {http_codec, doc_codec} != {"ascii", "utf-8"}


# --- the fast path ---------------------------------------------------------------------------


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
        raise _Unsure("base64 Atom content")
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
        raise _Unsure(f"Atom text of type {kind!r}")  # base64 per RFC 4287 4.1.3.3
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


_COMMON = {
    "title": 1, "link": 2, "description": 3, "content": 4, "guid": 5, "category": 6,
    "pubDate": 7, "author": 8, "dc:creator": 8,
}  # fmt: skip
_RSS_FAST = {tag: _COMMON[code] for tag, code in _RSS_CODES.items() if code in _COMMON}
"""The children every WordPress item has, as small ints: one dict lookup and a short if-chain
before the general dispatch below."""


def _rss_item(el: Any, feed_url: str) -> RawItem:
    item = RawItem()
    dates: dict[str, str] = {}
    thumbs: list[str] = []
    enclosures: list[str] = []
    guid_permalink = True
    media_title = ""
    codes = _RSS_CODES
    fast = _RSS_FAST
    for child in el:
        tag = child.tag
        common = fast.get(tag)  # type: ignore[call-overload]
        if common is not None:
            if common == 1:
                item.title = (child.text or "") if len(child) == 0 else _inner_html(child)
            elif common == 2:
                item.link = (child.text or "").strip() or item.link
            elif common == 3:
                item.summary = (child.text or "") if len(child) == 0 else _inner_html(child)
            elif common == 4:
                item.content = (child.text or "") if len(child) == 0 else _inner_html(child)
            elif common == 5:
                item.guid = child.text
                guid_permalink = (child.get("isPermaLink") or "true").strip().lower() != "false"
            elif common == 6:
                if child.text:
                    item.categories.append(child.text)
            elif common == 7:
                dates.setdefault("pubDate", child.text or "")
            else:
                item.author = item.author or child.text
            continue
        code = codes.get(tag)  # type: ignore[call-overload]
        if code is None:
            continue
        if code in _DATE_CODES:
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
    """The lxml path; raises _Unsure for anything it would rather leave to feedparser."""
    if _charset_conflict(body, content_type):
        raise _Unsure("charset conflict")
    try:
        root = etree.fromstring(body, xml_parser(), base_url=url)
    except etree.XMLSyntaxError as exc:
        if any(e.type_name == "ERR_NO_MEMORY" for e in exc.error_log):
            raise MemoryError("libxml2 ran out of memory") from None  # no fallback: it'd crawl
        raise _Unsure(str(exc)) from None
    except ValueError as exc:
        raise _Unsure(str(exc)) from None
    if not isinstance(root.tag, str):
        raise _Unsure("no root element")
    ns, local = _split(root.tag)
    feed_title: str | None = None
    feed_link: str | None = None
    items: list[RawItem] = []
    if local == "rss" and ns == "":
        channel = root.find("channel")
        if channel is None:
            raise _Unsure("rss without channel")
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
        raise _Unsure(f"unknown root {root.tag!r}")
    if not items and not feed_title:
        raise _Unsure("nothing recognised")  # odd dialects (case-folded iTunes names...)
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


# --- the fallback ----------------------------------------------------------------------------


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
