"""Article page metadata (Open Graph, canonical) and fetching it through bot.net."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from bot.errors import FeedError
from bot.feeds.article import fetch_article, find_og_image, parse_article
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(30)
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PAGE = b"""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>Fallback title | JCK</title>
<meta content="KP Chair Asks NGOs to Reconsider Boycott" property="og:title">
<meta property='og:description' content='The chair &#8217;s letter &amp; more.'>
<meta property="og:image" content="/wp-content/uploads/kp.jpg">
<meta property="article:published_time" content="2026-11-27T15:04:11+00:00">
<link rel="canonical" href="https://www.jckonline.com/editorial-article/kp/?utm_source=x">
<script>var og = '<meta property="og:image" content="javascript:bad">';</script>
</head><body><meta property="og:title" content="not this one"></body></html>"""


def test_parse_article_open_graph() -> None:
    story = parse_article(PAGE, url="https://www.jckonline.com/editorial-article/kp/", now=NOW)
    assert story.title == "KP Chair Asks NGOs to Reconsider Boycott"
    assert story.summary == "The chair ’s letter & more."
    assert story.url == "https://www.jckonline.com/editorial-article/kp/"
    assert story.identity == "url:https://www.jckonline.com/editorial-article/kp/"
    assert story.image_url == "https://www.jckonline.com/wp-content/uploads/kp.jpg"
    assert story.published == datetime(2026, 11, 27, 15, 4, 11, tzinfo=UTC) and story.dated


def test_title_falls_back_to_title_tag_and_missing_title_fails() -> None:
    story = parse_article(
        b"<html><head><title> Plain  page </title></head></html>", url="https://e.com/p", now=NOW
    )
    assert story.title == "Plain page" and story.url == "https://e.com/p" and not story.dated
    with pytest.raises(FeedError, match="no title") as caught:
        parse_article(b"<html><body>nothing</body></html>", url="https://e.com/q", now=NOW)
    assert caught.value.url == "https://e.com/q"


def test_find_og_image_rejects_scripted_urls_and_prefers_secure() -> None:
    assert (
        find_og_image(b'<meta property="og:image" content="javascript:alert(1)">', "https://e.com/")
        is None
    )
    assert (
        find_og_image(
            b'<meta property="og:image" content="data:image/png;base64,AA">', "https://e.com/"
        )
        is None
    )
    page = (
        b'<meta property="og:image" content="http://e.com/a.jpg">'
        b'<meta property="og:image:secure_url" content="https://e.com/a.jpg">'
    )
    assert find_og_image(page, "https://e.com/") == "https://e.com/a.jpg"
    assert (
        find_og_image(b'<meta name="twitter:image" content="//cdn.e.com/t.png">', "https://e.com/x")
        == "https://cdn.e.com/t.png"
    )
    assert find_og_image(b"<html></html>", "https://e.com/") is None


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


def test_fetch_article_through_bot_net(server: FeedServer) -> None:
    server.route("/kp", body=PAGE, content_type="text/html; charset=utf-8")
    server.route("/img", body=b"\xff\xd8", content_type="image/jpeg")
    server.route("/huge", body=b"<html>" + b"x" * 5000, content_type="text/html")
    with httpx.Client(timeout=5.0) as client:
        story = fetch_article(client, server.url("/kp"), now=NOW, max_bytes=100_000)
        assert story.title == "KP Chair Asks NGOs to Reconsider Boycott"
        assert story.feed_url == server.url("/kp")
        with pytest.raises(FeedError, match="not accepted"):
            fetch_article(client, server.url("/img"), now=NOW, max_bytes=100_000)
        with pytest.raises(FeedError, match="cap"):
            fetch_article(client, server.url("/huge"), now=NOW, max_bytes=1000)
        with pytest.raises(FeedError, match="only http"):
            fetch_article(client, "file:///etc/passwd", now=NOW, max_bytes=1000)
