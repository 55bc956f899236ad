"""UTM_PARAMS: campaign tags per platform on the link that goes out, never on the story's
identity."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.app import build_app
from bot.errors import ConfigError
from bot.settings import Backlog, load_settings
from bot.settings_reach import Reach
from bot.utm import feed_label, parse_utm
from bot.weighted_length import weighted_length
from tests.botenv import BASE_TIME, Item, write_feed
from tests.conftest import FakeClock
from tests.fakes.platform_server import FakePlatformServer
from tests.test_compose_common import KP_STORY, LIMITS, default_composer

TEMPLATE = "utm_source={platform}&utm_medium=social&utm_campaign={feed}-{date}"


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_tag_replaces_utm_keeps_the_rest_and_the_fragment() -> None:
    utm = parse_utm(TEMPLATE)
    url = "https://ex.com/a/?p=1&UTM_SOURCE=rss&utm_medium=email&q=a%20b#top"
    tagged = utm.tag(url, platform="facebook", feed="ex.com-feed", day=date(2027, 1, 15))
    assert tagged == (
        "https://ex.com/a/?p=1&q=a%20b&utm_source=facebook&utm_medium=social"
        "&utm_campaign=ex.com-feed-2027-01-15#top"
    )


def test_not_http_links_are_left_alone() -> None:
    utm = parse_utm(TEMPLATE)
    assert utm.tag("mailto:a@b.c", platform="x", feed="f", day=date(2027, 1, 1)) == "mailto:a@b.c"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("utm_source={network}", r"unknown field \{network\}"),
        ("utm_source", "is not name=value"),
        ("utm_source={platform", "broken braces"),
        ("&&", "is empty"),
    ],
)
def test_bad_templates_are_refused_at_start_naming_the_variable(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings({"FEED_URLS": "https://ex.com/feed", "UTM_PARAMS": raw}, Path("/"))
    assert caught.value.variable == "UTM_PARAMS"


def test_feed_label_is_a_short_slug() -> None:
    assert feed_label("https://www.jckonline.com/feed/") == "jckonline.com-feed"
    assert feed_label("https://news.example.com/rss?cat=3") == "news.example.com-rss"


def test_each_platform_gets_its_own_tags_and_x_length_is_unchanged() -> None:
    plain = default_composer()
    tagged = default_composer(utm=parse_utm(TEMPLATE))
    day = date(2027, 1, 15)
    for platform, limits in LIMITS.items():
        before = plain.compose(KP_STORY, platform, limits, day=day)
        after = tagged.compose(KP_STORY, platform, limits, day=day)
        assert after.story_url == KP_STORY.url  # the identity side is untouched
        link = after.link or after.parts["url"]
        assert query(link)["utm_source"] == [platform]
        assert query(link)["utm_campaign"] == ["jckonline.com-feed-2027-01-15"]
        assert link in after.text or link == after.link
        if platform == "twitter":  # t.co: every link weighs 23, tags or not
            assert weighted_length(after.text) == weighted_length(before.text)
            assert after.text.replace(link, KP_STORY.url or "") == before.text
        if platform == "facebook":  # the link card carries them
            assert after.link and after.link.startswith(KP_STORY.url or "")


def test_without_a_day_the_story_date_fills_date() -> None:
    post = default_composer(utm=parse_utm("d={date}")).compose(
        KP_STORY, "facebook", LIMITS["facebook"]
    )
    assert post.link is not None and post.link.endswith("?d=2026-11-27")


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as fake:
        yield fake


def test_utm_on_every_platform_end_to_end_and_a_second_poll_posts_nothing(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    clock = FakeClock(BASE_TIME.timestamp())
    items = [Item(1, link="https://news.example.com/story-1/?utm_source=rss"), Item(2)]
    for item in items:
        item.image_url = server.image_url()
    settings = server.settings(
        feed_urls=(write_feed(tmp_path / "feed.xml", items),),
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        backlog=Backlog("all"),
        max_story_age=None,
    )
    settings = replace(settings, reach=Reach(utm=parse_utm(TEMPLATE)))
    for _ in range(2):
        app = build_app(settings, clock=clock)
        try:
            app.engine.tick()
        finally:
            app.close()
        clock.advance(600)
    assert (len(server.tweets), len(server.fb_posts), len(server.ig_media)) == (2, 2, 2)
    day = "2027-01-15"
    for tweet in server.tweets:
        (url,) = [u["expanded_url"] for u in tweet["urls"]]
        assert query(url)["utm_source"] == ["twitter"]
        assert query(url)["utm_campaign"][0].endswith(day)
    for post in server.fb_posts:
        assert query(post["link"])["utm_source"] == ["facebook"]
        assert "rss" not in query(post["link"])["utm_source"]
    for media in server.ig_media:
        assert "utm_source=instagram" in media["caption"]
