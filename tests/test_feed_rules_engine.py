"""Three feeds, each with its own rules: which platforms, templates, hashtags and filters decide
each story's posts (checked per story and platform), and a story two feeds carry goes out once,
by the rules of the first feed listed."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_app, preview_posts
from bot.settings import load_settings
from bot.status import format_status, gather_status
from bot.store import Store
from tests.botenv import BASE_TIME, Item, bot_env, run_main, write_feed
from tests.conftest import FakeClock

PLATFORMS = "twitter,facebook,instagram"


def three_feeds(tmp: Path, *, events_first: bool = False) -> Path:
    """news (every platform, the default templates), jobs (Facebook only, only "Jobs"
    stories), events (its own X template and hashtags, no "sponsored" stories)."""
    news = write_feed(tmp / "news.xml", [Item(1, categories=("Diamonds",)), Item(2)])
    jobs = write_feed(
        tmp / "jobs.xml",
        [Item(10, categories=("Jobs",)), Item(11, categories=("Retail",))],
    )
    events = write_feed(
        tmp / "events.xml",
        [
            Item(20, categories=("Shows",)),
            Item(21, title="A sponsored message", categories=("Shows",)),
            Item(2),  # story 2 is in the news feed too
        ],
    )
    (tmp / "tpl").mkdir()
    (tmp / "tpl" / "events-x.txt").write_text("EVENT: {title} {hashtags} {url}\n")
    blocks = {
        "news": f'[[feeds]]\nname = "news"\nurl = "{news}"\n',
        "jobs": f'[[feeds]]\nname = "jobs"\nurl = "{jobs}"\nplatforms = ["facebook"]\n'
        'include_categories = ["Jobs"]\n',
        "events": f'[[feeds]]\nname = "events"\nurl = "{events}"\n'
        'hashtags = ["#JCKLasVegas"]\ntemplates = { twitter = "tpl/events-x.txt" }\n'
        'exclude_keywords = ["sponsored"]\nutm_campaign = "vegas"\n',
    }
    order = ["events", "news", "jobs"] if events_first else ["news", "jobs", "events"]
    path = tmp / "feeds.toml"
    path.write_text("\n".join(blocks[name] for name in order))
    return path


def tick(tmp: Path, clock: FakeClock, path: Path, **env: str) -> list[dict[str, Any]]:
    values = bot_env(tmp, DRY_RUN="true", PLATFORMS=PLATFORMS, FEEDS_FILE=str(path))
    values.update(env)
    app = build_app(load_settings(values, tmp), clock=clock)
    try:
        return [d.as_dict() for d in app.engine.tick().deliveries]
    finally:
        app.close()


def by_story(out: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for d in out:
        n = d["story_url"].rstrip("/").rsplit("-", 1)[1]
        found.setdefault(n, {})[d["platform"]] = d
    return found


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(BASE_TIME.timestamp())


def test_each_feeds_rules_decide_its_posts(tmp_path: Path, clock: FakeClock) -> None:
    out = tick(tmp_path, clock, three_feeds(tmp_path))
    posts = by_story(out)
    # news: every platform, the default templates, the story's own category tag
    assert set(posts["1"]) == {"twitter", "facebook", "instagram"}
    assert "#Diamonds" in posts["1"]["twitter"]["text"]
    assert "EVENT:" not in posts["1"]["twitter"]["text"]
    # jobs: Facebook only, and only the "Jobs" story (11 is filtered out)
    assert set(posts["10"]) == {"facebook"}
    assert "11" not in posts
    # events: its own X template, its hashtag first, its campaign; not the sponsored story
    x = posts["20"]["twitter"]["text"]
    assert x.startswith("EVENT: Story number 20 #JCKLasVegas #Shows")
    assert "utm_campaign=vegas" in x
    assert "EVENT:" not in posts["20"]["facebook"]["text"]  # no template of its own there
    assert "#JCKLasVegas" in posts["20"]["instagram"]["text"]
    assert "21" not in posts
    # story 2 is in news (listed first) and events: once per platform, by news' rules
    assert sorted(d["platform"] for d in out if d["story_url"].endswith("story-2/")) == [
        "facebook",
        "instagram",
        "twitter",
    ]
    assert "#JCKLasVegas" not in posts["2"]["twitter"]["text"]
    assert {d["status"] for d in out} == {"dry_run"}


def test_the_first_feed_listed_decides_a_shared_story(tmp_path: Path, clock: FakeClock) -> None:
    out = tick(tmp_path, clock, three_feeds(tmp_path, events_first=True))
    shared = [d for d in out if d["story_url"].endswith("story-2/")]
    assert len(shared) == 3  # once per platform
    assert all("#JCKLasVegas" in d["text"] for d in shared)
    assert by_story(out)["2"]["twitter"]["text"].startswith("EVENT: ")
    # the choice is recorded: the story row names the feed whose rules it followed
    values = bot_env(tmp_path, DRY_RUN="true", PLATFORMS=PLATFORMS)
    values["FEEDS_FILE"] = str(tmp_path / "feeds.toml")
    app = build_app(load_settings(values, tmp_path), clock=clock)
    try:
        found = app.store.stories.story_by_url("https://news.example.com/story-2/")
    finally:
        app.close()
    assert found is not None and found[1].feed_url.endswith("events.xml")


def test_a_shared_story_polled_again_later_is_not_posted_again(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = three_feeds(tmp_path)
    first = tick(tmp_path, clock, path)
    clock.advance(3600)
    write_feed(tmp_path / "events.xml", [Item(2), Item(22, categories=("Shows",))])
    again = tick(tmp_path, clock, path)
    assert len([d for d in first if d["story_url"].endswith("story-2/")]) == 3
    assert [d["story_url"] for d in again if d["platform"] == "twitter"] == [
        "https://news.example.com/story-22/"
    ]


def test_backlog_and_age_per_feed(tmp_path: Path, clock: FakeClock) -> None:
    old = write_feed(tmp_path / "old.xml", [Item(n) for n in range(30, 35)])
    hours = [(40, 1), (41, 2), (42, 4), (43, 5)]
    new = write_feed(
        tmp_path / "new.xml", [Item(n, published=BASE_TIME - timedelta(hours=h)) for n, h in hours]
    )
    path = tmp_path / "feeds.toml"
    path.write_text(
        f'[[feeds]]\nname = "old"\nurl = "{old}"\nbacklog = "skip"\n\n'
        f'[[feeds]]\nname = "new"\nurl = "{new}"\nbacklog = 3\nmax_story_age = "3h"\n'
    )
    out = tick(tmp_path, clock, path, BACKLOG="all", PLATFORMS="twitter", MAX_STORY_AGE="0")
    # old: skip on its first poll; new: the newest three, of which 42 is over 3 h old
    assert sorted(d["story_url"] for d in out) == [
        "https://news.example.com/story-40/",
        "https://news.example.com/story-41/",
    ]


def test_approval_per_feed(tmp_path: Path, clock: FakeClock) -> None:
    a = write_feed(tmp_path / "a.xml", [Item(1)])
    b = write_feed(tmp_path / "b.xml", [Item(2)])
    path = tmp_path / "feeds.toml"
    path.write_text(
        f'[[feeds]]\nname = "a"\nurl = "{a}"\napproval = true\n\n'
        f'[[feeds]]\nname = "b"\nurl = "{b}"\n'
    )
    out = tick(tmp_path, clock, path, PLATFORMS="twitter,facebook", APPROVAL="facebook")
    status = {(d["story_url"][-2], d["platform"]): d["status"] for d in out}
    assert status == {
        ("1", "twitter"): "pending_approval",
        ("1", "facebook"): "pending_approval",
        ("2", "twitter"): "dry_run",
        ("2", "facebook"): "pending_approval",  # APPROVAL's default
    }


def test_a_feeds_own_slots_hold_its_posts_until_its_next_slot_with_room(tmp_path: Path) -> None:
    clock = FakeClock(BASE_TIME.replace(hour=8).timestamp())
    column = write_feed(tmp_path / "column.xml", [Item(n) for n in (1, 2, 3)])
    news = write_feed(tmp_path / "news.xml", [Item(9)])
    path = tmp_path / "feeds.toml"
    path.write_text(
        f'[[feeds]]\nname = "column"\nurl = "{column}"\npost_slots = ["09:00", "17:00"]\n\n'
        f'[[feeds]]\nname = "news"\nurl = "{news}"\n'
    )
    values = bot_env(tmp_path, DRY_RUN="true", PLATFORMS="twitter", FEEDS_FILE=str(path))
    app = build_app(load_settings(values, tmp_path), clock=clock)
    try:
        report = app.engine.tick()
        first = report.deliveries
        held = sorted(
            app.store.deliveries.deliveries_for_stories(report.new_story_ids),
            key=lambda r: r.next_attempt_at,
        )
        clock.now = BASE_TIME.replace(hour=9).timestamp()
        at_nine = app.engine.tick(poll=False).deliveries
        clock.now = BASE_TIME.replace(hour=16, minute=59).timestamp()
        before_five = app.engine.tick(poll=False).deliveries
        clock.now = BASE_TIME.replace(hour=17).timestamp()
        at_five = app.engine.tick(poll=False).deliveries
    finally:
        app.close()
    assert [(d.story_url, d.status) for d in first if d.status == "dry_run"] == [
        ("https://news.example.com/story-9/", "dry_run")
    ]
    hours = [(r.post.story_url, r.next_attempt_at - BASE_TIME.replace(hour=0).timestamp())
             for r in held if r.post.story_url != "https://news.example.com/story-9/"]  # fmt: skip
    # oldest first: 09:00 today, 17:00 today, 09:00 tomorrow (one a slot)
    assert hours == [
        ("https://news.example.com/story-3/", 9 * 3600),
        ("https://news.example.com/story-2/", 17 * 3600),
        ("https://news.example.com/story-1/", 33 * 3600),
    ]
    assert [d.story_url for d in at_nine] == ["https://news.example.com/story-3/"]
    assert before_five == []
    assert [d.story_url for d in at_five] == ["https://news.example.com/story-2/"]


def test_status_groups_by_feed_with_its_platforms_and_schedule(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = three_feeds(tmp_path)
    path.write_text(
        path.read_text().replace('name = "jobs"', 'name = "jobs"\npoll_interval = "2h"')
    )
    tick(tmp_path, clock, path)
    values = bot_env(tmp_path, DRY_RUN="true", PLATFORMS=PLATFORMS, FEEDS_FILE=str(path))
    settings = load_settings(values, tmp_path)
    store = Store.open(settings.database_url)
    try:
        info = gather_status(store, settings, clock.now)
    finally:
        store.close()
    feeds = {f["name"]: f for f in info["feeds"]}
    assert list(feeds) == ["news", "jobs", "events"]
    assert (feeds["jobs"]["platforms"], feeds["jobs"]["schedule"]) == (["facebook"], "every 2h")
    assert feeds["jobs"]["deliveries"] == {"facebook": {"dry_run": 1}}
    assert feeds["news"]["deliveries"]["twitter"] == {"dry_run": 2}  # 1, and 2 (shared)
    assert feeds["events"]["deliveries"]["twitter"] == {"dry_run": 1}  # 20 only
    text = format_status(info)
    assert f"  jobs  {feeds['jobs']['url']}  [ok]" in text
    assert "    polls every 2h; posts to facebook\n    facebook: 1 dry run" in text


def test_preview_post_and_poll_follow_the_storys_feed(tmp_path: Path, clock: FakeClock) -> None:
    path = three_feeds(tmp_path)
    values = bot_env(tmp_path, DRY_RUN="true", PLATFORMS=PLATFORMS, FEEDS_FILE=str(path))
    settings = load_settings(values, tmp_path)
    shown = preview_posts(settings, url=None, platforms=[], limit=20, now=clock.now).rows
    rows = {(r["story_url"].rstrip("/").rsplit("-", 1)[1], r["platform"]): r for r in shown}
    assert {k for k in rows if k[0] == "10"} == {("10", "facebook")}  # jobs: Facebook only
    assert rows[("11", "facebook")]["status"] == "skipped"  # jobs' category filter
    assert rows[("21", "twitter")]["status"] == "skipped"  # events' keyword filter
    assert len([k for k in rows if k[0] == "2"]) == 3  # once, for news (listed first)
    polled = by_story(tick(tmp_path, clock, path))
    for (n, platform), row in rows.items():
        if row["status"] == "dry_run":  # preview shows exactly what goes out
            assert polled[n][platform]["text"] == row["text"], (n, platform)
    only = preview_posts(
        settings, url=None, platforms=[], limit=20, now=clock.now, feed="events"
    ).rows
    assert {r["story_url"] for r in only} == {
        f"https://news.example.com/story-{n}/" for n in (2, 20, 21)
    }


def test_post_url_feed_name_chooses_the_rules(tmp_path: Path, clock: FakeClock) -> None:
    path = three_feeds(tmp_path)
    tick(tmp_path, clock, path)  # story 1 is known, from news
    env = bot_env(tmp_path, DRY_RUN="true", PLATFORMS=PLATFORMS, FEEDS_FILE=str(path))
    url = "https://news.example.com/story-1/"
    own = run_main(["post", url, "--dry-run", "--json"], env, tmp_path)
    chosen = run_main(["post", url, "--feed", "events", "--dry-run", "--json"], env, tmp_path)
    jobs = run_main(["post", url, "--feed", "JOBS", "--dry-run", "--json"], env, tmp_path)
    wrong = run_main(["post", url, "--feed", "sport", "--dry-run"], env, tmp_path)
    assert own.returncode == chosen.returncode == jobs.returncode == 0, own.stderr + chosen.stderr
    texts = {json.loads(x)["platform"]: json.loads(x)["text"] for x in own.stdout.splitlines()}
    assert "EVENT:" not in texts["twitter"] and "#JCKLasVegas" not in texts["instagram"]
    texts = {json.loads(x)["platform"]: json.loads(x)["text"] for x in chosen.stdout.splitlines()}
    assert texts["twitter"].startswith("EVENT: Story number 1 #JCKLasVegas")
    assert [json.loads(x)["platform"] for x in jobs.stdout.splitlines()] == ["facebook"]
    assert wrong.returncode == 2
    assert "--feed 'sport' is no feed of this bot (feeds: news, jobs, events)" in wrong.stderr


def test_status_judges_staleness_by_the_feeds_own_schedules(tmp_path: Path) -> None:
    path = tmp_path / "feeds.toml"
    path.write_text(
        '[[feeds]]\nname = "a"\nurl = "https://a.example.com/f"\npoll_interval = "2h"\n'
        '[[feeds]]\nname = "b"\nurl = "https://b.example.com/f"\npoll_cron = "0 */6 * * *"\n'
    )
    env = bot_env(tmp_path, FEEDS_FILE=str(path), DRY_RUN="true", POLL_INTERVAL="10m")
    settings = load_settings(env, tmp_path)
    store = Store.open(settings.database_url)
    try:
        now = BASE_TIME.timestamp()
        store.platforms.set_meta("last_poll_at", repr(now - 3600))  # fine for a 2-hourly feed
        info = gather_status(store, settings, now)
    finally:
        store.close()
    assert info["poll_period_seconds"] == 7200.0
    assert not [r for r in info["reasons"] if "poll" in r["message"]], info["reasons"]
