"""What a document is before any XML parser sees it, and what feedparser must never see.

A feed is written by a stranger. Before parsing: a JSON or HTML body is told apart from XML,
and the DOCTYPE (with every entity declaration in it) is removed, so no parser can expand an
entity bomb or read a local file. Before the lenient fallback: a document that still declares
entities, in any encoding feedparser might read it in, or that nests elements deeper than any
feed does, is refused (feedparser's expat would expand the entities, its loose parser crawls).
"""

from __future__ import annotations

import codecs
import re

from bot.errors import FeedError

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
    if wide is None:  # ASCII-compatible: Latin-1 maps each byte to one character, indices agree
        span = _prolog(body.decode("latin-1"))[0]
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


def charset_conflict(body: bytes, content_type: str | None) -> bool:
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
