"""preview in process: the warnings say what the worker would do with each story."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.app import preview_posts
from bot.settings import load_settings
from bot.settings_reach import ImageSettings, Reach
from tests.botenv import BASE_TIME, Item, bot_env, write_feed
from tests.fakes.platform_server import FakePlatformServer


def test_preview_warns_when_the_worker_would_skip_a_story(tmp_path: Path) -> None:
    url = write_feed(tmp_path / "feed.xml", [Item(1, title="Lab-grown prices fall"), Item(2)])
    env = bot_env(tmp_path, FEED_URLS=url, DRY_RUN="true", PLATFORMS="facebook",
                  EXCLUDE_KEYWORDS="lab-grown")  # fmt: skip
    settings = load_settings(env, tmp_path)
    rows = preview_posts(settings, url=None, platforms=[], limit=5, now=BASE_TIME.timestamp()).rows
    by_title = {r["title"]: r for r in rows}
    assert any("would skip" in w for w in by_title["Lab-grown prices fall"]["warnings"])
    assert not any("would skip" in w for w in by_title["Story number 2"]["warnings"])


def test_preview_plans_with_the_limits_the_worker_uses(tmp_path: Path) -> None:
    """With title cards Instagram takes a story without a picture (the worker posts a card), so
    the preview must not announce it as skipped: it plans with the publishers' own limits under
    these settings, not the platform's defaults."""
    with FakePlatformServer(ig_in_progress_reads=0) as server:
        settings = server.settings(
            platforms=("instagram",),
            feed_urls=(write_feed(tmp_path / "feed.xml", [Item(1, image=False)]),),
            database_url=f"sqlite:///{tmp_path / 'bot.db'}",
            max_story_age=None,
        )
        images = ImageSettings(image_host="facebook", title_card=True, brand_name="JCK")
        settings = replace(settings, reach=Reach(images=images))
        [row] = preview_posts(settings, url=None, platforms=[], limit=5,
                              now=BASE_TIME.timestamp()).rows  # fmt: skip
    assert row["platform"] == "instagram" and row["image_url"] is None
    assert row["status"] != "skipped" and not any("no image" in w for w in row["warnings"])
