"""`post URL`: a manual post through main.py, black box, against the fake X/Graph server.

Each test drives `python main.py post ...` the way a user's script would (an env dict, nothing
inherited) and checks exit codes, stdout and stderr, and what reached the fake platforms. The
servers are shared by the module; every test uses its own article pages (distinct titles, so the
fake X never sees duplicate text) and its own database.

The helpers here (`platform_env`, `Articles`, `posts_for`, `json_lines`) are reused by the other
test_cli_* modules and by test_secrets.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

import pytest

from tests.botenv import Item, bot_env, run_main, write_feed
from tests.fakes.feed_server import FeedServer
from tests.fakes.platform_server import FakePlatformServer, graph_error, x_problem

PLATFORMS = ("twitter", "facebook", "instagram")
JSON_KEYS = {
    "platform",
    "story_url",
    "status",
    "text",
    "link",
    "image_url",
    "remote_id",
    "remote_url",
    "error",
}


# --- helpers shared by the CLI tests ------------------------------------------------------------


def platform_env(
    server: FakePlatformServer, tmp: Path, feed: str | None = None, **extra: str
) -> dict[str, str]:
    """Credentials of every platform pointing at `server`; FEED_URLS set (else: the demo)."""
    c = server.x_credentials
    values = {
        "FEED_URLS": feed or write_feed(tmp / "empty.xml", []),
        "TWITTER_API_KEY": c.consumer_key,
        "TWITTER_API_SECRET": c.consumer_secret,
        "TWITTER_ACCESS_TOKEN": c.access_token,
        "TWITTER_ACCESS_TOKEN_SECRET": c.access_token_secret,
        "TWITTER_API_BASE_URL": server.base_url,
        "FACEBOOK_PAGE_ID": server.page_id,
        "FACEBOOK_PAGE_ACCESS_TOKEN": server.page_token,
        "INSTAGRAM_USER_ID": server.ig_user_id,
        "GRAPH_API_BASE_URL": server.base_url,
        "HTTP_TIMEOUT": "10s",
        "RETRY_BASE_SECONDS": "1",
    }
    if server.ig_token:
        values["INSTAGRAM_ACCESS_TOKEN"] = server.ig_token
    values.update(extra)
    return bot_env(tmp, **values)


class Articles:
    """Article pages with Open Graph tags, served by a local FeedServer."""

    def __init__(self, pages: FeedServer, server: FakePlatformServer) -> None:
        self.pages = pages
        self.server = server

    def page(
        self,
        slug: str,
        *,
        title: str | None = None,
        description: str | None = None,
        image: str | None = "default",
    ) -> tuple[str, str]:
        """(page URL to post, canonical story URL the page declares)."""
        canonical = f"https://news.example.com/{slug}/"
        image_url = self.server.image_url() if image == "default" else image
        tags = [
            f'<meta property="og:title" content="{escape(title or f"Headline of {slug}")}">',
            '<meta property="og:description" content="'
            f'{escape(description or f"What happened in {slug}.")}">',
            f'<link rel="canonical" href="{canonical}">',
        ]
        if image_url:
            tags.append(f'<meta property="og:image" content="{image_url}">')
        html = f"<html><head><title>ignored</title>{''.join(tags)}</head><body>x</body></html>"
        path = f"/articles/{slug}"
        self.pages.route(path, body=html.encode(), content_type="text/html; charset=utf-8")
        return self.pages.url(path), canonical


def posts_for(server: FakePlatformServer, story_url: str) -> dict[str, int]:
    """How many posts of this story each fake platform holds."""
    tweets = [t for t in server.tweets if any(u["expanded_url"] == story_url for u in t["urls"])]
    return {
        "twitter": len(tweets),
        "facebook": sum(
            1 for p in server.fb_posts if p["link"] == story_url or story_url in p["message"]
        ),
        "instagram": sum(1 for m in server.ig_media if story_url in m["caption"]),
    }


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def post_requests(server: FakePlatformServer) -> int:
    return sum(1 for r in server.requests if r.method == "POST")


@pytest.fixture(scope="module")
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as s:
        yield s


@pytest.fixture(scope="module")
def pages() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


@pytest.fixture
def articles(pages: FeedServer, server: FakePlatformServer) -> Iterator[Articles]:
    yield Articles(pages, server)
    server.faults.clear()  # a failed test must not leave its faults to the next one


# --- the tests ----------------------------------------------------------------------------------


def test_post_publishes_everywhere_prints_urls_then_refuses_a_repeat_unless_forced(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    url, story = articles.page("post-everywhere", title="Tiffany opens a Fifth Avenue atelier")
    env = platform_env(server, tmp_path)

    first = run_main(["post", url], env, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert posts_for(server, story) == {"twitter": 1, "facebook": 1, "instagram": 1}
    tweet = next(t for t in server.tweets if "Fifth Avenue" in t["input_text"])
    assert tweet["input_text"].startswith("Tiffany opens a Fifth Avenue atelier")
    fb = next(p for p in server.fb_posts if p["link"] == story)
    assert fb["message"].startswith("Tiffany opens a Fifth Avenue atelier")
    for platform in PLATFORMS:
        assert f"[{platform}] published" in first.stdout
    assert f"https://x.com/{server.x_username}/status/{tweet['id']}" in first.stdout
    assert fb["id"] in first.stdout
    assert "https://www.instagram.com/p/" in first.stdout

    again = run_main(["post", url, "--json"], env, tmp_path)
    assert again.returncode == 1
    lines = json_lines(again.stdout)
    assert {line["platform"] for line in lines} == set(PLATFORMS)
    for line in lines:
        assert line["status"] == "skipped"
        assert "already published" in line["error"] and "--force" in line["error"]
        assert line["remote_url"]  # where the earlier post is
    assert "already published" in again.stderr  # the human-readable word too
    assert posts_for(server, story) == {"twitter": 1, "facebook": 1, "instagram": 1}

    # Instagram has no duplicate check: a forced post really is a second post.
    forced = run_main(["post", url, "--force", "--platform", "instagram", "--json"], env, tmp_path)
    assert forced.returncode == 0, forced.stderr
    [line] = json_lines(forced.stdout)
    assert line["status"] == "published" and line["error"] is None
    assert line["remote_url"].startswith("https://www.instagram.com/p/")
    assert posts_for(server, story) == {"twitter": 1, "facebook": 1, "instagram": 2}


def test_force_on_x_with_the_same_text_says_nothing_new_was_posted(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    url, story = articles.page("x-duplicate", title="Signet sells its Zales outlets")
    env = platform_env(server, tmp_path, PLATFORMS="twitter")
    server.x_refuse_duplicates = True  # X's own refusal, switched on for this test only
    assert run_main(["post", url], env, tmp_path).returncode == 0
    forced = run_main(["post", url, "--force", "--json"], env, tmp_path)
    [line] = json_lines(forced.stdout)
    assert "duplicate" in line["error"] and "--text" in line["error"]
    assert posts_for(server, story)["twitter"] == 1
    other = run_main(
        ["post", url, "--force", "--json", "--text", f"Signet news {story}"], env, tmp_path
    )
    assert other.returncode == 0, other.stderr
    assert posts_for(server, story)["twitter"] == 2
    server.x_refuse_duplicates = False


def test_text_too_long_for_x_is_a_usage_error_showing_the_weighted_length(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    url, _ = articles.page("too-long")
    env = platform_env(server, tmp_path)
    before = post_requests(server)
    result = run_main(["post", url, "--platform", "twitter", "--text", "x" * 301], env, tmp_path)
    assert result.returncode == 2
    assert "weighted length 301" in result.stderr and "280" in result.stderr
    # CJK counts double on X: 141 of them weigh 282.
    cjk = run_main(["post", url, "--platform", "twitter", "--text", "钻" * 141], env, tmp_path)
    assert cjk.returncode == 2 and "weighted length 282" in cjk.stderr
    assert post_requests(server) == before


def test_text_replaces_the_composed_text(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    url, story = articles.page("own-words")
    env = platform_env(server, tmp_path)
    text = f"Our own words on the De Beers auction {story}"
    result = run_main(
        ["post", url, "--platform", "twitter", "--platform", "facebook", "--text", text, "--json"],
        env,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    assert [line["platform"] for line in lines] == ["twitter", "facebook"]
    assert all(line["text"] == text for line in lines)
    assert any(t["input_text"] == text for t in server.tweets)
    fb = next(p for p in server.fb_posts if p["message"] == text)
    assert fb["link"] == story  # the link still goes beside the text
    assert posts_for(server, story)["instagram"] == 0  # not requested


def test_unknown_platform_is_a_usage_error(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    url, _ = articles.page("unknown-platform")
    result = run_main(
        ["post", url, "--platform", "mastodon"], platform_env(server, tmp_path), tmp_path
    )
    assert result.returncode == 2
    assert "--platform" in result.stderr
    assert result.stdout == ""


def test_platform_not_configured_is_a_config_error(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    url, _ = articles.page("not-configured")
    env = platform_env(server, tmp_path, PLATFORMS="twitter")
    result = run_main(["post", url, "--platform", "instagram"], env, tmp_path)
    assert result.returncode == 2
    assert "instagram" in result.stderr and "not configured" in result.stderr


def test_no_platform_configured_is_a_config_error(articles: Articles, tmp_path: Path) -> None:
    url, _ = articles.page("nothing-configured")
    env = bot_env(tmp_path, FEED_URLS=write_feed(tmp_path / "feed.xml", []))
    result = run_main(["post", url], env, tmp_path)
    assert result.returncode == 2
    assert "no platform is configured" in result.stderr


def test_dry_run_sends_nothing_and_records_nothing(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    url, story = articles.page("dry-run-first")
    env = platform_env(server, tmp_path)
    before = post_requests(server)
    dry = run_main(["post", url, "--dry-run", "--json"], env, tmp_path)
    assert dry.returncode == 0, dry.stderr
    lines = json_lines(dry.stdout)
    assert {line["platform"] for line in lines} == set(PLATFORMS)
    for line in lines:
        assert set(line) >= JSON_KEYS
        assert line["status"] == "dry_run"
        assert line["story_url"] == story
        assert line["image_url"] == server.image_url()
        assert line["remote_id"] is None
    assert next(x for x in lines if x["platform"] == "facebook")["link"] == story
    assert next(x for x in lines if x["platform"] == "twitter")["link"] is None
    assert post_requests(server) == before
    assert posts_for(server, story) == {"twitter": 0, "facebook": 0, "instagram": 0}

    real = run_main(["post", url, "--json"], env, tmp_path)  # not refused: nothing was recorded
    assert real.returncode == 0, real.stderr
    assert {line["status"] for line in json_lines(real.stdout)} == {"published"}
    assert posts_for(server, story) == {"twitter": 1, "facebook": 1, "instagram": 1}


def test_a_post_rejected_for_good_exits_1_with_the_platforms_message(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    url, story = articles.page("rejected")
    env = platform_env(server, tmp_path)
    server.fail(
        "POST", "*/feed", status=400, body=graph_error(100, "(#100) Param link is not a valid URL")
    )
    result = run_main(
        ["post", url, "--platform", "facebook", "--platform", "twitter"], env, tmp_path
    )
    assert result.returncode == 1
    assert "[facebook] failed" in result.stdout
    assert "(#100) Param link is not a valid URL" in result.stdout
    assert "[twitter] published" in result.stdout  # the other platform is not held back
    assert posts_for(server, story)["twitter"] == 1
    as_json = run_main(["post", url, "--platform", "facebook", "--json"], env, tmp_path)
    # The failed delivery is recorded failed, not published: a new attempt is allowed and works.
    assert as_json.returncode == 0, as_json.stderr
    assert posts_for(server, story)["facebook"] == 1


def test_a_transient_failure_is_retried_within_the_run(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    url, story = articles.page("transient")
    env = platform_env(server, tmp_path, PLATFORMS="twitter")
    server.fail("POST", "/2/tweets", status=503, body=x_problem(503, "Service Unavailable"))
    result = run_main(["post", url, "--json"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    [line] = json_lines(result.stdout)
    assert line["status"] == "published"
    assert line["remote_url"].startswith(f"https://x.com/{server.x_username}/status/")
    assert line["error"] is None  # the earlier 503 is not reported as this post's error
    assert posts_for(server, story)["twitter"] == 1
    assert len(server.requests_to("/2/tweets", "POST")) >= 2


def test_a_rate_limit_is_reported_deferred_without_sleeping(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    url, story = articles.page("rate-limited")
    env = platform_env(server, tmp_path, PLATFORMS="twitter")
    reset = int(time.time()) + 900
    server.fail(
        "POST",
        "/2/tweets",
        status=429,
        body=x_problem(429, "Too Many Requests"),
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)},
    )
    started = time.monotonic()
    result = run_main(["post", url, "--json"], env, tmp_path, timeout=60)
    assert time.monotonic() - started < 20
    assert result.returncode == 1
    [line] = json_lines(result.stdout)
    assert line["status"] == "deferred"
    assert line["next_attempt_at"]
    assert posts_for(server, story)["twitter"] == 0


def test_a_story_known_from_the_feed_needs_no_article_page(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    image = server.image_url()
    feed = write_feed(
        tmp_path / "feed.xml", [Item(901, title="Known from the feed", image_url=image)]
    )
    env = platform_env(server, tmp_path, feed, BACKLOG="skip")  # recorded, not posted
    assert run_main(["poll"], env, tmp_path).returncode == 0
    story = "https://news.example.com/story-901/"
    assert posts_for(server, story) == {"twitter": 0, "facebook": 0, "instagram": 0}
    # news.example.com is never contacted: the story comes from the store (tracking stripped).
    result = run_main(["post", story + "?utm_source=newsletter", "--json"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = json_lines(result.stdout)
    assert {line["story_url"] for line in lines} == {story}
    assert all(line["text"].startswith("Known from the feed") for line in lines)
    assert posts_for(server, story) == {"twitter": 1, "facebook": 1, "instagram": 1}


def test_an_article_that_cannot_be_fetched_is_a_clear_error(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    missing = articles.pages.url("/articles/no-such-page")
    result = run_main(["post", missing], platform_env(server, tmp_path), tmp_path)
    assert result.returncode == 2
    assert "no-such-page" in result.stderr and "404" in result.stderr
