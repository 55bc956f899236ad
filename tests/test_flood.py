"""No floods: MAX_NEW_PER_FEED caps what one poll of one feed queues, and every platform has a
default hourly cap that MAX_POSTS_PER_HOUR, set explicitly, overrides."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import build_app
from bot.pacing import Pacing
from bot.platforms import limits_for
from bot.settings import Backlog, load_settings
from bot.status import format_status, gather_status
from tests.botenv import BASE_TIME, Item, bot_env, run_main, write_feed
from tests.conftest import FakeClock
from tests.fakes.platform_server import FakePlatformServer


def test_a_feed_of_5000_new_items_queues_20_and_skips_the_rest_with_the_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    feed = write_feed(tmp_path / "feed.xml", [Item(n) for n in range(1, 5001)])
    env = bot_env(tmp_path, FEED_URLS=feed, DRY_RUN="true", PLATFORMS="twitter", BACKLOG="all")
    settings = load_settings(env, tmp_path)
    assert settings.max_new_per_feed == 20  # the default
    clock = FakeClock(BASE_TIME.timestamp())
    app = build_app(settings, clock=clock)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.engine"):
            report = app.engine.tick()
        status = gather_status(app.store, settings, clock())
    finally:
        app.close()
    assert report.feeds[0].new_stories == 20
    queued = sorted(d.story_url for d in report.deliveries)
    newest = sorted(f"https://news.example.com/story-{n}/" for n in range(1, 21))
    assert queued == newest  # the newest twenty (item n is n hours old)
    warnings = [r for r in caplog.records if "MAX_NEW_PER_FEED" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].skipped == 4980  # type: ignore[attr-defined]
    assert status["feeds"][0]["skipped_over_cap"] == 4980
    assert "4980 stories skipped: over MAX_NEW_PER_FEED" in format_status(status)

    # recorded as seen: a later poll posts none of them
    app = build_app(settings, clock=clock)
    try:
        clock.advance(3600)
        again = app.engine.tick(force=True)
        reasons = app.store.stories.skipped_by_feed("MAX_NEW_PER_FEED: over 20 new stories")
    finally:
        app.close()
    assert again.deliveries == [] and sum(reasons.values()) == 4980


def test_status_json_shows_the_count_through_the_cli(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed.xml", [Item(n) for n in range(1, 31)])
    env = bot_env(tmp_path, FEED_URLS=feed, DRY_RUN="true", PLATFORMS="twitter")
    env["MAX_NEW_PER_FEED"] = "5"
    assert run_main(["poll"], env, tmp_path).returncode == 0
    result = run_main(["status", "--json"], env, tmp_path)
    assert json.loads(result.stdout)["feeds"][0]["skipped_over_cap"] == 25


def test_max_new_per_feed_set_explicitly_lifts_or_removes_the_cap(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed.xml", [Item(n) for n in range(1, 31)])
    for value, expected in (("25", 25), ("0", 30)):
        folder = tmp_path / value
        folder.mkdir()
        env = bot_env(folder, FEED_URLS=feed, DRY_RUN="true", PLATFORMS="twitter")
        env["MAX_NEW_PER_FEED"] = value
        app = build_app(load_settings(env, folder), clock=FakeClock(BASE_TIME.timestamp()))
        try:
            assert app.engine.tick().feeds[0].new_stories == expected
        finally:
            app.close()


def test_every_platform_has_a_documented_nonzero_default_hourly_cap() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    for platform in ("twitter", "facebook", "instagram"):
        cap = limits_for(platform).hourly_cap
        assert cap and cap > 0
        assert f"{platform} {cap}" in readme  # the variable table names each default


def test_the_default_hourly_cap_holds_back_a_burst_and_the_explicit_value_overrides(
    tmp_path: Path,
) -> None:
    clock = FakeClock(BASE_TIME.timestamp())
    with FakePlatformServer(ig_in_progress_reads=0) as server:
        items = [Item(n, image_url=server.image_url("photo.jpg")) for n in range(1, 7)]
        feed = write_feed(tmp_path / "feed.xml", items)
        base = server.settings(
            feed_urls=(feed,),
            database_url=f"sqlite:///{tmp_path / 'bot.db'}",
            backlog=Backlog("all"),
            max_story_age=None,
        )
        app = build_app(base, clock=clock)
        try:
            app.engine.tick()
        finally:
            app.close()
        assert len(server.ig_media) == limits_for("instagram").hourly_cap == 4
        assert len(server.tweets) == len(server.fb_posts) == 6  # under their caps of 10
        explicit = replace(base, max_posts_per_hour=100)
        app = build_app(explicit, clock=clock)
        try:
            app.engine.tick()
        finally:
            app.close()
        assert len(server.ig_media) == 6


def test_pacing_names_the_rule_that_holds_a_post_back() -> None:
    pacing = Pacing(hourly_caps={"instagram": 2})
    now = 10_000.0
    wait = pacing.wait_until(now, now - 10, [now - 100, now - 10], platform="instagram")
    assert wait == (now - 100 + 3600, "the default of 2 posts an hour (set MAX_POSTS_PER_HOUR "
                    "to change it) reached")  # fmt: skip
    assert pacing.wait_until(now, now - 10, [now - 100, now - 10], platform="twitter") is None
    explicit = Pacing(max_per_hour=0, hourly_caps={"instagram": 2})  # 0: no cap at all
    assert explicit.wait_until(now, now - 10, [now - 100, now - 10], platform="instagram") is None
