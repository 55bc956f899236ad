"""Dry run = live: a `dry_run` line means a live run would post it, and every other verdict
(skipped, deferred, failed) is the one the live run records, story by story and platform by
platform. Driven through main.py against the fake platforms, on two stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botenv import Item, run_main, write_feed
from tests.fakes.platform_server import FakePlatformServer
from tests.test_cli_post import json_lines, platform_env

LIVE_NAME = {"dry_run": "published"}
PLATFORMS = ("twitter", "facebook", "instagram")


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0, ig_quota_total=2) as s:
        yield s


def test_a_mixed_feed_gets_the_same_verdicts_in_a_dry_run_and_live(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    jpeg, png = server.image_url("photo.jpg"), server.image_url("photo.png")
    long_words = " ".join(["Diamond"] * 900)
    items = [
        Item(6, title="A JPEG story", image_url=jpeg),
        Item(5, title="A PNG story", image_url=png),  # Instagram takes JPEG only
        Item(4, title="No image at all", image=False, link=server.image_url("page.html")),
        Item(3, title="Over-long " + long_words[:400], summary=long_words, image_url=jpeg),
        Item(2, title="One post over the quota", image_url=jpeg),  # Instagram: 2 a day here
        Item(1, title="Waits behind it", image_url=jpeg),
    ]
    feed = write_feed(tmp_path / "feed.xml", items)
    env = platform_env(server, tmp_path, feed, BACKLOG="all")

    dry = run_main(["poll", "--dry-run", "--json"], {**env, "DATABASE_URL": _db(tmp_path, "dry")},
                   tmp_path)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert (server.tweets, server.fb_posts, server.ig_media) == ([], [], [])  # nothing sent
    assert server.ig_quota_usage == 0
    live = run_main(["poll", "--json"], {**env, "DATABASE_URL": _db(tmp_path, "live")}, tmp_path)
    assert live.returncode == 0, live.stderr

    said = {(d["platform"], d["story_url"]): d for d in json_lines(dry.stdout)}
    done = {(d["platform"], d["story_url"]): d for d in json_lines(live.stdout)}
    assert set(said) == set(done) and len(said) == 3 * len(items)
    for key, line in said.items():
        assert LIVE_NAME.get(line["status"], line["status"]) == done[key]["status"], (key, line)
    # The cases are really there: the verdicts are not all "posted".
    instagram = {url: done[("instagram", url)]["status"] for _, url in done if _ == "instagram"}
    assert sorted(instagram.values()) == [
        "deferred", "published", "published", "queued", "skipped", "skipped"
    ]  # fmt: skip
    png_line = said[("instagram", "https://news.example.com/story-5/")]
    assert png_line["status"] == "skipped" and "image/png" in png_line["error"]
    over = said[("instagram", "https://news.example.com/story-2/")]  # oldest first: 6, 3, 2
    assert over["status"] == "deferred" and "quota" in over["error"]
    assert said[("instagram", server.image_url("page.html"))]["status"] == "skipped"
    long_story = "https://news.example.com/story-3/"  # the composer fits it: posted everywhere
    assert {said[(p, long_story)]["status"] for p in PLATFORMS} == {"dry_run"}
    assert len(server.ig_media) == 2 and len(server.tweets) == len(items)


def _db(tmp: Path, name: str) -> str:
    return f"sqlite:///{tmp / f'{name}.db'}"


def test_without_credentials_the_image_is_checked_where_it_lives(
    server: FakePlatformServer,
) -> None:
    """The demo's dry run has no token: the image itself is still probed (HEAD); only when its
    host cannot be reached now does the URL's own suffix decide (a live run would retry)."""
    import httpx

    from bot.errors import Unsuitable
    from bot.models import Post
    from bot.platforms.instagram.adapter import InstagramPublisher

    def check(url: str) -> None:
        InstagramPublisher.offline_checks(Post("instagram", "Hi", image_url=url), http)

    with httpx.Client(timeout=2) as http:
        check(server.image_url("photo.jpg"))
        renamed = server.add_image("really-a-png.jpg", server.images["photo.png"][0], "image/png")
        with pytest.raises(Unsuitable, match="image/png"):
            check(renamed)
        unreachable = "http://127.0.0.1:9/photos/ring"
        check(unreachable + ".jpg")
        with pytest.raises(Unsuitable, match=r"\.png image is not a JPEG"):
            check(unreachable + ".png")
