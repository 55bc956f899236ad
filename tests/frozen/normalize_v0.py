"""FROZEN COPY of bot/feeds/normalize.py at commit 7498e24 (before issue 17 rewrote the feeds
wing as a specification). Never edit it: tests/test_feeds_identity.py checks the new code
against it, output for output, so a store upgraded from that code sees its old stories as seen.

The original docstring follows.

Pure helpers that turn what a feed said into the bot's normal forms.

Every function here is deterministic and cheap: they run for every item of every poll, and the
store decides "seen before" from their output, so the same story must normalise to the same
strings however its feed decorates links (tracking parameters, fragments, host case) or edits it.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from bot.models import Story

# Query parameters that only say where a click came from; the article is the same without them.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
        "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "ref", "ref_src", "ref_url",
        "spm", "vero_id", "vero_conv", "oly_anon_id", "oly_enc_id", "rb_clickid", "s_cid",
        "ncid", "sr_share", "_ga", "_gl", "wt.mc_id", "cmpid", "icid", "share", "ocid",
        "soc_src", "soc_trk", "cid", "feature", "recruiter",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "itm_", "__hs")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNSTABLE_GUIDS = frozenset({"", "0", "-1", "null", "none", "undefined", "true", "false", "nan"})
_UNSTABLE_MAX = max(map(len, _UNSTABLE_GUIDS))
_HTTP_SCHEME = r"[Hh][Tt][Tt][Pp][Ss]?"
"""http or https in any case, spelled out. No re.I: it would let "ſ" (long s) stand for "s",
and the only non-ASCII characters that lower to ASCII letters (U+0130, U+212A) are no letter
of "https", so this is exactly what s.lower() would compare."""
_HTTP_PREFIX_RE = re.compile(_HTTP_SCHEME + "://")
"""What s.lower().startswith(("http://", "https://")) tests, for a third of its cost (no
argument parsing, no lowered copy)."""

_DROPPED_START_RE = re.compile(r"<(?:script|style|noscript|template|iframe|object|svg|math)", re.I)
_SCRIPT_RE = re.compile(
    r"<(script|style|noscript|template|iframe|object|svg|math)\b.*?(?:</\1\s*>|\Z)", re.I | re.S
)
_COMMENT_RE = re.compile(r"<!--.*?(?:-->|\Z)|<!\[CDATA\[|\]\]>", re.S)
_BLOCK_TAG_RE = re.compile(
    r"</?(?:p|div|br|li|ul|ol|h[1-6]|blockquote|tr|td|th|table|figure|figcaption|section|"
    r"article|header|footer|pre|hr|dd|dt|dl|img|aside|nav|main)\b[^>]*>",
    re.I,
)
_TAG_RE = re.compile(r"</?[a-zA-Z][^>]*>|<[!?][^>]*>")
_BLOCK_NAMES = (
    r"p|div|br|li|ul|ol|h[1-6]|blockquote|tr|td|th|table|figure|figcaption|section|"
    r"article|header|footer|pre|hr|dd|dt|dl|img|aside|nav|main"
)
_DROPPED_NAMES = r"script|style|noscript|template|iframe|object|svg|math"
_SLOW_MARKUP_RE = re.compile(r"<(?:!|(?i:" + _DROPPED_NAMES + r")|[^>]*<)")
"""What plain_text's one-split path cannot take: comments/CDATA/doctype ("<!"), elements
dropped with their content, and a "<" before the previous "<" was closed."""
_ANY_TAG_RE = re.compile(
    r"<(?:(?i:(/?(?:" + _BLOCK_NAMES + r")\b))[^>]*>|/?[a-zA-Z][^>]*>|[?][^>]*>)"
)
"""_BLOCK_TAG_RE (group 1 set: becomes a space) or _TAG_RE (removed) in one pass."""
_CHARREF_RE = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")
"""html.unescape's own pattern (html._charref in CPython 3.11)."""
_WP_FOOTER_RE = re.compile(r"The post .{1,500}? appeared first on .{1,300}?\.?\s*\Z", re.S)
_WP_FOOTER_HTML = (
    r"<p>The post <a ([^>]*)>([^<]{1,500})</a> appeared first on "
    r"(?:<a ([^>]*)>([^<]{0,298})</a>|([^<]{0,298}))\.</p>\s*\Z"
)
_WP_FOOTER_HTML_RE = re.compile(_WP_FOOTER_HTML)
"""The footer as WordPress (Yoast's RSS footer) writes it; see _before_wordpress_footer.
[^>] and [^<] rather than [^<>]: re scans a one-character negation about twice as fast."""
_WP_EXCERPT_RE = re.compile(r"(?:<p>)?([^<]*+)</p>\s*+" + _WP_FOOTER_HTML)
"""A whole WordPress description: an excerpt without markup, then the footer; see
_wordpress_excerpt. Possessive: a description that is not this shape fails at its first "<"
instead of backtracking through the excerpt."""
_RISKY_REF_RE = re.compile(r"&(?!(?:amp|quot|#0?38|#0?39|#821[12]|#821[67]|#822[01]|#8230);)")
"""A reference in a footer's title or site name that might decode to a letter or a space
(only these punctuation ones cannot); see _before_wordpress_footer."""
_READ_MORE_RE = re.compile(
    r"read more|continue reading|keep reading|read the full|read the rest|read full|"
    r"more\s*(?:»|→|>>)",
    re.I,
)
_SENTENCE_END = '.!?…:])"”»'
_RFC822_RE = re.compile(
    r"\s*(?:[A-Za-z]{3,9},?\s*)?(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?\s+(\d{4})\s+"
    r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(?:([+-])(\d{2}):?(\d{2})|(GMT|UTC|UT|Z))?\s*\Z"
)
_FIXED_RFC822_RE = re.compile(
    r"[A-Za-z]{3}, [0-9]{2} [A-Za-z]{3} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}"
)
"""The one RFC 822 shape almost every feed writes; see _fixed_rfc822."""
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_MONTH_DIGITS = {name: f"{number:02d}" for name, number in _MONTHS.items()}
_ELLIPSES = ("[…]", "[...]", "[&hellip;]")
_FULL_STOPS = frozenset(".!?…")
_IMG_RE = re.compile(r"<img\b[^>]*?\ssrc\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", re.I)
_NOT_IN_URL = r"\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""Control characters and every character \\s matches, spelled out: a class of ranges is one
table lookup a character, where \\s calls the Unicode database for each one."""
_URL_WS_RE = re.compile(f"[{_NOT_IN_URL}]+")
_SIMPLE_HTTP_RE = re.compile(
    f"({_HTTP_SCHEME})"
    r"://([A-Za-z0-9.-]*)(?::([0-9]+))?(/[^?#]*)?(?:\?([^#]*))?(?:#.*)?\Z"
)
"""scheme://host[:port][/path][?query][#fragment] with a plain host: what urlsplit would give."""
_CANONICAL_HTTP_RE = re.compile(
    r"https?://[a-z0-9.-]*[a-z0-9-]/[^?#" + _NOT_IN_URL + r"]*(?:\?([^#&" + _NOT_IN_URL + r"]*))?"
)
"""A URL canonical_url leaves as it is, but for its query; see _already_canonical."""


def collapse(text: str) -> str:
    """Collapse runs of whitespace (including NBSP and newlines) to single spaces and trim."""
    text = text.strip()
    # Every whitespace character but " " is unprintable, so trimmed printable text without a
    # double space is already collapsed. Checking costs half as much as splitting and joining
    # a summary, and most titles and summaries pass once trimmed.
    if text.isprintable() and "  " not in text:
        return text
    return " ".join(text.split())


def plain_text(markup: str) -> str:
    """HTML (or text that may contain some) to one line of plain text for a post.

    Scripts, styles and comments vanish with their content; block elements become spaces so
    "<p>a</p><p>b</p>" reads "a b"; entities are decoded after tags are gone, so an escaped
    "&lt;b&gt;" in the source stays visible text rather than turning into markup.
    """
    if "<" in markup and not _is_simple_markup(markup):
        return _plain_text_general(markup)
    return _simple_plain_text(markup)


def _is_simple_markup(markup: str) -> bool:
    """True when _simple_plain_text reads `markup` as _plain_text_general would."""
    return "]]>" not in markup and _SLOW_MARKUP_RE.search(markup) is None


def _simple_plain_text(markup: str) -> str:
    """plain_text for markup without scripts, comments, CDATA marks or a "<" inside a tag."""
    if "<" in markup:
        # Every "<" closes with ">" before the next "<", so each tag is exactly the span from
        # its "<" to the next ">": one split finds the same tags the two subs below would.
        parts = _ANY_TAG_RE.split(markup)
        parts[1::2] = [" " if block is not None else "" for block in parts[1::2]]
        markup = "".join(parts)
    if "&" in markup:
        markup = _decode_references(markup)
    return collapse(markup)


def _decode_references(text: str) -> str:
    """html.unescape of text that has no tags left. The "&#8230;" of WordPress's "[&#8230;]"
    is replaced first: every occurrence is one whole match of the pattern (none of its
    alternatives can swallow an "&"), and one replace costs a tenth of a callback per match."""
    text = text.replace("&#8230;", "\u2026")
    if "&" not in text:
        return text
    return _CHARREF_RE.sub(_charref, text)


def _plain_text_general(markup: str) -> str:
    """plain_text for markup with scripts, comments, CDATA marks or a "<" inside a tag."""
    if _DROPPED_START_RE.search(markup):
        markup = _SCRIPT_RE.sub(" ", markup)
    if "<!" in markup or "]]>" in markup:
        markup = _COMMENT_RE.sub(" ", markup)
    markup = _BLOCK_TAG_RE.sub(" ", markup)
    markup = _TAG_RE.sub("", markup)
    if "&" in markup:
        markup = html.unescape(markup)
    return collapse(markup)


_CHARREF_CACHE: dict[str, str] = {}


def _charref(match: re.Match[str]) -> str:
    """html.unescape of one reference, memoised: the same few (&amp; &#8217; &#8230;) recur in
    every item. html.unescape re-matches the isolated reference to the same span, so the
    result is what html.unescape gives in context."""
    ref = match.group()
    text = _CHARREF_CACHE.get(ref)
    if text is None:
        text = html.unescape(ref)
        if len(_CHARREF_CACHE) >= 4096:
            _CHARREF_CACHE.clear()
        _CHARREF_CACHE[ref] = text
    return text


def clean_summary(text: str) -> str:
    """Drop boilerplate that feeds append to every summary (WordPress footer, "Read more")."""
    at = text.rfind("The post ")
    if at >= 0 and _WP_FOOTER_RE.match(text, at):
        text = text[:at]
    return _drop_trailing_markers(text)


def summary_text(markup: str) -> str:
    """clean_summary(plain_text(markup)), without first converting a WordPress footer to text
    only to cut it off again: the footer is about half of a typical WordPress description,
    and skipping it saves nearly a third of build_story's time on such feeds."""
    excerpt = _wordpress_excerpt(markup)
    read_more = True
    if excerpt is not None:
        text = collapse(_decode_references(excerpt) if "&" in excerpt else excerpt)
        read_more = _may_read_more(excerpt)
    else:
        head = _before_wordpress_footer(markup)
        if head is None:
            return clean_summary(plain_text(markup))
        text = _simple_plain_text(head)
    # In the whole text the footer starts right after text and a space: this is text[:at].
    return _drop_trailing_markers(text + " " if text else "", read_more)


def _may_read_more(excerpt: str) -> bool:
    """False when the excerpt's text provably holds no "read" or "more" in any case, so no
    "Read more" link can end it; decided on the excerpt itself, which is usually ASCII, where
    _read_more_start's gate has to encode the decoded text (its "…" makes it wide).

    The text is the excerpt with whitespace collapsed and references decoded. When every
    reference is one that decodes to a punctuation mark (_RISKY_REF_RE finds no other), each
    becomes one character that is no letter, so neither step can join letters into a word
    that the excerpt does not already spell. A non-ASCII excerpt is left to the gate: its
    str.lower would look up every character, and only ASCII letters spell the words anyway.
    """
    if not excerpt.isascii():
        return True
    lowered = excerpt.lower()
    if "read" in lowered or "more" in lowered:
        return True
    # WordPress's "[&#8230;]" is usually the only reference: then the pattern need not run.
    return "&" in lowered.replace("&#8230;", "") and _RISKY_REF_RE.search(excerpt) is not None


def _wordpress_excerpt(markup: str) -> str | None:
    """The excerpt of a description that is only that and the footer ("<p>" optional), when
    _before_wordpress_footer would cut there: its head is then the excerpt between <p> and
    </p> tags, which plain_text turns into spaces, so the head's text is the excerpt's. One
    match instead of finding the footer, checking the head and splitting it on its tags: the
    usual WordPress description costs half as much this way."""
    match = _WP_EXCERPT_RE.match(markup)
    if match is None:
        return None
    excerpt = match.group(1)
    # Nothing in the head but the excerpt can spell "]]>": the tags' ">" follow a "p".
    if "]]>" in excerpt or not _certain_footer(match.groups("")[1:]):
        return None
    return excerpt


def _before_wordpress_footer(markup: str) -> str | None:
    """The markup before a trailing WordPress footer, when clean_summary would provably cut the
    whole text exactly there; None when that is not certain (the general path decides).

    Certain means: the whole markup is simple (the head is, it leaves no tag open, and the
    footer's only "<" start its tags), so its text is the head's text, a space for the <p>,
    then the footer's text; that text holds no second "The post " (see _is_plain_footer_text);
    and it matches _WP_FOOTER_RE (a title that is not blank and at most 500 characters long, a
    site name short enough for the 300-character tail).
    """
    at = markup.rfind("<p>The post ")
    if at < 0:
        return None
    footer = _WP_FOOTER_HTML_RE.match(markup, at)
    if footer is None or not _certain_footer(footer.groups("")):
        return None
    head = markup[:at]
    if head.rfind("<") > head.rfind(">") or not _is_simple_markup(head):
        return None
    return head


def _certain_footer(groups: tuple[str, ...]) -> bool:
    """True when a matched footer's own parts keep the markup simple and its text one footer:
    a title that is not blank, no "<" in either link's attributes, plain title and site."""
    title_attrs, title, site_attrs, linked_site, site = groups
    return not (
        title.isspace()
        or "<" in title_attrs
        or "<" in site_attrs
        or not _is_plain_footer_text(title)
        or not _is_plain_footer_text(linked_site or site)
    )


def _is_plain_footer_text(text: str) -> bool:
    """True when a footer's title or site name cannot read as another "The post " and keeps
    the markup simple: no "post" in it, no "]]>", and no reference that might decode to a
    letter or a space (the regex runs only when there is an "&" at all)."""
    return (
        "post" not in text
        and "]]>" not in text
        and ("&" not in text or _RISKY_REF_RE.search(text) is None)
    )


def _drop_trailing_markers(text: str, read_more: bool = True) -> str:
    """The rest of clean_summary once any footer is gone: "Read more" links, "[…]" marks.
    read_more=False when the caller has proven the text holds no "read" and no "more"."""
    for _ in range(2 if read_more else 0):  # "… Read more" after a footer, or the other way
        cut = _read_more_start(text)
        if cut is None:
            break
        text = text[:cut].rstrip(" [")
    text = text.rstrip()  # a footer leaves "… estate. […] " behind: the marker must still go
    if text[-1:] == "]":  # slices, not endswith: its argument parsing costs more than this
        text = _cut_ellipsis(text)
    return text.strip()


def _cut_ellipsis(text: str) -> str:
    """A trailing "[…]" (or "[...]", "[&hellip;]") and the space before it become "…".

    Slice comparisons rather than a regex (an end-anchored regex is still tried at every
    position) or endswith (whose argument parsing costs three times a short slice)."""
    for tail in _ELLIPSES:
        if text[-len(tail) :] == tail:
            base = text[: -len(tail)].rstrip()
            # After a full stop the marker says nothing more: "estate. […]" is "estate."
            return base if base[-1:] in _FULL_STOPS else base + "…"
    return text


def _read_more_start(text: str) -> int | None:
    """Where a trailing "Read more"-style link starts: a phrase that begins a sentence within
    the last 300 characters (so "…read more about it in May." mid-sentence is kept)."""
    offset = max(0, len(text) - 300)
    # Every phrase has a "read" or a "more": without one the regex scan is skipped. Lowered as
    # UTF-8 bytes: str.lower looks up every character of a non-ASCII text (a summary ending
    # in "…" is one) in the Unicode database, and the only non-ASCII characters that lower to
    # ASCII letters (U+0130, U+212A) give neither word. Read back as Latin-1 because `in` on
    # bytes first tries the needle as an integer, and raising and clearing that TypeError
    # cost more than the search; the gate is 1.8 us where str.lower's was 2.6 us.
    tail = text[offset:].encode("utf-8", "surrogatepass").lower().decode("latin-1")
    if "read" not in tail and "more" not in tail:
        return None
    for match in _READ_MORE_RE.finditer(text, offset):
        before = text[: match.start()].rstrip(" [")
        if not before or before[-1] in _SENTENCE_END:
            return match.start()
    return None


def first_image_src(markup: str) -> str | None:
    """The src of the first <img> in an HTML fragment, unresolved (None when there is none)."""
    if "<img" not in markup and "<IMG" not in markup:
        return None
    match = _IMG_RE.search(markup)
    if not match:
        return None
    return html.unescape(match.group(1) or match.group(2) or match.group(3) or "") or None


def _split_http(url: str | None, base: str | None) -> tuple[str, tuple[str, ...]] | None:
    """(absolute url, (scheme, host, port, path, query)) for an http(s) link, else None."""
    if not url:
        return None
    url = url.strip()
    if not url.isprintable() or " " in url:
        url = _URL_WS_RE.sub("", url)
    if not url:
        return None
    simple = _SIMPLE_HTTP_RE.match(url)
    if simple is not None:  # the common absolute link, split without urlsplit's generality
        scheme, host, port, path, query = simple.groups("")
        host = host.lower().rstrip(".")
        if not host or (port and int(port) > 65535):
            return None
        return url, (scheme.lower(), host, port, path, query)
    if url.startswith("//") and not base:
        url = "https:" + url
    try:
        if base and _HTTP_PREFIX_RE.match(url) is None:
            url = urljoin(base, url)
        scheme, netloc, path, query, _ = urlsplit(url)
    except ValueError:
        return None
    scheme = scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    if "@" in netloc:
        netloc = netloc.rpartition("@")[2]
    if netloc.startswith("["):
        host, _, rest = netloc.partition("]")
        host += "]"
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = netloc.partition(":")
    host = host.lower().rstrip(".")
    if not host or host == "[]":
        return None
    if port and (not port.isdigit() or int(port) > 65535):
        return None
    return url, (scheme, host, port, path, query)


def safe_url(url: str | None, base: str | None = None) -> str | None:
    """Resolve `url` against `base` and keep it only if it is an absolute http(s) URL.

    Everything else (javascript:, data:, mailto:, file:, garbage) becomes None, so no caller
    can ever post or fetch a scripted or local link that a feed slipped in.
    """
    return _already_canonical(url) or _safe_url(url, base)


def _safe_url(url: str | None, base: str | None) -> str | None:
    split = _split_http(url, base)
    return split[0] if split else None


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """The form of a link under which the store recognises a story it has seen before.

    Relative links are resolved against `base`; the scheme and host are lower-cased, the default
    port, user info, fragment (including WordPress's "#comments") and tracking parameters
    (utm_*, fbclid, gclid, mc_cid...) are dropped; the rest of the query keeps its order and
    spelling because servers may depend on them. Returns None for anything not http(s).
    """
    return _already_canonical(url) or _canonical_url(url, base)


def _canonical_url(url: str | None, base: str | None) -> str | None:
    split = _split_http(url, base)
    if split is None:
        return None
    scheme, host, port, path, query = split[1]
    if port and int(port) != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{int(port)}"
    if query:
        if "&amp;" in query:  # a feed that escaped its links twice
            query = query.replace("&amp;", "&")
        kept = [p for p in query.split("&") if p and not is_tracking_param(p.split("=", 1)[0])]
        query = "&".join(kept)
    return f"{scheme}://{host}{path or '/'}{'?' + query if query else ''}"


def _already_canonical(url: str | None) -> str | None:
    """`url` trimmed when canonical_url would return exactly that (and so would safe_url), else
    None: a lower-case http(s) host without port, a path, at most one query parameter that
    does not track, no fragment, no whitespace or control character to remove. Most links,
    guids and image URLs in feeds are like this, and one regex match costs half of splitting
    and rebuilding them (three URLs an item)."""
    if not url:
        return None
    url = url.strip()
    match = _CANONICAL_HTTP_RE.fullmatch(url)
    if match is None:
        return None
    query = match.group(1)
    if query is not None and (not query or is_tracking_param(query.partition("=")[0])):
        return None
    return url


# Memoised: a site's links repeat the same few names ("p", "page_id", "utm_source"), and a hit
# is one C-level lookup instead of lower(), a set test and startswith over six prefixes.
@functools.lru_cache(maxsize=1024)
def is_tracking_param(name: str) -> bool:
    """True for a query parameter that only tracks the click (utm_source, fbclid...)."""
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def stable_guid(guid: str | None) -> str | None:
    """The guid trimmed, or None when it cannot identify one story ("", "0", "null"...)."""
    if guid is None:
        return None
    guid = guid.strip()
    # No unstable value is longer than _UNSTABLE_MAX, and lowering never shortens a string.
    if len(guid) > 2048 or (len(guid) <= _UNSTABLE_MAX and guid.lower() in _UNSTABLE_GUIDS):
        return None
    return guid


def story_identity(
    guid: str | None, url: str | None, title: str, published: datetime | None
) -> str:
    """The key for "seen before": guid when stable, else canonical URL, else a content hash.

    A guid that is itself a link is canonicalised, so a feed that adds tracking parameters to
    its guids does not repost everything. The hash uses the date only when the feed gave one
    (an undated story's `published` is the time we first saw it, which changes every poll).
    """
    return _identity(stable_guid(guid), url, title, published)


def _identity(guid: str | None, url: str | None, title: str, published: datetime | None) -> str:
    """story_identity for a guid that has been through stable_guid already."""
    if guid is not None:
        if _HTTP_PREFIX_RE.match(guid) is not None:
            guid = canonical_url(guid) or guid
        return f"guid:{guid}"
    if url:
        return f"url:{url}"
    stamp = published.astimezone(UTC).isoformat() if published is not None else ""
    digest = hashlib.sha256(f"{collapse(title)}\n{stamp}".encode()).hexdigest()
    return f"hash:{digest}"


def parse_date(value: str | None) -> datetime | None:
    """A feed date (RFC 822, RFC 3339/W3CDTF, or feedparser's many oddities) as aware UTC.

    A date without a zone is taken as UTC, which is what feedparser does too.
    """
    if not value:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) == 31:
        fixed = _fixed_rfc822(value)
        if fixed is not None:
            return fixed
    parsed: datetime | None = None
    match = _RFC822_RE.match(value)
    if match is not None:
        parsed = _rfc822(match)
        if parsed is not None:
            return parsed
    if value[:4].isdigit():
        try:
            parsed = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            parsed = None
    else:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is None:
        parsed = _feedparser_date(value)
        if parsed is None:
            return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _fixed_rfc822(value: str) -> datetime | None:
    """ "Sun, 29 Nov 2026 21:30:00 +0000" (what WordPress and most CMSs write) by its shape;
    None for anything else, which then takes the general path. Same result as _RFC822_RE.

    datetime.fromisoformat reads and range-checks the digits in C: six int() calls and the
    datetime constructor cost twice as much, and this runs for every item.
    """
    if _FIXED_RFC822_RE.fullmatch(value) is None:
        return None
    month = _MONTH_DIGITS.get(value[8:11].lower())
    if month is None:
        return None
    try:
        parsed = datetime.fromisoformat(f"{value[12:16]}-{month}-{value[5:7]}T{value[17:25]}+00:00")
    except ValueError:
        return None
    if value[27:] != "0000":
        offset = timedelta(hours=int(value[27:29]), minutes=int(value[29:31]))
        parsed = parsed - offset if value[26] == "+" else parsed + offset
    return parsed


def _rfc822(match: re.Match[str]) -> datetime | None:
    """The common RFC 822 shape without email.utils' generality (it runs for every item)."""
    day, mon, year, hour, minute, second, sign, tzh, tzm, _zone = match.groups()
    month = _MONTHS.get(mon.lower())
    if month is None:
        return None
    try:
        parsed = datetime(
            int(year), month, int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC
        )
    except ValueError:
        return None
    if sign:
        offset = timedelta(hours=int(tzh), minutes=int(tzm))
        parsed = parsed - offset if sign == "+" else parsed + offset
    return parsed


def _feedparser_date(value: str) -> datetime | None:
    """feedparser's date zoo (Korean, Greek, Hungarian, W3CDTF partials...) for rare formats."""
    from feedparser.datetimes import _parse_date  # local: rarely needed, keeps import cheap

    try:
        parsed = _parse_date(value)
        if parsed is None:
            return None
        return datetime(*parsed[:6], tzinfo=UTC)
    except (ValueError, OverflowError, TypeError):
        return None


@dataclass(slots=True)
class RawItem:
    """One entry as a parser found it, before normalisation: every parser path fills this, and
    `build_story` alone decides what a Story looks like, so the paths cannot drift apart."""

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
_EMAIL_NAME_RE = re.compile(r"^\s*\S+@\S+\s*\((.+)\)\s*$")


def build_story(item: RawItem, *, feed_url: str, now: datetime) -> Story:
    """Normalise one RawItem: plain text, canonical link, UTC date, best image, identity."""
    base = item.base or feed_url
    title = plain_text(item.title) if item.title_is_html else collapse(item.title)
    if len(title) > TITLE_MAX_CHARS:  # no real headline is this long; hostile or broken
        title = title[:TITLE_MAX_CHARS].rsplit(" ", 1)[0] + "…"
    url = canonical_url(item.link, base)
    summary = summary_text(item.summary) if item.summary else ""
    if not summary and item.content:
        summary = summary_text(item.content[: SUMMARY_MAX_CHARS * 20])
    if len(summary) > SUMMARY_MAX_CHARS:
        summary = summary[:SUMMARY_MAX_CHARS].rsplit(" ", 1)[0] + "…"
    image = None
    for candidate in item.images:
        image = safe_url(candidate, base)
        if image:
            break
    if image is None:
        for markup in (item.content, item.summary):
            if markup:
                image = safe_url(first_image_src(markup), base)
                if image:
                    break
    author = _author_name(item.author) if item.author else None
    categories: list[str] = []
    for raw in item.categories:
        name = _category_name(raw)
        if name and name not in categories:
            categories.append(name)
    dated = item.published is not None
    published = item.published if item.published is not None else now.astimezone(UTC)
    guid = stable_guid(item.guid)
    # Positional, in Story's field order: eleven keywords cost a third of building one.
    return Story(
        _identity(guid, url, title, item.published),  # identity
        url,
        title,
        summary,
        published,
        feed_url,
        guid,
        author,
        tuple(categories),  # categories
        image,  # image_url
        dated,
    )


# A site has a few dozen authors and categories and repeats them in every item: memoised, a
# repeat is one C-level cache hit instead of plain_text's checks (a third of the cost).
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
