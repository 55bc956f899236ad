"""preview in process: the warnings say what the worker would do with each story."""

from __future__ import annotations

from pathlib import Path

from bot.app import preview_posts
from bot.settings import load_settings
from tests.botenv import BASE_TIME, Item, bot_env, write_feed


def test_preview_warns_when_the_worker_would_skip_a_story(tmp_path: Path) -> None:
    url = write_feed(tmp_path / "feed.xml", [Item(1, title="Lab-grown prices fall"), Item(2)])
    env = bot_env(tmp_path, FEED_URLS=url, DRY_RUN="true", PLATFORMS="facebook",
                  EXCLUDE_KEYWORDS="lab-grown")  # fmt: skip
    settings = load_settings(env, tmp_path)
    rows = preview_posts(settings, url=None, platforms=[], limit=5, now=BASE_TIME.timestamp()).rows
    by_title = {r["title"]: r for r in rows}
    assert any("would skip" in w for w in by_title["Lab-grown prices fall"]["warnings"])
    assert not any("would skip" in w for w in by_title["Story number 2"]["warnings"])
