"""The whole path in dry run: feed -> store -> compose -> dry-run publisher, in process."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.settings import load_settings
from tests.botenv import BASE_TIME, Item, bot_env, run_main, write_feed
from tests.conftest import FakeClock

PLATFORMS = ("twitter", "facebook", "instagram")


def make_app(tmp: Path, clock: FakeClock, **env: str) -> App:
    values = bot_env(tmp, DRY_RUN="true", PLATFORMS="twitter,facebook,instagram")
    values.update(env)
    settings = load_settings(values, tmp)
    return build_app(settings, clock=clock)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(BASE_TIME.timestamp())


def tick(tmp: Path, clock: FakeClock, **env: str) -> list[dict[str, object]]:
    app = make_app(tmp, clock, **env)
    try:
        report = app.engine.tick()
    finally:
        app.close()
    return [d.as_dict() for d in report.deliveries]


def test_backlog_skip_posts_nothing_first_then_only_new(tmp_path: Path, clock: FakeClock) -> None:
    feed = tmp_path / "feed.xml"
    url = write_feed(feed, [Item(n) for n in range(1, 6)])
    assert tick(tmp_path, clock, FEED_URLS=url, BACKLOG="skip") == []
    write_feed(feed, [Item(n) for n in range(0, 6)])  # story 0 is new
    clock.advance(600)
    out = tick(tmp_path, clock, FEED_URLS=url, BACKLOG="skip")
    assert {(d["platform"], d["story_url"]) for d in out} == {
        (p, "https://news.example.com/story-0/") for p in PLATFORMS
    }
    assert {d["status"] for d in out} == {"dry_run"}


def test_backlog_latest_n_posts_the_newest(tmp_path: Path, clock: FakeClock) -> None:
    url = write_feed(tmp_path / "feed.xml", [Item(n) for n in range(1, 6)])
    out = tick(tmp_path, clock, FEED_URLS=url, BACKLOG="latest:2")
    urls = {d["story_url"] for d in out}
    assert urls == {"https://news.example.com/story-1/", "https://news.example.com/story-2/"}


def test_backlog_all_posts_everything_once(tmp_path: Path, clock: FakeClock) -> None:
    url = write_feed(tmp_path / "feed.xml", [Item(n) for n in range(1, 6)])
    out = tick(tmp_path, clock, FEED_URLS=url, BACKLOG="all")
    assert len(out) == 5 * 3
    clock.advance(600)
    assert tick(tmp_path, clock, FEED_URLS=url, BACKLOG="all") == []


def test_identity_survives_edits_and_second_feed(tmp_path: Path, clock: FakeClock) -> None:
    a, b = tmp_path / "a.xml", tmp_path / "b.xml"
    url_a = write_feed(a, [Item(1)])
    url_b = write_feed(b, [Item(7)])
    feeds = f"{url_a},{url_b}"
    assert len(tick(tmp_path, clock, FEED_URLS=feeds)) == 6
    # Edited title, re-dated, tracking parameters on the link; and the same story in feed b.
    write_feed(
        a,
        [
            Item(
                1,
                title="Story number 1 (updated)",
                published=BASE_TIME + timedelta(hours=3),
                link="https://news.example.com/story-1/?utm_source=rss&utm_medium=x",
            )
        ],
    )
    write_feed(b, [Item(7), Item(70, link="https://news.example.com/story-1/#comments",
                                 guid="other-guid-for-the-same-story")])  # fmt: skip
    clock.advance(600)
    assert tick(tmp_path, clock, FEED_URLS=feeds) == []


def test_burst_of_five_all_queued(tmp_path: Path, clock: FakeClock) -> None:
    feed = tmp_path / "feed.xml"
    url = write_feed(feed, [Item(100)])
    tick(tmp_path, clock, FEED_URLS=url, BACKLOG="skip")
    write_feed(feed, [Item(n) for n in (100, 1, 2, 3, 4, 5)])
    clock.advance(600)
    out = tick(tmp_path, clock, FEED_URLS=url, BACKLOG="skip", PLATFORMS="twitter")
    assert sorted(d["story_url"] for d in out) == [
        f"https://news.example.com/story-{n}/" for n in (1, 2, 3, 4, 5)
    ]


def test_max_story_age_skips_old_stories_with_reason(tmp_path: Path, clock: FakeClock) -> None:
    url = write_feed(tmp_path / "feed.xml",
                     [Item(1), Item(2, published=BASE_TIME - timedelta(days=5))])  # fmt: skip
    app = make_app(tmp_path, clock, FEED_URLS=url, MAX_STORY_AGE="2d", PLATFORMS="twitter")
    try:
        out = app.engine.tick().deliveries
        assert [d.story_url for d in out] == ["https://news.example.com/story-1/"]
        assert app.store.stories.story_by_url("https://news.example.com/story-2/") is not None
        events = app.store.stories.story_events(app.store.stories.story_by_url(
            "https://news.example.com/story-2/")[0])  # fmt: skip
        assert any("older than MAX_STORY_AGE (2d)" in (e["detail"] or "") for e in events)
    finally:
        app.close()


def test_filters_skip_with_reason(tmp_path: Path, clock: FakeClock) -> None:
    url = write_feed(tmp_path / "feed.xml", [
        Item(1, title="Lab-grown prices fall"), Item(2, categories=("Sponsored",)), Item(3),
    ])  # fmt: skip
    out = tick(tmp_path, clock, FEED_URLS=url, PLATFORMS="twitter",
               EXCLUDE_KEYWORDS="lab-grown", EXCLUDE_CATEGORIES="sponsored")  # fmt: skip
    assert [d["story_url"] for d in out] == ["https://news.example.com/story-3/"]


def test_instagram_story_without_image_is_skipped_not_failed(
    tmp_path: Path, clock: FakeClock
) -> None:
    url = write_feed(tmp_path / "feed.xml", [Item(1, image=False)])
    out = tick(tmp_path, clock, FEED_URLS=url)
    by_platform = {d["platform"]: d for d in out}
    assert by_platform["instagram"]["status"] == "skipped"
    assert by_platform["instagram"]["error"] == "no image"
    assert by_platform["twitter"]["status"] == "dry_run"


JSON_KEYS = {"platform", "story_url", "status", "text", "link", "image_url", "remote_id",
             "remote_url", "error"}  # fmt: skip


def test_poll_json_lines_and_no_repeat_across_processes(tmp_path: Path) -> None:
    url = write_feed(tmp_path / "feed.xml", [Item(1), Item(2)])
    env = bot_env(tmp_path, FEED_URLS=url, DRY_RUN="true", PLATFORMS="twitter,facebook,instagram")
    first = run_main(["poll", "--json"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    assert len(lines) == 6
    for line in lines:
        assert set(line) >= JSON_KEYS
        assert line["platform"] in PLATFORMS
        assert line["status"] == "dry_run"
    facebook = [x for x in lines if x["platform"] == "facebook"]
    assert all(x["link"] == x["story_url"] for x in facebook)
    second = run_main(["poll", "--json"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout == ""


def test_poll_exit_1_when_a_feed_fails(tmp_path: Path) -> None:
    good = write_feed(tmp_path / "feed.xml", [Item(1)])
    missing = (tmp_path / "missing.xml").as_uri()
    env = bot_env(tmp_path, FEED_URLS=f"{good} {missing}", DRY_RUN="true", PLATFORMS="twitter")
    result = run_main(["poll", "--json"], env, tmp_path)
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 1  # the good feed still went through
    assert "missing.xml" in result.stderr
