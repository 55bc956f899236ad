"""The delivery engine against the fake platforms: retries, rate limits, pauses, pacing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import time as clock_time
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.settings import Backlog, QuietHours, Secret, Settings
from tests.botenv import BASE_TIME, Item, write_feed
from tests.conftest import FakeClock
from tests.fakes.platform_server import FakePlatformServer, graph_error, x_problem


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as s:
        yield s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(BASE_TIME.timestamp())


def settings_for(
    server: FakePlatformServer, tmp: Path, items: list[Item], **kw: object
) -> Settings:
    for it in items:
        it.image_url = server.image_url("photo.jpg")
    feed = write_feed(tmp / "feed.xml", items)
    base = server.settings(
        feed_urls=(feed,),
        database_url=f"sqlite:///{tmp / 'bot.db'}",
        backlog=Backlog("all"),
        max_story_age=None,
        handles={"twitter": "@jckmagazine", "facebook": "", "instagram": "@jckmagazine"},
        retry_base_seconds=30.0,
        http_timeout=2.0,
    )
    return replace(base, **kw)


def tick(settings: Settings, clock: FakeClock) -> list[dict[str, object]]:
    app: App = build_app(settings, clock=clock)
    try:
        return [d.as_dict() for d in app.engine.tick().deliveries]
    finally:
        app.close()


def by_platform(rows: list[dict[str, object]], platform: str) -> list[dict[str, object]]:
    return [r for r in rows if r["platform"] == platform]


def published(rows: list[dict[str, object]]) -> int:
    return sum(1 for r in rows if r["status"] == "published")


def test_everything_published_once(server: FakePlatformServer, tmp_path: Path,
                                   clock: FakeClock) -> None:  # fmt: skip
    settings = settings_for(server, tmp_path, [Item(1), Item(2)])
    rows = tick(settings, clock)
    assert {r["status"] for r in rows} == {"published"}
    assert (len(server.tweets), len(server.fb_posts), len(server.ig_media)) == (2, 2, 2)
    assert all(r["remote_url"] for r in rows)
    clock.advance(600)
    assert tick(settings, clock) == []
    assert (len(server.tweets), len(server.fb_posts), len(server.ig_media)) == (2, 2, 2)


def test_429_defers_until_reset_with_at_most_one_extra_call(
    server: FakePlatformServer, tmp_path: Path, clock: FakeClock
) -> None:
    settings = settings_for(server, tmp_path, [Item(1), Item(2)])
    reset = int(time.time()) + 120
    headers = {"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"}
    body = x_problem(429, "Too Many Requests")
    server.fail("POST", "/2/tweets", status=429, body=body, headers=headers)
    rows = tick(settings, clock)
    twitter = by_platform(rows, "twitter")
    assert [r["status"] for r in twitter] == ["deferred", "queued"]  # the second is not tried
    assert twitter[0]["next_attempt_at"] is not None
    assert len(by_platform(rows, "facebook")) == 2  # others are not delayed
    assert len(server.requests_to("/2/tweets", "POST")) == 1
    clock.advance(60)  # before the reset: nothing is tried
    tick(settings, clock)
    assert len(server.requests_to("/2/tweets", "POST")) == 1
    clock.advance(70)  # after the reset
    rows = tick(settings, clock)
    assert [r["status"] for r in by_platform(rows, "twitter")] == ["published", "published"]
    assert len(server.requests_to("/2/tweets", "POST")) == 3  # one 429 + two posts
    assert len(server.tweets) == 2


def test_graph_throttling_defers(server: FakePlatformServer, tmp_path: Path,
                                 clock: FakeClock) -> None:  # fmt: skip
    settings = settings_for(server, tmp_path, [Item(1)], platforms=("facebook",))
    server.fail("POST", "*/feed", status=400, body=graph_error(32, "Page request limit reached"))
    [row] = tick(settings, clock)
    assert row["status"] == "deferred" and "limit" in str(row["error"])
    clock.advance(3 * 3600)
    [row] = tick(settings, clock)
    assert row["status"] == "published"
    assert len(server.fb_posts) == 1


def test_server_errors_then_success(server: FakePlatformServer, tmp_path: Path,
                                    clock: FakeClock) -> None:  # fmt: skip
    settings = settings_for(server, tmp_path, [Item(1)], platforms=("twitter",))
    server.fail("POST", "/2/tweets", status=503, body=x_problem(503, "Service Unavailable"),
                times=2)  # fmt: skip
    assert [r["status"] for r in tick(settings, clock)] == ["deferred"]
    clock.advance(3600)
    assert [r["status"] for r in tick(settings, clock)] == ["deferred"]
    clock.advance(3600)
    assert [r["status"] for r in tick(settings, clock)] == ["published"]
    assert len(server.tweets) == 1


def test_gives_up_after_max_attempts(server: FakePlatformServer, tmp_path: Path,
                                     clock: FakeClock) -> None:  # fmt: skip
    settings = settings_for(server, tmp_path, [Item(1)], platforms=("facebook",), max_attempts=2)
    body = graph_error(2, "Service temporarily unavailable")
    server.fail("POST", "*/feed", status=500, body=body, times=5)
    assert [r["status"] for r in tick(settings, clock)] == ["deferred"]
    clock.advance(3600)
    [row] = tick(settings, clock)
    assert row["status"] == "failed"
    assert row["error"] == "Service temporarily unavailable"


def test_rejection_fails_at_once_with_platform_message(
    server: FakePlatformServer, tmp_path: Path, clock: FakeClock
) -> None:
    settings = settings_for(server, tmp_path, [Item(1)], platforms=("facebook",))
    server.fail("POST", "*/feed", status=400, body=graph_error(100, "Invalid parameter"))
    [row] = tick(settings, clock)
    assert (row["status"], row["error"]) == ("failed", "Invalid parameter")


def test_timeout_after_the_post_landed_is_not_posted_twice(
    server: FakePlatformServer, tmp_path: Path, clock: FakeClock
) -> None:
    settings = settings_for(server, tmp_path, [Item(1)], platforms=("twitter", "facebook"),
                            http_timeout=1.0)  # fmt: skip
    server.hang("POST", "/2/tweets", seconds=5)
    server.hang("POST", "*/feed", seconds=5)
    rows = tick(settings, clock)
    server.release()
    assert {r["status"] for r in rows} == {"deferred"}
    assert (len(server.tweets), len(server.fb_posts)) == (1, 1)  # they did land
    clock.advance(3600)
    rows = tick(settings, clock)
    assert {r["status"] for r in rows} == {"published"}
    assert (len(server.tweets), len(server.fb_posts)) == (1, 1)  # found, not re-sent


def test_auth_error_pauses_one_platform_and_a_good_token_resumes_it(
    server: FakePlatformServer, tmp_path: Path, clock: FakeClock
) -> None:
    good = settings_for(server, tmp_path, [Item(1)])
    wrong = replace(good.section("twitter"), access_token_secret=Secret("wrong-secret"))
    bad = replace(good, sections={**good.sections, "twitter": wrong})
    rows = tick(bad, clock)
    assert [r["status"] for r in by_platform(rows, "twitter")] == ["queued"]
    assert "TWITTER_" in str(by_platform(rows, "twitter")[0]["error"])
    assert {r["status"] for r in rows if r["platform"] != "twitter"} == {"published"}
    app = build_app(bad, clock=clock)
    try:
        from bot.status import gather_status

        status = gather_status(app.store, bad, clock())
        assert status["platforms"]["twitter"]["paused"]
        assert status["platforms"]["twitter"]["queued"] == 1
    finally:
        app.close()
    clock.advance(600)
    tick(bad, clock)  # still bad: stays paused, nothing lost
    assert server.tweets == []
    clock.advance(600)
    rows = tick(good, clock)
    assert [r["status"] for r in by_platform(rows, "twitter")] == ["published"]
    assert len(server.tweets) == 1


def test_quiet_hours_hold_posts_until_the_window_ends(
    server: FakePlatformServer, tmp_path: Path, clock: FakeClock
) -> None:
    # BASE_TIME is 12:00 UTC: quiet from 11:00 to 13:00.
    settings = settings_for(server, tmp_path, [Item(1)], platforms=("facebook",),
                            quiet_hours=QuietHours(clock_time(11), clock_time(13)))  # fmt: skip
    [row] = tick(settings, clock)
    assert row["status"] == "queued"
    assert server.fb_posts == []
    clock.advance(3600 + 1)
    [row] = tick(settings, clock)
    assert row["status"] == "published"


def test_post_spacing_spreads_a_burst(server: FakePlatformServer, tmp_path: Path,
                                      clock: FakeClock) -> None:  # fmt: skip
    settings = settings_for(server, tmp_path, [Item(1), Item(2), Item(3)],
                            platforms=("facebook",), post_spacing=60.0)  # fmt: skip
    first = tick(settings, clock)
    assert sorted(r["status"] for r in first) == ["published", "queued", "queued"]
    clock.advance(30)
    assert tick(settings, clock) == []
    clock.advance(31)
    assert published(tick(settings, clock)) == 1
    clock.advance(61)
    assert published(tick(settings, clock)) == 1
    assert len(server.fb_posts) == 3  # spread out, none dropped


def test_max_posts_per_hour(server: FakePlatformServer, tmp_path: Path, clock: FakeClock) -> None:
    settings = settings_for(server, tmp_path, [Item(n) for n in range(1, 5)],
                            platforms=("facebook",), max_posts_per_hour=2)  # fmt: skip
    assert published(tick(settings, clock)) == 2
    clock.advance(1800)
    assert tick(settings, clock) == []
    clock.advance(1801)
    assert published(tick(settings, clock)) == 2
