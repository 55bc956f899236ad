"""Scheduled manual posts (`post --at`) with an injected clock: the worker's ticks send them.

The command only queues a scheduled post, as an ordinary delivery due at its time; the worker
sends it under the same pacing as every other post. Here the app is built in-process with a
FakeClock, and each tick is the worker's (`engine.tick(poll=False)`), so time passes without
sleeping, and the fake platforms count what arrived.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App, build_app
from bot.errors import ConfigError
from bot.imaging.fit import fit_image
from bot.manual import ManualRequest, manual_post
from bot.platforms.facebook.adapter import FACEBOOK_SPEC
from bot.platforms.twitter.adapter import X_SPEC
from bot.post_time import parse_at
from bot.settings import Backlog, QuietHours, Settings
from tests.botenv import BASE_TIME, Item, write_feed
from tests.conftest import FakeClock
from tests.fakes.images import jpeg_bytes
from tests.fakes.platform_server import FakePlatformServer

HOUR = 3600.0


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as s:
        yield s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(BASE_TIME.timestamp())  # 12:00 UTC


def settings_for(server: FakePlatformServer, tmp: Path, **kw: object) -> Settings:
    sections = {"instagram": None} | {k: kw.pop(k) for k in ("facebook",) if k in kw}
    base = server.settings(
        feed_urls=(write_feed(tmp / "feed.xml", [Item(1)]),),
        database_url=f"sqlite:///{tmp / 'bot.db'}",
        platforms=("twitter", "facebook"),
        **sections,
        backlog=Backlog("all"),
        max_story_age=None,
        http_timeout=2.0,
    )
    return replace(base, **kw)


def tick(app: App) -> None:
    app.engine.tick(poll=False)


def test_a_scheduled_post_goes_out_once_when_due_and_not_in_quiet_hours(
    server: FakePlatformServer, tmp_path: Path, clock: FakeClock
) -> None:
    # Quiet from 14:00 to 15:00; the post is due at 14:30, inside them.
    quiet = QuietHours(clock_time(14), clock_time(15))
    app = build_app(settings_for(server, tmp_path, quiet_hours=quiet), clock=clock)
    try:
        words = "Doors open at the Javits Center"
        at = clock() + 2.5 * HOUR
        result = manual_post(app, ManualRequest(text=words, at=at), clock=clock)
        assert result.exit_code == 0
        assert {r.status for r in result.reports} == {"queued"}
        assert {r.next_attempt_at for r in result.reports} == {at}
        assert (len(server.tweets), len(server.fb_posts)) == (0, 0)

        for step in (0, HOUR, 1.4 * HOUR):  # 12:00, 13:00, 14:24: not due yet
            clock.now = BASE_TIME.timestamp() + step
            tick(app)
            assert (len(server.tweets), len(server.fb_posts)) == (0, 0), step
        clock.now = at  # 14:30: due, but in the quiet hours
        tick(app)
        clock.advance(0.4 * HOUR)  # 14:54: still quiet
        tick(app)
        assert (len(server.tweets), len(server.fb_posts)) == (0, 0)
        clock.now = BASE_TIME.timestamp() + 3 * HOUR  # 15:00: the quiet hours are over
        tick(app)
        assert [t["input_text"] for t in server.tweets] == [words]
        assert [p["message"] for p in server.fb_posts] == [words]
        for _ in range(3):  # and never again
            clock.advance(HOUR)
            tick(app)
        assert (len(server.tweets), len(server.fb_posts)) == (1, 1)
    finally:
        app.close()


def test_a_scheduled_picture_from_a_file_is_sent_from_the_store(
    server: FakePlatformServer, tmp_path: Path, clock: FakeClock
) -> None:
    photo = tmp_path / "floor.jpg"
    photo.write_bytes(jpeg_bytes(min_size=2048))
    app = build_app(settings_for(server, tmp_path), clock=clock)
    try:
        request = ManualRequest(text="Later, a picture", image=str(photo), at=clock() + HOUR)
        assert manual_post(app, request, clock=clock).exit_code == 0
        data = photo.read_bytes()
        photo.unlink()  # the file is gone by the time the worker sends it
        clock.advance(HOUR)
        tick(app)
        [tweet] = server.tweets
        assert server.media[tweet["media_ids"][0]]["bytes"] == fit_image(data, X_SPEC).body
        [fb] = server.fb_posts
        assert server.fb_photos[fb["photo_id"]] == fit_image(data, FACEBOOK_SPEC).body
    finally:
        app.close()


def test_post_url_at_schedules_the_story(
    server: FakePlatformServer, tmp_path: Path, clock: FakeClock
) -> None:
    settings = settings_for(server, tmp_path, platforms=("twitter",), facebook=None)
    app = build_app(settings, clock=clock)
    try:
        app.engine.tick()  # the feed's story 1 is recorded and posted
        assert len(server.tweets) == 1
        server.tweets.clear()
        story = "https://news.example.com/story-1/"
        request = ManualRequest(url=story, force=True, at=clock() + HOUR, text=f"Again {story}")
        result = manual_post(app, request, clock=clock)
        assert [r.status for r in result.reports] == ["queued"]
        tick(app)
        assert server.tweets == []
        clock.advance(HOUR)
        tick(app)
        assert [t["input_text"] for t in server.tweets] == [f"Again {story}"]
    finally:
        app.close()


def test_a_dry_run_records_nothing(
    server: FakePlatformServer, tmp_path: Path, clock: FakeClock
) -> None:
    app = build_app(settings_for(server, tmp_path), clock=clock)
    try:
        request = ManualRequest(text="Only a rehearsal", at=clock() + HOUR, dry_run=True)
        result = manual_post(app, request, clock=clock)
        assert {r.status for r in result.reports} == {"dry_run"}
        clock.advance(2 * HOUR)
        tick(app)
        assert (len(server.tweets), len(server.fb_posts)) == (0, 0)
        assert app.store.stories.story_count() == 0
    finally:
        app.close()


# --- parse_at ----------------------------------------------------------------------------------

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC).timestamp()
NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+2h", NOW + 7200),
        ("+90m", NOW + 5400),
        ("+1h30m", NOW + 5400),
        ("+1d", NOW + 86400),
        ("2026-12-06 09:00", datetime(2026, 12, 6, 14, 0, tzinfo=UTC).timestamp()),  # EST
        ("2026-12-06T09:00", datetime(2026, 12, 6, 14, 0, tzinfo=UTC).timestamp()),
        ("2026-12-06 09:00:30", datetime(2026, 12, 6, 14, 0, 30, tzinfo=UTC).timestamp()),
        ("2026-12-06T09:00:00+01:00", datetime(2026, 12, 6, 8, 0, tzinfo=UTC).timestamp()),
        ("2026-12-06T09:00:00Z", datetime(2026, 12, 6, 9, 0, tzinfo=UTC).timestamp()),
        ("2027-07-06 09:00", datetime(2027, 7, 6, 13, 0, tzinfo=UTC).timestamp()),  # EDT
    ],
)
def test_parse_at_reads_the_three_spellings(raw: str, expected: float) -> None:
    assert parse_at(raw, NOW, NY) == expected


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("tomorrow", "not a time"),
        ("+soon", "not a delay"),
        ("2026-12-05 06:00", "in the past"),  # 11:00 UTC, an hour ago
        ("2027-03-14 02:30", "does not exist"),  # New York springs forward at 2:00
        ("2027-11-07 01:30", "ambiguous"),  # and falls back: 1:30 happens twice
    ],
)
def test_parse_at_refuses_what_it_cannot_read_for_sure(raw: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        parse_at(raw, NOW, NY)


def test_a_cancelled_scheduled_post_never_goes_out_and_queue_shows_it(
    server: FakePlatformServer, tmp_path: Path, clock: FakeClock
) -> None:
    from bot.queue_control import cancel, show_queue

    app = build_app(settings_for(server, tmp_path), clock=clock)
    try:
        at = clock() + HOUR
        keep = manual_post(app, ManualRequest(text="This one goes out", at=at), clock=clock)
        drop = manual_post(app, ManualRequest(text="This one is pulled", at=at), clock=clock)
        shown = show_queue(app.store, clock())
        titles = {r["id"]: r["title"] for r in shown.records}
        for report in keep.reports + drop.reports:
            assert report.delivery_id in titles  # `queue` lists every scheduled delivery
        assert titles[drop.reports[0].delivery_id] == "This one is pulled"
        for report in drop.reports:
            assert cancel(app.store, str(report.delivery_id), now=clock()).exit_code == 0
        clock.advance(HOUR)
        tick(app)
        clock.advance(HOUR)
        tick(app)
        assert [t["input_text"] for t in server.tweets] == ["This one goes out"]
        assert [p["message"] for p in server.fb_posts] == ["This one goes out"]
        # The same command again reports the cancelled post and sends nothing (exit 1: it is
        # not out and will not be); --force is the way to post it after all.
        again = manual_post(app, ManualRequest(text="This one is pulled"), clock=clock)
        assert {r.status for r in again.reports} == {"cancelled"} and again.exit_code == 1
        assert len(server.tweets) == 1
    finally:
        app.close()
