"""XML that cannot explode: hostile documents are refused or bounded, the worker goes on, and the
good feed beside them is still queued. Peak RSS and time of each are measured by
`python -m benchmarks.hostile` (benchmarks/README.md), not asserted here."""

from __future__ import annotations

import codecs
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks import hostile
from bot.app import build_app
from bot.errors import FeedError
from bot.feeds import sandbox
from bot.feeds.parse import MAX_OPEN_ELEMENTS, parse_feed, parse_with_feedparser, strip_doctype
from bot.feeds.sandbox import parse_bounded
from bot.settings import Backlog, Settings
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(120)
NOW = datetime(2027, 1, 15, tzinfo=UTC)
LAUGHS = (
    '<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
)
BROKEN = '<rss version="2.0"><channel><title>T &d;</title><item><title>Hi &d;</title><b></item>'
UTF7 = (LAUGHS + BROKEN).replace("<!", "+ADwAIQ-").encode("ascii")
"""The DOCTYPE spelled in UTF-7 ("+ADwAIQ-" is "<!"): no byte scan sees it, expat would."""


def _titles(body: bytes) -> list[str]:
    """The texts a document gives (none when it is refused as no feed at all)."""
    try:
        parsed = parse_bounded(body, url="http://feed.example/", now=NOW)
    except FeedError:
        return []
    return [s.title for s in parsed.stories] + [parsed.title or ""]


@pytest.mark.parametrize(
    "body",
    [
        ("\ufeff<?xml version='1.0' encoding='utf-8'?>" + LAUGHS + BROKEN).encode(),
        ("<?xml version='1.0'?><!--" + "x" * (1 << 20) + "-->" + LAUGHS + BROKEN).encode(),
        (" " * 70_000 + LAUGHS + BROKEN).encode(),
        codecs.BOM_UTF16_LE + (LAUGHS + BROKEN).encode("utf-16-le"),
    ],
    ids=["utf8-bom", "doctype-after-1MiB", "doctype-after-64KiB-of-spaces", "utf16"],
)
def test_entities_are_never_expanded_whatever_the_bom_or_doctype_position(body: bytes) -> None:
    assert all("aaaaaaaaaa" not in text for text in _titles(body))


def test_the_unbounded_parse_strips_those_doctypes_too() -> None:
    body = ("\ufeff" + LAUGHS + BROKEN).encode()
    assert b"<!ENTITY" not in strip_doctype(body, "http://feed.example/")
    late = ("<?xml version='1.0'?><!--" + "x" * (1 << 20) + "-->" + LAUGHS + BROKEN).encode()
    assert b"<!ENTITY" not in strip_doctype(late, "http://feed.example/")


def test_a_doctype_behind_a_long_processing_instruction_is_stripped_too() -> None:
    # The prolog is scanned whole: a "<a" inside a PI that runs past the first 64 KB once let
    # the DOCTYPE after it through (it was taken for the root element).
    body = ("<?pi <a " + "x" * 70_000 + "?>" + LAUGHS + BROKEN).encode()
    assert b"<!ENTITY" not in strip_doctype(body, "http://feed.example/")
    assert all("aaaaaaaaaa" not in text for text in _titles(body))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ((BROKEN + '<x><!ENTITY e "boom"></x>').encode(), None),
        (b'<?xml version="1.0" encoding="utf-7"?>' + UTF7, None),
        (UTF7, "application/xml; charset=utf-7"),
        ((LAUGHS + BROKEN).encode("cp500"), "text/xml; charset=cp500"),
    ],
    ids=["entity-after-the-root", "utf-7-declared", "utf-7-by-http", "ebcdic-by-http"],
)
def test_entity_declarations_the_byte_scan_cannot_strip_are_refused_before_feedparser(
    body: bytes, content_type: str | None
) -> None:
    with pytest.raises(FeedError, match="declares XML entities"):
        parse_feed(body, url="http://feed.example/", now=NOW, content_type=content_type)


def test_deep_nesting_after_an_early_error_is_refused_before_feedparser() -> None:
    head = b'<?xml version="1.0"?><rss><channel><title>&nosuch;</title><item><description>'
    body = head + b"<a>" * (MAX_OPEN_ELEMENTS + 100)
    started = time.monotonic()
    with pytest.raises(FeedError, match="nested too deeply"):
        parse_feed(body, url="http://feed.example/", now=NOW)
    assert time.monotonic() - started < 5  # feedparser's lenient parser would take seconds
    # unclosed <br> and <hr> of a broken feed's HTML are not nesting
    fine = head + b"text<br><HR>" * (MAX_OPEN_ELEMENTS + 100) + b"</description></item>"
    parse_feed(fine + b"</channel></rss>", url="http://feed.example/", now=NOW)


def test_a_parse_past_its_deadline_is_killed_and_named() -> None:
    head = b'<?xml version="1.0"?><rss><channel><title>&nosuch;</title>'
    body = head + b"<item><title>x</title></item>" * 40_000  # feedparser: seconds
    started = time.monotonic()
    with pytest.raises(FeedError, match=r"parsing took longer than 0\.3 s"):
        parse_bounded(body, url="http://feed.example/", now=NOW, deadline=0.3)
    assert time.monotonic() - started < 5


def test_a_parse_over_its_memory_budget_fails_alone() -> None:
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
    body = head + b"<x/>" * 700_000 + b"</channel></rss>"  # well-formed; a 100 MB tree
    with pytest.raises(FeedError, match=r"needed more than 32 MB"):
        parse_bounded(
            body, url="http://feed.example/", now=NOW, memory=32 * 1024 * 1024, deadline=60
        )
    assert sandbox.last_child_peak_kb is None or sandbox.last_child_peak_kb < 400 * 1024


def test_small_documents_parse_here_and_large_ones_in_the_child() -> None:
    good = hostile.GOOD
    assert [s.title for s in parse_bounded(good, url="http://f/", now=NOW).stories] == [
        "A good story",
        "Another good story",
    ]
    sandbox.last_child_peak_kb = None
    parse_bounded(good, url="http://f/", now=NOW, inline_bytes=10)
    assert sandbox.last_child_peak_kb is not None  # it ran in a child, which reported its size


def test_a_fallback_parse_gives_the_same_stories_in_the_child() -> None:
    body = b'<rss version="2.0"><channel><title>T</title><item><title>A &eacute;</title>'
    body += b"<link>https://news.example/a</link></item></channel></rss>"
    here = parse_with_feedparser(body, url="http://f/", now=NOW)
    there = parse_bounded(body, url="http://f/", now=NOW)
    assert there.parser == "feedparser" and there.stories == here.stories


@pytest.fixture
def served() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.route("/good.xml", body=hostile.GOOD)
        yield server


@pytest.mark.parametrize("name", list(hostile.DOCUMENTS))
def test_the_worker_survives_every_hostile_document_and_posts_the_good_feed(
    name: str, served: FeedServer, tmp_path: Path
) -> None:
    headers = {"Content-Encoding": "gzip"} if "gzip" in name else {}
    served.route("/hostile.xml", body=hostile.DOCUMENTS[name](), headers=headers)
    settings = Settings(
        feed_urls=(served.url("/hostile.xml"), served.url("/good.xml")),
        platforms=("twitter",),
        dry_run=True,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        backlog=Backlog("all"),
        max_story_age=None,
    )
    app = build_app(settings)
    try:
        report = app.engine.tick()
    finally:
        app.close()
    feeds = {f.url.rsplit("/", 1)[-1]: f for f in report.feeds}
    assert feeds["good.xml"].status == "ok" and feeds["good.xml"].new_stories == 2
    good = [d for d in report.deliveries if "good-" in (d.story_url or "")]
    assert len(good) == 2 and {d.status for d in good} == {"dry_run"}
    hostile_feed = feeds["hostile.xml"]
    if hostile_feed.status == "ok":  # recovered what it could, entities unexpanded
        assert hostile_feed.new_stories <= 1
    else:
        assert hostile_feed.status == "error" and hostile_feed.error
