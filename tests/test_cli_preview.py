"""`preview [URL]`: the posts the bot would make, shown; nothing published, nothing marked seen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botenv import Item, run_main, write_feed
from tests.fakes.feed_server import FeedServer
from tests.fakes.platform_server import FakePlatformServer
from tests.test_cli_post import PLATFORMS, Articles, json_lines, platform_env, posts_for


@pytest.fixture(scope="module")
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as s:
        yield s


@pytest.fixture(scope="module")
def articles(server: FakePlatformServer) -> Iterator[Articles]:
    with FeedServer() as pages:
        yield Articles(pages, server)


def test_preview_of_the_feed_publishes_nothing_and_a_later_poll_still_posts(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    image = server.image_url()
    # Story 812 has no image in the feed; its article page has an og:image, as the engine uses.
    page_url, _ = articles.page("story-812-page", title="Story number 812")
    items = [
        Item(811, title="Pearl prices at a ten-year high", image_url=image),
        Item(812, image=False, link=page_url),
    ]
    feed = write_feed(tmp_path / "feed.xml", items)
    # The article pages' loopback server stands for a public site.
    env = platform_env(server, tmp_path, feed, BACKLOG="all", ALLOW_PRIVATE_NETWORKS="true")
    before = len(server.requests)

    result = run_main(["preview", "--json"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json_lines(result.stdout)
    # Nothing was published: only the reads a live run makes before sending (image, quota).
    reads = server.requests[before:]
    assert {r.method for r in reads} <= {"GET", "HEAD"}
    assert {r.path.rsplit("/", 1)[-1] for r in reads if r.method == "GET"} <= {
        "content_publishing_limit",  # Instagram's quota
        "photo.jpg",  # the image, read as the live run reads it before posting
    }
    assert {r["status"] for r in rows} == {"dry_run"}  # a live run posts every one
    assert {(r["platform"], r["story_url"]) for r in rows} == {
        (p, u) for p in PLATFORMS for u in ("https://news.example.com/story-811/", page_url)
    }
    for row in rows:
        assert 0 < row["length"] <= row["limit"]
        assert (
            row["limit"] == {"twitter": 280, "facebook": 63206, "instagram": 2200}[row["platform"]]
        )
        assert row["warnings"] == []
        assert row["image_url"] == image  # 812's comes from its article page
    assert next(r for r in rows if r["platform"] == "facebook")["link"] is not None

    poll = run_main(["poll", "--json"], env, tmp_path)
    assert poll.returncode == 0, poll.stderr
    published = json_lines(poll.stdout)
    assert {d["status"] for d in published} == {"published"}
    assert len(published) == 6
    # What was previewed is exactly what was posted.
    previewed = {(r["platform"], r["story_url"]): r["text"] for r in rows}
    assert {(d["platform"], d["story_url"]): d["text"] for d in published} == previewed
    assert posts_for(server, "https://news.example.com/story-811/") == dict.fromkeys(PLATFORMS, 1)


def test_preview_of_an_article_page_shows_length_image_and_warnings(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    url, story = articles.page("no-image-article", title="Lab-grown sales slow", image=None)
    env = platform_env(server, tmp_path)
    before = len(server.requests)
    result = run_main(["preview", url], env, tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "== instagram == Lab-grown sales slow" in out
    assert "-- image: none" in out
    assert "/280 (weighted)" in out and "/2200" in out
    assert "-- warning: no image: instagram will skip this story" in out
    assert f"-- link: {story}" in out  # Facebook's link beside the text
    as_json = run_main(["preview", url, "--platform", "twitter", "--json"], env, tmp_path)
    [row] = json_lines(as_json.stdout)
    assert row["platform"] == "twitter" and row["story_url"] == story
    assert row["text"].startswith("Lab-grown sales slow") and story in row["text"]
    assert row["length"] == len(row["text"]) - len(story) + 23  # X counts a link as 23
    assert row["limit"] == 280 and row["weighted"] is True
    assert len(server.requests) == before
    # Marks nothing: the same page can still be posted.
    posted = run_main(["post", url, "--platform", "twitter"], env, tmp_path)
    assert posted.returncode == 0, posted.stdout + posted.stderr


def test_preview_of_a_known_story_needs_no_article_page(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    feed = write_feed(
        tmp_path / "feed.xml", [Item(813, title="Known story", image_url=server.image_url())]
    )
    env = platform_env(server, tmp_path, feed, BACKLOG="skip")
    assert run_main(["poll"], env, tmp_path).returncode == 0
    # news.example.com cannot be reached: only the store can answer.
    result = run_main(["preview", "https://news.example.com/story-813/", "--json"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert {r["title"] for r in json_lines(result.stdout)} == {"Known story"}


def test_preview_of_an_unreachable_page_is_a_clear_error(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    missing = articles.pages.url("/articles/gone")
    result = run_main(["preview", missing], platform_env(server, tmp_path), tmp_path)
    assert result.returncode == 2
    assert "/articles/gone" in result.stderr and "404" in result.stderr


def test_preview_names_each_unreadable_feed_and_exits_1(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    good = write_feed(tmp_path / "feed.xml", [Item(814, image_url=server.image_url())])
    broken = tmp_path / "broken.xml"
    broken.write_text("<html><body>Not a feed</body></html>", encoding="utf-8")
    missing = articles.pages.url("/feeds/missing.xml")
    env = platform_env(server, tmp_path, f"{good} {broken.as_uri()} {missing}")
    result = run_main(["preview", "--platform", "twitter", "--json"], env, tmp_path)
    assert result.returncode == 1
    [row] = json_lines(result.stdout)  # the readable feed is still shown, stdout stays JSON
    assert row["story_url"] == "https://news.example.com/story-814/"
    errors = result.stderr.splitlines()
    assert len(errors) == 2, result.stderr
    assert errors[0].startswith(f"feed {broken.as_uri()} could not be read: ")
    assert errors[1].startswith(f"feed {missing} could not be read: ") and "404" in errors[1]
    assert all(line.endswith("(check it in FEED_URLS)") for line in errors)
    assert "Traceback" not in result.stderr
