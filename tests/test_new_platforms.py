"""No platform, no poll; and a platform added to a store that already has stories.

Driven through main.py the way a new user meets it: the state `.env.example` gives (no
credentials, empty PLATFORMS, DRY_RUN=false) must not use up the feed's stories.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.platforms import registry
from tests.botenv import Item, bot_env, run_main, write_feed
from tests.test_cli_post import json_lines

STORIES = 5


def _feed(tmp: Path) -> str:
    return write_feed(tmp / "feed.xml", [Item(n) for n in range(1, STORIES + 1)])


def _status(env: dict[str, str], tmp: Path) -> dict[str, Any]:
    result = run_main(["status", "--json"], env, tmp)
    return json.loads(result.stdout)


def test_no_platform_no_poll_then_a_dry_run_brings_every_story_out(tmp_path: Path) -> None:
    env = bot_env(tmp_path, FEED_URLS=_feed(tmp_path), DRY_RUN="false", PLATFORMS="")
    for command in (["poll"], ["poll", "--json"], ["run"]):
        result = run_main(command, env, tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        assert "Traceback" not in result.stderr
        [line] = [x for x in result.stderr.splitlines() if x.startswith("error:")]  # one line
        assert "no platform is configured" in line
        assert "DRY_RUN=true" in line and "PLATFORMS=" in line
        assert result.stdout == ""
    # Nothing was recorded: the same store then brings every story out.
    assert not (tmp_path / "bot.db").exists()
    dry = run_main(["poll", "--json"], {**env, "DRY_RUN": "true", "PLATFORMS": "twitter"}, tmp_path)
    assert dry.returncode == 0, dry.stderr
    lines = json_lines(dry.stdout)
    assert len(lines) == STORIES
    assert {(line["platform"], line["status"]) for line in lines} == {("twitter", "dry_run")}


def test_a_dry_run_without_credentials_nor_platforms_shows_every_platform(tmp_path: Path) -> None:
    env = bot_env(tmp_path, FEED_URLS=_feed(tmp_path), DRY_RUN="true")
    result = run_main(["poll", "--json"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    assert {line["platform"] for line in lines} == set(registry.names())


def _two_step(tmp_path: Path, backlog: str | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Poll with X only, then with X and Facebook: what Facebook gets of the five stories."""
    env = bot_env(tmp_path, FEED_URLS=_feed(tmp_path), DRY_RUN="true", PLATFORMS="twitter")
    first = run_main(["poll", "--json"], env, tmp_path)
    assert first.returncode == 0 and len(json_lines(first.stdout)) == STORIES, first.stderr
    later = {**env, "PLATFORMS": "twitter,facebook"}
    if backlog is not None:
        later["NEW_PLATFORM_BACKLOG"] = backlog
    second = run_main(["poll", "--json"], later, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "facebook is new to this store" in second.stderr
    third = run_main(["poll", "--json"], later, tmp_path)  # once only
    assert json_lines(third.stdout) == [] and "is new" not in third.stderr
    return json_lines(second.stdout), _status(later, tmp_path)


def test_a_platform_added_later_skips_the_stories_seen_before_by_default(tmp_path: Path) -> None:
    lines, status = _two_step(tmp_path, None)
    assert lines == []  # no flood
    facebook = status["platforms"]["facebook"]
    assert facebook["skipped"] == STORIES and facebook["dry_run_total"] == 0
    assert facebook["added_to_store"]["backlog"] == "skip"
    assert (facebook["added_to_store"]["queued"], facebook["added_to_store"]["skipped"]) == (0, 5)
    assert status["platforms"]["twitter"]["added_to_store"] is None  # there from the start
    text = run_main(["status"], bot_env(tmp_path, FEED_URLS=_feed(tmp_path)), tmp_path).stdout
    assert "NEW_PLATFORM_BACKLOG=skip (0 earlier stories to post, 5 skipped)" in text


def test_latest_n_gives_a_new_platform_the_newest_stories(tmp_path: Path) -> None:
    lines, status = _two_step(tmp_path, "latest:2")
    assert {line["platform"] for line in lines} == {"facebook"}
    # Items 1 and 2 are the newest (Item n is n hours before BASE_TIME).
    assert sorted(line["story_url"] for line in lines) == [
        "https://news.example.com/story-1/",
        "https://news.example.com/story-2/",
    ]
    added = status["platforms"]["facebook"]["added_to_store"]
    assert (added["backlog"], added["queued"], added["skipped"]) == ("latest:2", 2, 3)


def test_all_gives_a_new_platform_every_story_within_max_story_age(tmp_path: Path) -> None:
    lines, status = _two_step(tmp_path, "all")
    assert len(lines) == STORIES and {line["status"] for line in lines} == {"dry_run"}
    assert status["platforms"]["facebook"]["added_to_store"]["queued"] == STORIES


def test_all_leaves_out_stories_older_than_max_story_age(tmp_path: Path) -> None:
    from datetime import timedelta

    from bot.models import Post
    from bot.platform_backlog import admit_new_platforms
    from bot.settings_values import Backlog
    from bot.store import NewDelivery, Store
    from tests.botenv import BASE_TIME
    from tests.test_store import story

    store = Store.open(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        for n in (1, 2, 3):  # one, two and three days old
            old = story(n, published=BASE_TIME - timedelta(days=n))
            news = [NewDelivery("twitter", Post("twitter", f"t{n}", story_url=old.url))]
            store.stories.add_story(
                old, BASE_TIME.timestamp(), status="queued", new_deliveries=news
            )
        store.platforms.set_known_platforms({"twitter"})
        [added] = admit_new_platforms(
            store.platforms,
            store.stories,
            ["twitter", "facebook"],
            backlog=Backlog("all"),
            max_age=2.5 * 86400,
            now=BASE_TIME.timestamp(),
            compose=lambda s, name: NewDelivery(name, Post(name, s.title, story_url=s.url)),
        )
        assert (added.platform, added.queued, added.skipped) == ("facebook", 2, 1)
        rows = [d for sid in (1, 2, 3) for d in store.deliveries.deliveries_for_story(sid)]
        facebook = {
            d.post.story_url: (d.status, d.reason) for d in rows if d.platform == "facebook"
        }
        assert facebook["https://example.com/story-3/"][0] == "skipped"
        assert store.platforms.known_platforms() == {"twitter", "facebook"}
        assert admit_new_platforms(store.platforms, store.stories, ["twitter", "facebook"],
                                   backlog=Backlog("all"), max_age=None, now=0.0,
                                   compose=None) == []  # type: ignore[arg-type]  # fmt: skip
    finally:
        store.close()
