"""One pipeline: `preview`, `post` and `poll` make the same decision about the same story.

A mixed feed, served over HTTP, goes through the three commands (main.py, black box) against the
fake platforms: a story with a picture and a name the handles file knows, one whose picture is
only on its article page (og:image), one with no picture anywhere, one far over every limit,
one each that the keyword filter, the category filter and MAX_STORY_AGE skip. For every story
and every configured platform, the text, the image and the decision (posted, or skipped and
why) must agree, and what reached the platforms must be what the commands printed.
"""

from __future__ import annotations

import html
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.botenv import Item, rss, run_main
from tests.fakes.feed_server import FeedServer
from tests.fakes.platform_server import FakePlatformServer
from tests.test_cli_post import PLATFORMS, json_lines, platform_env

NEWS = "https://news.example.com"
LONG = " ".join(["Diamond"] * 700)


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as s:
        yield s


@pytest.fixture
def pages() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def _page(pages: FeedServer, slug: str, image: str | None) -> str:
    og = f'<meta property="og:image" content="{image}">' if image else ""
    html = f"<html><head><title>{slug}</title>{og}</head><body>x</body></html>"
    pages.route(f"/articles/{slug}", body=html.encode(), content_type="text/html")
    return pages.url(f"/articles/{slug}")


def test_preview_post_and_poll_agree_on_every_story_and_platform(
    server: FakePlatformServer, pages: FeedServer, tmp_path: Path
) -> None:
    jpeg = server.image_url("photo.jpg")
    now = datetime.now(UTC)
    fresh = now - timedelta(hours=1)
    items = [
        Item(1, title="De Beers cuts rough prices", image_url=jpeg, published=fresh),
        Item(2, title="A story whose picture is on its page", image=False,
             link=_page(pages, "with-og", jpeg), published=fresh - timedelta(minutes=1)),
        Item(3, title="A story with no picture at all", image=False,
             link=_page(pages, "no-og", None), published=fresh - timedelta(minutes=2)),
        Item(4, title="Over-long " + LONG[:500], summary=LONG, image_url=jpeg,
             published=fresh - timedelta(minutes=3)),
        Item(5, title="Lab-grown prices fall again", image_url=jpeg,
             published=fresh - timedelta(minutes=4)),
        Item(6, title="An excluded category", categories=("Watches",), image_url=jpeg,
             published=fresh - timedelta(minutes=5)),
        Item(7, title="An old story", image_url=jpeg, published=now - timedelta(days=10)),
    ]  # fmt: skip
    pages.route("/feed.xml", body=rss(items).encode(), content_type="application/rss+xml")
    env = platform_env(
        server,
        tmp_path,
        pages.url("/feed.xml"),
        EXCLUDE_KEYWORDS="lab-grown",
        EXCLUDE_CATEGORIES="Watches",
        MAX_STORY_AGE="7d",
    )
    url_of = {it.n: it.link or f"{NEWS}/story-{it.n}/" for it in items}
    skipped = {5: "excluded keyword 'lab-grown'", 6: "excluded category 'Watches'",
               7: "older than MAX_STORY_AGE (7d)"}  # fmt: skip

    # preview: nothing is sent, nothing is recorded
    shown = run_main(["preview", "--json", "--limit", str(len(items))], env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    preview = {(r["platform"], r["story_url"]): r for r in json_lines(shown.stdout)}
    assert set(preview) == {(p, u) for p in PLATFORMS for u in url_of.values()}
    assert (server.tweets, server.fb_posts, server.ig_media) == ([], [], [])

    # poll: live, against the fake platforms
    polled = run_main(["poll", "--json"], env, tmp_path)
    assert polled.returncode == 0, polled.stderr
    poll = {(d["platform"], d["story_url"]): d for d in json_lines(polled.stdout)}
    decided = _story_records(tmp_path / "bot.db")

    # post: each story again, as a person would ask for it (dry run: nothing more is sent)
    post: dict[tuple[str, str], dict[str, Any]] = {}
    for url in url_of.values():
        asked = run_main(["post", url, "--dry-run", "--json"], env, tmp_path)
        assert asked.returncode == 0, asked.stderr
        post.update({(d["platform"], d["story_url"]): d for d in json_lines(asked.stdout)})

    for n, url in url_of.items():
        if n in skipped:  # the same skip decision, with the same reason, in all three
            reason = skipped[n]
            assert decided[url] == ("skipped", reason)
            assert not any(key[1] == url for key in poll)  # nothing queued, nothing sent
            for platform in PLATFORMS:
                row, line = preview[(platform, url)], post[(platform, url)]
                assert row["status"] == "skipped"
                assert f"the worker would skip this story: {reason}" in row["warnings"]
                assert line["note"].startswith(f"the worker skips this story ({reason})")
                assert (line["text"], line["image_url"]) == (row["text"], row["image_url"])
            continue
        assert decided[url] == ("queued", None)
        for platform in PLATFORMS:
            row, sent, line = (preview[(platform, url)], poll[(platform, url)],
                               post[(platform, url)])  # fmt: skip
            said = (row["text"], row["image_url"], row["link"])
            assert (sent["text"], sent["image_url"], sent["link"]) == said, (platform, n)
            assert (line["text"], line["image_url"], line["link"]) == said, (platform, n)
            live = {"dry_run": "published"}.get(row["status"], row["status"])
            assert sent["status"] == live and line["status"] == row["status"], (platform, n)

    # The cases are really there.
    assert "@DeBeersGroup" in preview[("twitter", url_of[1])]["text"]
    assert preview[("instagram", url_of[2])]["image_url"] == jpeg  # found on the article page
    assert preview[("instagram", url_of[3])]["status"] == "skipped"
    assert post[("instagram", url_of[3])]["error"] == "no image"
    assert poll[("instagram", url_of[3])]["error"] == "no image"
    long_x = preview[("twitter", url_of[4])]
    assert long_x["status"] == "dry_run" and long_x["length"] <= long_x["limit"] == 280
    # What reached the platforms is what the commands printed.
    published = [d for d in poll.values() if d["status"] == "published"]
    assert len(published) == 3 * 4 - 1  # four stories posted, Instagram skips the one
    assert sorted(_as_written(t) for t in server.tweets) == sorted(
        d["text"] for d in published if d["platform"] == "twitter"
    )
    assert sorted(m["caption"] for m in server.ig_media) == sorted(
        d["text"] for d in published if d["platform"] == "instagram"
    )
    assert len(server.fb_posts) == 4


def _as_written(tweet: dict[str, Any]) -> str:
    """A tweet's text as the bot wrote it: X stores it HTML-escaped with t.co links."""
    text = html.unescape(tweet["text"])
    for url in tweet["urls"]:
        text = text.replace(url["url"], url["expanded_url"], 1)
    return text


def _story_records(db: Path) -> dict[str, tuple[str, str | None]]:
    """What the worker recorded of each story: queued, or skipped and why."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT url, status, reason FROM stories").fetchall()
    return {url: (status, reason) for url, status, reason in rows}
