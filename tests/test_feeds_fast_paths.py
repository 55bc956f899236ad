"""The normalisation shortcuts agree with the general code they stand in for.

Each shortcut (the WordPress footer cut before plain_text, already-canonical URLs, the fixed
RFC 822 date, collapse's early return, the 4 KB prolog scan) must give exactly what the general
path gives; hypothesis throws mixes of the inputs that break the shortcuts' preconditions at
them, and whole documents go through parse_feed with and without the shortcuts.
"""

from __future__ import annotations

import html
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from benchmarks.farm import feed_xml
from bot.errors import FeedError
from bot.feeds import normalize as N
from bot.feeds import parse as P

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "feedparser" / "wellformed"
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _joined(pieces: list[str], max_size: int = 8) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(pieces), max_size=max_size).map("".join)


# --- summary_text: the WordPress footer cut off before plain_text ---------------------------

_HEAD_PIECES = [
    "Prices rose", " ", "  ", "\n", "\xa0", ".", "!", "…", "[&#8230;]", " [&hellip;]", "[...]",
    "&amp;", "&#8217;", "&amp", "&#84;", "</p>", "<p>", "<b>x</b>", "<br/>", "a < b", "<a href='x'",
    "<!-- c -->", "<script>x()</script>", "]]>", "Read more", "read", "Continue reading", "more »",
    "The post ", " appeared first on ", "x" * 120,
]  # fmt: skip
_TITLE_PIECES = [
    "Gold", " ", "\n", "\xa0", "&amp;", "&#038;", "&#8217;", "&quot;", "&nbsp;", "&#32;", "&#84;",
    "&#x70;", "&lt;", "&amp", "post", "The post ", " appeared first on ", ">", "]]>", "<", "<b>",
    ".", "x" * 200,
]  # fmt: skip


@st.composite
def wordpress_descriptions(draw: st.DrawFn) -> str:
    title = draw(_joined(_TITLE_PIECES, 5))
    site = draw(_joined(_TITLE_PIECES, 3))
    link = draw(st.sampled_from(['href="https://ex.com/p/"', 'rel="nofollow" href="/p"', "x<p>"]))
    site_html = draw(st.sampled_from([site, f"<a {link}>{site}</a>", f"<a>{site}</a>"]))
    footer = f"<p>The post <a {link}>{title}</a> appeared first on {site_html}"
    footer += draw(st.sampled_from([".</p>", "</p>", ".</p>\n ", ". </p>", ".</p><p>x</p>"]))
    return draw(_joined(_HEAD_PIECES)) + draw(st.sampled_from(["", "<p>", "\n"])) + footer


@PROPERTY
@given(wordpress_descriptions())
# "Read more" exactly 300 characters from the end of the head's text: one space more or less
# before the footer decides whether it is in clean_summary's window.
@example(
    "A. Read more " + "b" * 290 + '</p><p>The post <a href="/p">T</a> appeared first on S.</p>'
)
# A "<" in the link's attributes: plain_text's general path then swallows the title.
@example("Text.</p><p>The post <a x<p>Gold</a> appeared first on S.</p>")
def test_summary_text_matches_clean_summary_of_plain_text(markup: str) -> None:
    assert N.summary_text(markup) == N.clean_summary(N.plain_text(markup))


def test_summary_text_takes_the_shortcut_for_the_usual_footer() -> None:
    markup = (
        'Gold rose again [&#8230;]</p>\n<p>The post <a href="https://ex.com/p/">Gold &amp; '
        'silver</a> appeared first on <a href="https://ex.com">Site</a>.</p>\n'
    )
    assert N._before_wordpress_footer(markup) == "Gold rose again [&#8230;]</p>\n"
    assert N.summary_text(markup) == "Gold rose again…" == N.clean_summary(N.plain_text(markup))


_EXCERPT_PIECES = [
    "Prices rose", " ", "  ", "\n", "\t", "\xa0", "\u2003", ".", "!", "…", "[&#8230;]",
    " [&hellip;]", "[...]", "&amp;", "&#8217;", "&amp", "&#84;", "&#8230", "&&#8230;", "&#x2026;",
    "&nbsp;", "]]>", "]]", "Read more", "read", "Continue reading", "more »", "The post ",
    " appeared first on ", "x" * 150, ". &#82;ead", "&#x6d;ore", "&#8217;", "R", "ead more",
]  # fmt: skip


@st.composite
def wordpress_excerpts(draw: st.DrawFn) -> str:
    """Descriptions of the excerpt-and-footer shape, mostly, with the details that decide."""
    excerpt = draw(_joined(_EXCERPT_PIECES, 10))
    # Often a plain title and site, so the shortcut is taken often enough to test (1 in 7).
    title = draw(st.just("Gold &amp; silver&#8217;s (3)") | _joined(_TITLE_PIECES, 4))
    site = draw(st.just("Site") | _joined(_TITLE_PIECES, 2))
    site_html = draw(st.sampled_from([site, f'<a href="https://ex.com">{site}</a>']))
    return (
        draw(st.sampled_from(["", "<p>", " <p>", "<P>"]))
        + excerpt
        + draw(st.sampled_from(["</p>", "</p>\n", "</p> \n\xa0", "</P>", "<br/></p>"]))
        + f'<p>The post <a href="https://ex.com/p/">{title}</a> appeared first on {site_html}'
        + draw(st.sampled_from([".</p>\n", ".</p>", "</p>", ".</p>x"]))
    )


@settings(PROPERTY, max_examples=1500)
@given(wordpress_excerpts())
@example('Gold. [&#8230;]</p>\n<p>The post <a href="/p">T</a> appeared first on S.</p>\n')
@example('<p>Gold&#8230;</p><p>The post <a href="/p">T&#8217;s</a> appeared first on S.</p>')
@example('Gold &amp&#8230;]]></p><p>The post <a href="/p">T</a> appeared first on S.</p>')
# A reference that decodes to a letter spells "Read more" that the excerpt itself does not.
@example('Gold. &#82;ead &#109;ore</p><p>The post <a href="/p">T</a> appeared first on S.</p>')
def test_the_excerpt_shortcut_gives_what_plain_text_and_clean_summary_give(markup: str) -> None:
    assert N.summary_text(markup) == N.clean_summary(N.plain_text(markup))


def test_the_excerpt_shortcut_takes_the_usual_wordpress_description() -> None:
    markup = (
        'Gold rose again &#8211; by 3% [&#8230;]</p>\n<p>The post <a href="https://ex.com/p/">'
        'Gold &amp; silver</a> appeared first on <a href="https://ex.com">Site</a>.</p>\n'
    )
    assert N._wordpress_excerpt(markup) == "Gold rose again &#8211; by 3% [&#8230;]"
    assert N._wordpress_excerpt("<p>" + markup) == "Gold rose again &#8211; by 3% [&#8230;]"
    assert N.summary_text(markup) == "Gold rose again \u2013 by 3%…"
    # A tag in the excerpt, or a footer that is not certain, leaves it to the other paths.
    assert N._wordpress_excerpt(markup.replace("again", "<b>again</b>")) is None
    assert N._wordpress_excerpt(markup.replace("Gold &amp;", "Gold post")) is None


@PROPERTY
@given(
    _joined(
        ["&#8230;", "&#8230", "&", "&&", "#8230;", "&amp;", "&amp", "&#x2026;", "&hellip;",
         "&#8217;", "&copy", "&#0;", "&#99999999;", "a", " ", "\n", ";"],
        10,
    )
)  # fmt: skip
def test_decoding_references_is_html_unescape(text: str) -> None:
    assert N._decode_references(text) == html.unescape(text)


# --- canonical_url / safe_url: URLs that are canonical already ------------------------------

_HOSTS = [
    "example.com", "Example.COM", "a.", "..", "", "ex_ample.com", "127.0.0.1", "[::1]",
    "bücher.de", "u@example.com", "example.com.",
]  # fmt: skip
_QUERIES = [
    "", "?", "?p=1", "?utm_source=x", "?a=1&b=2", "?a=1&amp;b=2", "?=x", "?P=1", "?Ref=x",
    "?a=b?c", "?a b",
]  # fmt: skip


def _mostly(usual: str, others: list[str]) -> st.SearchStrategy[str]:
    """The usual part of a link half the time, so whole links are often nearly canonical."""
    return st.one_of(st.just(usual), st.sampled_from(others))


_URL_PARTS = st.tuples(
    _mostly("", [" ", "\n"]),
    _mostly("https://", ["http://", "HTTPS://", "ftp://", "//", "", "javascript:"]),
    _mostly("example.com", _HOSTS),
    _mostly("", [":80", ":443", ":8080", ":99999", ":"]),
    _joined(["/", "/a", "b", " ", "\t", "\x01", "ü", "%20", "\u200b", "?", ""], 4),
    _mostly("", _QUERIES),
    _mostly("", ["#", "#comments", "#a b"]),
    _mostly("", [" ", "\n"]),
).map("".join)
_BASES = st.sampled_from([None, "https://example.com/dir/", "http://127.0.0.1:8080/feed/0/"])


@settings(PROPERTY, max_examples=2000)
@given(st.one_of(_URL_PARTS, st.text(max_size=40)), _BASES)
def test_already_canonical_urls_come_out_as_the_general_path_makes_them(
    url: str, base: str | None
) -> None:
    assert N.canonical_url(url, base) == N._canonical_url(url, base)
    assert N.safe_url(url, base) == N._safe_url(url, base)


def test_a_wordpress_guid_is_already_canonical() -> None:
    assert N._already_canonical(" https://www.site0.example/?p=30 ") == (
        "https://www.site0.example/?p=30"
    )
    assert N._already_canonical("https://www.site0.example/?utm_source=x") is None


def test_the_spelled_out_url_class_is_whitespace_and_control_characters() -> None:
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    spelled = set(re.findall(f"[{N._NOT_IN_URL}]", everything))
    assert spelled == set(re.findall(r"[\s\x00-\x1f]", everything))


def test_the_read_more_gate_lowers_bytes_as_str_lower_would() -> None:
    # Only two non-ASCII characters lower to ASCII letters; neither can spell "read" or "more".
    lowered_to_ascii = {
        c for c in map(chr, range(128, sys.maxunicode + 1)) if re.search("[a-z]", c.lower())
    }
    assert lowered_to_ascii == {"\u0130", "\u212a"}
    for text in (
        "Gold. READ MORE",
        "Gold \u2026 R\u0130ad",
        "Gold. \u212aeep reading",
        "\ud800 more",
    ):
        expected = N._READ_MORE_RE.search(text) is not None
        assert (N._read_more_start(text) is not None) == expected, text


@PROPERTY
@given(
    _joined(
        ["h", "H", "t", "T", "p", "P", "s", "S", "\u017f", "\u0130", "\u212a", ":", "/", "x"], 9
    )
)
@example("http://x")
@example("HTTPS://x")
@example("HtTp://")
@example("http\u017f://x")
@example("https:/x")
@example("\u0130http://x")
def test_the_http_prefix_pattern_is_lower_startswith(guid: str) -> None:
    expected = guid.lower().startswith(("http://", "https://"))
    assert (N._HTTP_PREFIX_RE.match(guid) is not None) == expected


@PROPERTY
@given(
    _joined(["", "0", "-1", "NULL", "None", "unDefined", "true", "FALSE", "NaN", "\u0130", " "], 3)
)
def test_stable_guid_length_shortcut_keeps_the_unstable_set(guid: str) -> None:
    trimmed = guid.strip()
    expected = None if trimmed.lower() in N._UNSTABLE_GUIDS else trimmed
    assert N.stable_guid(guid) == expected


# --- dates, collapse and the prolog scan -------------------------------------------------------


_RFC822_NOISE = st.lists(
    st.tuples(st.integers(0, 30), st.sampled_from("0123456789Az:+- ,\u0663")), max_size=3
)
_DAYS = st.sampled_from(
    ["Sun, 29 Nov 2026", "Fri, 31 Dec 9999", "Mon, 01 Jan 0001", "Tue, 30 Feb 2027"]
)


@PROPERTY
@given(_DAYS, st.sampled_from(["21:30:00", "23:59:59", "24:00:00", "00:00:60"]), _RFC822_NOISE)
def test_fixed_rfc822_agrees_with_the_general_rfc822_parser(
    day: str, time: str, noise: list[tuple[int, str]]
) -> None:
    chars = list(f"{day} {time} {'+0530' if len(noise) % 2 else '-2359'}")
    for at, char in noise:  # the shape stays mostly intact, so the fixed path is reached
        chars[at] = char
    value = "".join(chars)
    match = N._RFC822_RE.match(value)
    try:
        general = N._rfc822(match) if match else None
    except OverflowError:
        general = None
    try:
        fixed = N._fixed_rfc822(value)
    except OverflowError:
        fixed = None
    assert fixed in (None, general)


@PROPERTY
@given(
    st.text(alphabet="a  ", max_size=12)
    | st.text(alphabet="ab \t\n\r\xa0\u2003\u2028\x1f\x85\u200b…", max_size=20)
)
def test_collapse_is_split_and_join(text: str) -> None:
    assert N.collapse(text) == " ".join(text.split())


_PROLOG_PIECES = [
    " ", "\n", "\xef\xbb\xbf", "<?xml version='1.0'?>", "<!-- c -->", "<!--", "<?pi",
    "<!DOCTYPE rss [<!ENTITY a 'b>'>]>", "<!doctype html>", "<!DOC", "x" * 1000,
    "<!-- " + "y" * 3000 + " -->", "<rss>", "<![CDATA[z]]>",
]  # fmt: skip


@PROPERTY
@given(st.integers(4070, 4100), _joined(_PROLOG_PIECES, 10))
def test_the_prolog_scan_of_the_first_4_kb_matches_the_whole_document(
    padding: int, prolog: str
) -> None:
    # A comment padded to end near 4 KB puts whatever follows it across the first scan's end.
    prolog = "<!--" + " " * (padding - 7) + "-->" + prolog
    body = (prolog + "<rss><![CDATA[a]]></rss>").encode("latin-1")
    assert P._latin1_doctype(body) == P._prolog(body.decode("latin-1"))[0]


# --- whole documents, with and without the shortcuts ----------------------------------------


def _without_shortcuts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(N, "_already_canonical", lambda url: None)
    monkeypatch.setattr(N, "_before_wordpress_footer", lambda markup: None)
    monkeypatch.setattr(N, "_wordpress_excerpt", lambda markup: None)
    monkeypatch.setattr(N, "_fixed_rfc822", lambda value: None)
    monkeypatch.setattr(P, "_latin1_doctype", lambda body: P._prolog(body.decode("latin-1"))[0])
    monkeypatch.setattr(N, "_author_name", N._author_name.__wrapped__)
    monkeypatch.setattr(N, "_category_name", N._category_name.__wrapped__)


def _parse_all(documents: list[tuple[str, bytes]]) -> list[str]:
    out = []
    for name, body in documents:
        url = f"http://127.0.0.1:8097/{name}"
        try:
            out.append(repr(P.parse_feed(body, url=url, now=NOW)))
        except FeedError as exc:
            out.append(f"FeedError: {exc}")
    return out


def _documents() -> list[tuple[str, bytes]]:
    """WordPress documents like the benchmark's, and the feedparser corpus's well-formed ones."""
    posts = [(n, NOW - timedelta(hours=n, minutes=7 * n)) for n in range(30, 0, -1)]
    docs = [(f"farm/{site}/", feed_xml(site, posts[site:])) for site in range(5)]
    if CORPUS.is_dir():
        docs += [(p.relative_to(CORPUS).as_posix(), p.read_bytes()) for p in CORPUS.rglob("*.xml")]
    return sorted(docs)


@pytest.mark.timeout(120)
def test_parse_feed_is_the_same_without_the_shortcuts(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = _documents()
    fast = _parse_all(docs)
    _without_shortcuts(monkeypatch)
    general = _parse_all(docs)
    assert len(docs) > (1000 if CORPUS.is_dir() else 4)
    differing = [name for (name, _), a, b in zip(docs, fast, general, strict=True) if a != b]
    assert not differing


def test_build_story_puts_every_value_in_its_own_field() -> None:
    # build_story calls Story positionally: each field gets a value no other field has.
    item = N.RawItem(
        title="Gold <b>rises</b>",
        link="https://ex.com/gold?utm_source=x",
        guid="guid-1",
        summary="<p>Prices rose.</p>",
        published=NOW - timedelta(hours=1),
        author="Jane Doe",
        categories=["Diamonds", "Retail"],
        images=["https://ex.com/gold.jpg"],
    )
    story = N.build_story(item, feed_url="https://ex.com/feed/", now=NOW)
    assert (story.identity, story.url, story.title, story.summary) == (
        "guid:guid-1",
        "https://ex.com/gold",
        "Gold rises",
        "Prices rose.",
    )
    assert (story.published, story.feed_url, story.guid, story.author) == (
        NOW - timedelta(hours=1),
        "https://ex.com/feed/",
        "guid-1",
        "Jane Doe",
    )
    assert story.categories == ("Diamonds", "Retail")
    assert story.image_url == "https://ex.com/gold.jpg"
    assert story.dated is True
    undated = N.build_story(N.RawItem(title="T"), feed_url="https://ex.com/feed/", now=NOW)
    assert undated.dated is False and undated.published == NOW
