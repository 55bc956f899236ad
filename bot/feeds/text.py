"""What a feed's HTML says, as one line of plain text.

A story's title and summary are stored as this text and composed into posts; the title is also
part of the identity of a story that has neither a stable guid nor a link (bot.feeds.identity).
The same markup must therefore always give the same text (tests/test_feeds_identity.py holds
it to the frozen code of earlier releases). These are rules of reading, not an HTML parser:
they never build a tree, so a hostile fragment costs a few regex passes over its text.
"""

from __future__ import annotations

import html
import re

_DROPPED_ELEMENT_RE = re.compile(
    r"<(script|style|noscript|template|iframe|object|svg|math)\b.*?(?:</\1\s*>|\Z)", re.I | re.S
)
"""An element whose content is no text for a reader, up to its end tag (or the end)."""
_COMMENT_RE = re.compile(r"<!--.*?(?:-->|\Z)|<!\[CDATA\[|\]\]>", re.S)
"""A comment with its content (up to its end or the end), or a CDATA mark (content kept)."""
_BLOCK_TAG_RE = re.compile(
    r"</?(?:p|div|br|li|ul|ol|h[1-6]|blockquote|tr|td|th|table|figure|figcaption|section|"
    r"article|header|footer|pre|hr|dd|dt|dl|img|aside|nav|main)\b[^>]*>",
    re.I,
)
"""A tag that separates words: "<p>a</p><p>b</p>" reads "a b"."""
_TAG_RE = re.compile(r"</?[a-zA-Z][^>]*>|<[!?][^>]*>")
"""Any other tag, declaration or processing instruction: removed without a space."""

_WP_FOOTER_RE = re.compile(r"The post .{1,500}? appeared first on .{1,300}?\.?\s*\Z", re.S)
"""Yoast's RSS footer, which WordPress sites append to every description."""
_READ_MORE_RE = re.compile(
    r"read more|continue reading|keep reading|read the full|read the rest|read full|"
    r"more\s*(?:»|→|>>)",
    re.I,
)
_READ_MORE_WINDOW = 300
"""A "Read more" link is only looked for in the last 300 characters of a summary."""
_SENTENCE_END = '.!?…:])"”»'
_ELLIPSES = ("[…]", "[...]", "[&hellip;]")
_FULL_STOPS = frozenset(".!?…")
"""A set, not a string: an empty text before the mark is no full stop."""

_IMG_RE = re.compile(r"<img\b[^>]*?\ssrc\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", re.I)
_PIXEL_SIZE = re.compile(r"\s(?:width|height)\s*=\s*[\"']?\s*[01](?:px)?\s*(?:[\"'\s/>]|$)", re.I)
"""A declared width or height of 0 or 1: a tracking pixel (FeedBurner's, an analytics beacon)."""
_LAZY_SRC = re.compile(
    r"\sdata-(?:lazy-src|src|original)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", re.I
)
"""Where lazy-loading themes put the real picture, the src holding a data: placeholder."""


def collapse(text: str) -> str:
    """Runs of whitespace (NBSP and newlines included) as single spaces, trimmed."""
    return " ".join(text.split())


def plain_text(markup: str) -> str:
    """HTML (or text that may contain some) to one line of plain text for a post.

    In this order: scripts, styles and the like vanish with their content; comments vanish;
    CDATA marks vanish and their content stays; block elements become spaces, so
    "<p>a</p><p>b</p>" reads "a b"; every other tag vanishes; then entities are decoded,
    after the tags are gone, so an escaped "&lt;b&gt;" in the source stays visible text
    rather than turning into markup; last, whitespace is collapsed. Text without a "<" has no
    markup to remove: only its entities are decoded (a "]]>" in it stays).
    """
    if "<" not in markup:
        return collapse(html.unescape(markup))
    text = _DROPPED_ELEMENT_RE.sub(" ", markup)
    text = _COMMENT_RE.sub(" ", text)
    text = _BLOCK_TAG_RE.sub(" ", text)
    text = _TAG_RE.sub("", text)
    return collapse(html.unescape(text))


def summary_text(markup: str) -> str:
    """A story's summary from its description (or content) markup."""
    return clean_summary(plain_text(markup))


def clean_summary(text: str) -> str:
    """Plain text without the boilerplate feeds append to every summary.

    In this order: a WordPress footer ("The post <title> appeared first on <site>.") that
    ends the text goes; then a "Read more"-style link that starts a sentence within the last
    300 characters goes with everything after it, twice at most ("… Read more" before or
    after the footer), each time with the spaces and "[" before it; last, a trailing "[…]"
    (or "[...]", "[&hellip;]") becomes "…", or goes when a full stop comes before it.
    """
    at = text.rfind("The post ")
    if at >= 0 and _WP_FOOTER_RE.match(text, at):
        text = text[:at]
    for _ in range(2):
        cut = _read_more_start(text)
        if cut is None:
            break
        text = text[:cut].rstrip(" [")
    text = text.rstrip()
    for tail in _ELLIPSES:
        if text.endswith(tail):
            before = text[: -len(tail)].rstrip()
            text = before if before[-1:] in _FULL_STOPS else before + "…"
            break
    return text.strip()


def _read_more_start(text: str) -> int | None:
    """Where a trailing "Read more"-style link starts: a phrase that begins a sentence (only
    spaces and "[" between it and the end of the sentence before, or nothing before it) within
    the last 300 characters, so "…read more about it in May." mid-sentence is kept. Every
    phrase holds a "read" or a "more": a window without either holds none."""
    start = max(0, len(text) - _READ_MORE_WINDOW)
    window = text[start:].lower()
    if "read" not in window and "more" not in window:
        return None
    for match in _READ_MORE_RE.finditer(text, start):
        before = text[: match.start()].rstrip(" [")
        if not before or before[-1] in _SENTENCE_END:
            return match.start()
    return None


def first_image_src(markup: str) -> str | None:
    """The src of the first <img> in an HTML fragment that is a picture, entities decoded and
    unresolved; None when there is none (or its src is empty). A tracking pixel (declared 0 or
    1 pixel wide or high) is no picture; a data: placeholder gives way to the tag's data-src
    (lazy loading), and without one the tag is passed over. Then, with no picture here, the
    article page's og:image is used."""
    for match in _IMG_RE.finditer(markup):
        end = markup.find(">", match.end())
        tag = markup[match.start() : len(markup) if end < 0 else end + 1]
        if _PIXEL_SIZE.search(tag):
            continue
        src = match.group(1) or match.group(2) or match.group(3) or ""
        if src.lstrip().lower().startswith("data:"):
            lazy = _LAZY_SRC.search(tag)
            if lazy is None:
                continue
            src = lazy.group(1) or lazy.group(2) or lazy.group(3) or ""
        return html.unescape(src) or None
    return None
