"""The feeds wing gives byte for byte what the code of earlier releases gave.

A store remembers each story under its identity (guid, canonical link or content hash) forever,
and keeps its title, summary, date and links. If the rules that produce them changed for an input
they had seen, every upgraded store would see old stories as new and post them again. So the
rules are checked against a frozen copy of the code they replaced (tests/frozen/, commit
7498e24): whole documents (the feedparser and JSON Feed corpora, the benchmark's WordPress
documents, mutations of them) through parse_feed, and each rule alone against hostile inputs
that hypothesis builds from the pieces that have broken URL and HTML code before.

Deliberate differences, each tested on its own below:
- first_image_src finds an <img> tag written in mixed case ("<Img"); the old code looked only
  when the fragment spelled "<img" or "<IMG" somewhere (the image is no part of identity and is
  chosen once, for a new story).
- first_image_src passes over a tracking pixel (declared 0 or 1 pixel wide or high) and a
  data: placeholder, taking a lazy-loading tag's data-src instead; the old code took the first
  <img> whatever it was (then a story whose only <img> is FeedBurner's pixel got no picture at
  all, not even its page's og:image).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from benchmarks.farm import feed_xml
from bot.errors import FeedError
from bot.feeds import dates, identity, normalize, text, urls
from bot.feeds.parse import parse_feed
from tests.frozen import normalize_v0 as N0
from tests.frozen import parse_v0 as P0

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
PROPERTY = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _joined(pieces: list[str], max_size: int = 8) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(pieces), max_size=max_size).map("".join)


def _mixed(pieces: list[str], max_size: int = 8) -> st.SearchStrategy[str]:
    """Pieces known to matter, with arbitrary text between them."""
    return st.lists(st.one_of(st.sampled_from(pieces), st.text(max_size=4)), max_size=max_size).map(
        "".join
    )


# --- URLs: canonical_url decides identity ----------------------------------------------------

_URL_PIECES = [
    "http", "HTTP", "hTtPs", "https", "ftp", "javascript", "data", "mailto", ":", "://", "//", "/",
    "Example.COM", "ex.com", "a.", "..", "-", "[::1]", "[", "]", "[]", "xn--bcher-kva", "ſ", "K",
    "İ", "\u2100", "ｅｘ", "user:pw@", "@", "%41", ":80", ":443", ":0080", ":8080", ":99999", ":x",
    ":\u0663", "/a/../b", "/./", "/ä", "/%20", " ", "\n", "\t", "\x00", "\x7f", "\x85", "\u3000",
    "\xa0", "\u200b", "?", "&", "=", "&amp;", "?utm_source=x", "?a=1", "?FBCLID=1", "&Utm_Medium=y",
    "?=x", "?p=1", "&ref=z", "#", "#comments", "#a?b", ";", "\\", "%", "%2F",
]  # fmt: skip
_BASES = [
    None, "", "https://ex.com/feed/", "http://Ex.com", "//x.example/a", "ftp://x/", "x",
    "https://[::1]:8080/a/b", "https://ex.com/a?b=c#d", "http://user@ex.com:80/",
]  # fmt: skip
hostile_urls = st.one_of(_mixed(_URL_PIECES, 12), _joined(_URL_PIECES, 12), st.text(max_size=30))


@PROPERTY
@given(hostile_urls, st.sampled_from(_BASES))
@example("HTTP://Ex.COM:80/a?utm_source=x&b=1#c", None)
@example("https://ex.com/p?p=1", None)
@example(" https://ex.com/p/\n", "https://ex.com/")
@example("//cdn.ex.com/i.jpg", None)
@example("/relative?x=1&amp;utm_medium=y", "https://ex.com/feed/")
@example("http://[::1/", None)
@example("https://ex.com:٣/", None)
def test_canonical_and_safe_urls_are_the_old_ones(url: str, base: str | None) -> None:
    assert urls.canonical_url(url, base) == N0.canonical_url(url, base)
    assert urls.safe_url(url, base) == N0.safe_url(url, base)


@PROPERTY
@given(st.one_of(hostile_urls, _mixed(["0", "null", "NULL", " ", "undefined", "İ", "x" * 700])))
@example("x" * 2048)
@example("x" * 2049)
@example("  NaN ")
def test_stable_guids_are_the_old_ones(guid: str) -> None:
    assert identity.stable_guid(guid) == N0.stable_guid(guid)


_TITLE_PIECES = ["Gold", " ", "\n", "\xa0", "&amp;", "<b>", "İ", "ſ", "x" * 50]


@PROPERTY
@given(
    st.one_of(st.none(), hostile_urls),
    st.one_of(st.none(), hostile_urls),
    _mixed(_TITLE_PIECES),
    st.one_of(st.none(), st.datetimes(timezones=st.timezones())),
)
def test_story_identities_are_the_old_ones(
    guid: str | None, url: str | None, title: str, published: datetime | None
) -> None:
    canonical = urls.canonical_url(url)
    assert identity.story_identity(guid, canonical, title, published) == N0.story_identity(
        guid, canonical, title, published
    )


# --- dates: stored, and part of a content hash -----------------------------------------------

_DATE_PIECES = [
    "Sun, ", "sun,", "Sunday, ", "29", "1", "01", " ", "  ", "\t", "Nov", "nov.", "NOVEMBER", "Foo",
    "2026", "21:30", ":00", ":5", " +0000", "+0530", "-0800", "+05:30", " GMT", "UTC", "UT", "Z",
    "z", " EST", " PDT", "T", "-", "2026-11-29", "2026-11-29T21:30:00", "+00:00", ".123", "24:00",
    "\u0663", "31", "Feb", "9999", "0000", " -2359", " +9999",
]  # fmt: skip


@PROPERTY
@given(st.one_of(_joined(_DATE_PIECES, 10), _mixed(_DATE_PIECES, 8)))
@example("Sun, 29 Nov 2026 21:30:00 +0000")
@example("Sun, 29 Nov 2026 21:30:00 +00\u0663\u0663")
@example("sun, 01 DEC 2026 00:00:59 -2359")
@example("2026-11-29T21:30:00z")
@example("Sun, 29 Nov 2026 21:30:00 EST")
@example("0001-01-01T00:00:00+01:00")
def test_dates_are_the_old_ones(value: str) -> None:
    assert dates.parse_date(value) == N0.parse_date(value)


# --- text: titles are stored and hashed, summaries stored ------------------------------------

_HTML_PIECES = [
    "Prices rose", " ", "  ", "\n", "\xa0", ".", "!", "…", "[&#8230;]", " [&hellip;]", "[...]",
    "[…]", "&amp;", "&#8217;", "&amp", "&#84;", "&#x70;", "&nbsp;", "&lt;b&gt;", "</p>", "<p>",
    "<P>", "<b>x</b>", "<br/>", "<BR>", "a < b", "<a href='x'", "<a href='<p>'>", ">", "<pa>",
    "<!-- c -->", "<!--", "-->", "<![CDATA[", "]]>", "<script>x()</script>", "<SCRIPT>", "<style>",
    "</script >", "<?pi x?>", "<!DOCTYPE x>", "Read more", "read", "Continue reading", "more »",
    "more>>", "The post ", " appeared first on ", "post", "x" * 120, "<img src='a.jpg'>", "[",
]  # fmt: skip


@st.composite
def wordpress_descriptions(draw: st.DrawFn) -> str:
    """WordPress descriptions: an excerpt, then Yoast's footer, with hostile pieces in each."""
    title = draw(_joined(_HTML_PIECES, 5))
    site = draw(_joined(_HTML_PIECES, 3))
    link = draw(st.sampled_from(['href="https://ex.com/p/"', 'rel="nofollow" href="/p"', "x<p>"]))
    site_html = draw(st.sampled_from([site, f"<a {link}>{site}</a>", f"<a>{site}</a>"]))
    footer = f"<p>The post <a {link}>{title}</a> appeared first on {site_html}"
    footer += draw(st.sampled_from([".</p>", "</p>", ".</p>\n ", ". </p>", ".</p><p>x</p>"]))
    return draw(_joined(_HTML_PIECES)) + draw(st.sampled_from(["", "<p>", "\n"])) + footer


markup = st.one_of(_joined(_HTML_PIECES, 12), _mixed(_HTML_PIECES, 10), wordpress_descriptions())


@PROPERTY
@given(markup)
@example(
    "A. Read more " + "b" * 290 + '</p><p>The post <a href="/p">T</a> appeared first on S.</p>'
)
@example("Text.</p><p>The post <a x<p>Gold</a> appeared first on S.</p>")
@example("[…]")
@example(" [...]")
def test_plain_text_and_summaries_are_the_old_ones(html: str) -> None:
    assert text.collapse(html) == N0.collapse(html)
    assert text.plain_text(html) == N0.plain_text(html)
    assert text.summary_text(html) == N0.summary_text(html)
    assert text.clean_summary(html) == N0.clean_summary(html)


@PROPERTY
@given(markup)
def test_first_images_are_the_old_ones_where_the_tag_is_lower_or_upper_case(html: str) -> None:
    if "<img" in html or "<IMG" in html or "<img" not in html.lower():
        assert text.first_image_src(html) == N0.first_image_src(html)


def test_an_img_tag_in_mixed_case_is_found_now() -> None:
    assert N0.first_image_src('<p>x</p><Img src="https://ex.com/a.jpg">') is None
    assert text.first_image_src('<p>x</p><Img src="https://ex.com/a.jpg">') == (
        "https://ex.com/a.jpg"
    )


@pytest.mark.parametrize(
    ("markup", "image"),
    [
        ('<img src="https://feeds.feedburner.com/~r/jck/~4/x" height="1" width="1" alt=""/>', None),
        ("<img src='https://b.ex.com/p.gif' width=1 height=1><img src='/a.jpg'>", "/a.jpg"),
        ('<img src="https://ex.com/a.jpg" width="640"><img src="/px" width="0" />', "https://ex.com/a.jpg"),
        ('<img src="data:image/gif;base64,R0lGOD" data-src="https://ex.com/r.jpg">', "https://ex.com/r.jpg"),
        ("<img src='data:,' data-lazy-src='/lazy.jpg'>", "/lazy.jpg"),
        ('<img src="DATA:image/png,x"><img src="/c.jpg">', "/c.jpg"),
        ('<img src="/d.jpg" width="10" height="120">', "/d.jpg"),
        ('<img src="/e.jpg" width="100%" data-width="1">', "/e.jpg"),
        ('<img src="/f.gif" width="1px">', None),
    ],
)  # fmt: skip
def test_a_tracking_pixel_or_a_placeholder_is_no_picture(markup: str, image: str | None) -> None:
    assert text.first_image_src(markup) == image
    story = normalize.build_story(
        normalize.RawItem(title="T", link="https://ex.com/t", content=markup),
        feed_url="https://ex.com/feed/",
        now=NOW,
    )
    assert story.image_url == (None if image is None else urljoin("https://ex.com/t", image))


# --- whole stories ---------------------------------------------------------------------------


@st.composite
def raw_items(draw: st.DrawFn) -> normalize.RawItem:
    return normalize.RawItem(
        title=draw(markup),
        title_is_html=draw(st.booleans()),
        link=draw(st.one_of(st.none(), hostile_urls)),
        guid=draw(st.one_of(st.none(), hostile_urls)),
        summary=draw(st.one_of(st.just(""), markup)),
        content=draw(st.one_of(st.just(""), markup)),
        published=draw(st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)))),
        author=draw(st.one_of(st.none(), _mixed(["jane@ex.com (Jane)", "<b>", " ", "&amp;"]))),
        categories=draw(st.lists(_mixed(["Gold", "<b>", " ", "&amp;", ""]), max_size=4)),
        images=draw(st.lists(hostile_urls, max_size=3)),
        base=draw(st.sampled_from(_BASES)),
    )


@PROPERTY
@given(raw_items())
def test_build_story_is_the_old_one(item: normalize.RawItem) -> None:
    if "<img" in (item.summary + item.content).lower():
        return  # first_image_src's one deliberate difference (see the module docstring)
    old = N0.RawItem(**{f.name: getattr(item, f.name) for f in dataclasses.fields(item)})
    feed = "https://ex.com/feed/"
    assert normalize.build_story(item, feed_url=feed, now=NOW) == N0.build_story(
        old, feed_url=feed, now=NOW
    )


def test_build_story_puts_every_value_in_its_own_field() -> None:
    item = normalize.RawItem(
        title="Gold <b>rises</b>",
        link="https://ex.com/gold?utm_source=x",
        guid="guid-1",
        summary="<p>Prices rose.</p>",
        published=NOW - timedelta(hours=1),
        author="Jane Doe",
        categories=["Diamonds", "Retail", "Diamonds"],
        images=["https://ex.com/gold.jpg"],
    )
    story = normalize.build_story(item, feed_url="https://ex.com/feed/", now=NOW)
    assert dataclasses.astuple(story) == (
        "guid:guid-1",
        "https://ex.com/gold",
        "Gold rises",
        "Prices rose.",
        NOW - timedelta(hours=1),
        "https://ex.com/feed/",
        "guid-1",
        "Jane Doe",
        ("Diamonds", "Retail"),
        "https://ex.com/gold.jpg",
        True,
    )
    undated = normalize.build_story(normalize.RawItem(title="T"), feed_url="https://x/", now=NOW)
    assert undated.dated is False and undated.published == NOW


# --- whole documents -------------------------------------------------------------------------


def _old_first_image_src_without_the_case_gate(markup: str) -> str | None:
    return text.first_image_src(markup)


def _outcome(parse, body: bytes, url: str, content_type: str | None = None) -> str:  # type: ignore[no-untyped-def]
    try:
        return repr(parse(body, url=url, now=NOW, content_type=content_type))
    except FeedError as exc:
        return f"FeedError: {exc}"


def _documents() -> list[tuple[str, bytes]]:
    """The benchmark's WordPress documents and every document of the shared corpora."""
    posts = [(n, NOW - timedelta(hours=n, minutes=7 * n)) for n in range(30, 0, -1)]
    docs = [(f"farm/{site}/", feed_xml(site, posts[site:])) for site in range(5)]
    docs.append(("farm/images/", feed_xml(9, posts, image_host="img.ex.com")))
    for folder, pattern in (("feedparser", "*.xml"), ("jsonfeed", "*.json")):
        root = CORPORA / folder
        if root.is_dir():
            docs += [(f"{folder}/{p.relative_to(root).as_posix()}", p.read_bytes())
                     for p in sorted(root.rglob(pattern))]  # fmt: skip
    return docs


@pytest.mark.timeout(300)
def test_whole_documents_give_the_old_stories(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(N0, "first_image_src", _old_first_image_src_without_the_case_gate)
    docs = _documents()
    assert len(docs) > (2000 if (CORPORA / "feedparser").is_dir() else 5)
    differing = []
    for name, body in docs:
        url = f"http://127.0.0.1:8097/{name}"
        content_type = "application/feed+json" if name.endswith(".json") else None
        new = _outcome(parse_feed, body, url, content_type)
        if new != _outcome(P0.parse_feed, body, url, content_type):
            differing.append(name)
    assert not differing


_MUTATIONS = [
    b"", b" ", b"&amp;", b"&#8230;", b"<![CDATA[", b"]]>", b"<", b">", b"<p>", b"</p>", b"#x",
    b"?utm_source=a", b"HTTP://", b"\xc2\xa0", b"\n", b"isPermaLink=\"false\"", b"0", b"null",
    b"<!-- -->", b"[&#8230;]", b"Read more", b"Sun, 31 Nov 2026", b"\xff",
]  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, 45_000), st.sampled_from(_MUTATIONS)), max_size=6),
    st.integers(0, 4),
)
def test_mutated_wordpress_documents_give_the_old_stories(
    edits: list[tuple[int, bytes]], site: int
) -> None:
    posts = [(n, NOW - timedelta(hours=n, minutes=7 * n)) for n in range(30, 0, -1)]
    body = feed_xml(site, posts)
    for at, piece in sorted(edits, reverse=True):
        body = body[:at] + piece + body[at:]
    url = "https://www.site1.example/feed/"
    old_image = N0.first_image_src
    N0.first_image_src = _old_first_image_src_without_the_case_gate  # type: ignore[assignment]
    try:
        assert _outcome(parse_feed, body, url) == _outcome(P0.parse_feed, body, url)
    finally:
        N0.first_image_src = old_image  # type: ignore[assignment]


def test_json_feed_items_give_the_old_stories() -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "T &amp; x",
        "items": [
            {"id": 1, "url": "https://ex.com/a?utm_source=x#c", "title": "A", "summary": "<b>"},
            {"id": "null", "url": "/b", "content_html": "<p>B</p><img src='/i.png'>"},
            {"id": 1.5, "content_text": "C < D", "date_published": "2026-11-29T21:30:00z"},
        ],
    }
    body = json.dumps(feed).encode()
    url = "https://ex.com/feed.json"
    assert _outcome(parse_feed, body, url) == _outcome(P0.parse_feed, body, url)


# --- the one fast path: links already in canonical form --------------------------------------

_CANONICAL_PIECES = [
    "a", "z", "0", "9", ".", "-", "_", "/", "%", "~", "=", "&", "?", "#", "A", "é", " ", "\t",
    "\x00", "\xa0", "\u3000", "p=1", "utm_x=1", "FBCLID=2", "ref=", "=", "::", ":80", "@",
]  # fmt: skip
nearly_canonical = st.builds(
    "{}://{}{}{}".format,
    st.sampled_from(["http", "https", "HTTP", "httpx", ""]),
    _joined(["ex", "a", ".", "-", "0", "example", "com", "X", "_", ":443", "["], 5),
    _joined(["/", "/a", "/ä", "/%20", "/?p=1", "/?", "/#c", "/a b"], 3),
    _joined(_CANONICAL_PIECES, 4),
).map(lambda url: url.replace(":///", "://"))


@PROPERTY
@given(st.one_of(nearly_canonical, hostile_urls), st.sampled_from(_BASES))
@example("https://www.site0.example/?p=30", None)
@example("https://ex.com/a?", None)
@example("https://ex.com/a?utm_source=x", None)
@example("https://ex.com./a", None)
@example(" https://ex.com/a \n", "https://x/")
def test_the_canonical_link_shortcut_gives_what_the_rules_give(url: str, base: str | None) -> None:
    if urls._already_canonical(url):
        assert urls._canonical_by_the_rules(url, base) == url.strip()
        assert urls._safe_by_the_rules(url, base) == url.strip()
    assert urls.canonical_url(url, base) == urls._canonical_by_the_rules(url, base)
    assert urls.safe_url(url, base) == urls._safe_by_the_rules(url, base)


def test_the_shortcut_takes_the_links_of_a_wordpress_feed() -> None:
    for url in (
        "https://www.site0.example/2026/12/platinum-demand-30/",
        "https://www.site0.example/?p=30",
        "https://www.site0.example/wp-content/uploads/2026/12/ring-1024x683.jpg",
    ):
        assert urls._already_canonical(url)
    for url in ("https://Ex.com/", "https://ex.com/a#c", "https://ex.com/a?a=1&b=2", "//ex.com/"):
        assert not urls._already_canonical(url)
