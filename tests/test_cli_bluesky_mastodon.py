"""Bluesky and Mastodon through main.py, as a user meets them: a dry run that needs no
credentials, then poll, status, check, preview and post against the fakes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import regex

from bot.platforms.mastodon.instance import InstanceRules, length
from tests.botenv import Item, bot_env, run_main, write_feed
from tests.fakes.networks import NetworksServer
from tests.test_cli_post import json_lines

CJK = "钻石价格再次下跌，德比尔斯宣布新一轮降价措施，印度切割商减少采购" * 8
EMOJI = " ".join(["💎👨‍👩‍👧‍👦🇺🇸👍🏽"] * 40)
STORIES = [
    Item(1),
    Item(2, title=CJK, summary=CJK),
    Item(3, title=EMOJI, summary=EMOJI),
    Item(4, title="Long " + "word" * 400),
]


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


@pytest.fixture
def server() -> Iterator[NetworksServer]:
    with NetworksServer() as fake:
        yield fake


def network_env(server: NetworksServer, tmp: Path, **extra: str) -> dict[str, str]:
    stories = [Item(**{**vars(item), "image_url": server.image_url()}) for item in STORIES]
    feed = write_feed(tmp / "feed.xml", stories)
    values = {
        "FEED_URLS": feed,
        "BLUESKY_HANDLE": server.bsky_handle,
        "BLUESKY_APP_PASSWORD": server.bsky_password,
        "BLUESKY_SERVICE": server.base_url,
        "MASTODON_BASE_URL": server.base_url,
        "MASTODON_ACCESS_TOKEN": server.masto_token,
        "MAX_POSTS_PER_HOUR": "100",
    }
    return bot_env(tmp, **{**values, **extra})


def assert_within_limits(platform: str, text: str, story_url: str) -> None:
    if platform == "bluesky":
        assert graphemes(text) <= 300 and len(text.encode()) <= 3000, text
    else:
        assert length(text, InstanceRules()) <= 500, text
        assert story_url in text  # the link whole, never cut


def test_a_dry_run_needs_no_credentials_and_shows_every_story_on_both(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed.xml", STORIES)
    env = bot_env(tmp_path, FEED_URLS=feed, DRY_RUN="true", PLATFORMS="bluesky,mastodon")
    result = run_main(["poll", "--json"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    seen = {(line["platform"], line["story_url"]) for line in lines}
    expected = {
        (p, f"https://news.example.com/story-{n}/")
        for p in ("bluesky", "mastodon")
        for n in range(1, len(STORIES) + 1)
    }
    assert seen == expected
    assert {line["status"] for line in lines} == {"dry_run"}
    for line in lines:
        assert_within_limits(line["platform"], line["text"], line["story_url"])


def test_poll_posts_once_on_each_then_status_and_check_tell(
    server: NetworksServer, tmp_path: Path
) -> None:
    env = network_env(server, tmp_path)
    for _ in range(2):
        result = run_main(["poll", "--json"], env, tmp_path)
        assert result.returncode == 0, result.stderr
    assert len(server.bsky_posts) == len(STORIES) == len(server.masto_statuses)
    for made in server.bsky_posts:
        record = made["value"]
        card = record["embed"]["external"]
        assert card["uri"].startswith("https://news.example.com/story-")
        assert graphemes(record["text"]) <= 300
        assert "thumb" in card  # the story's picture, uploaded as a blob
    for status in server.masto_statuses:
        assert_within_limits("mastodon", status["text"], "https://news.example.com/story-")
        assert status["media_attachments"][0]["description"]
    posted = json.loads(run_main(["status", "--json"], env, tmp_path).stdout)
    for name in ("bluesky", "mastodon"):
        assert posted["platforms"][name]["published_total"] == len(STORIES)
    check = run_main(["check"], env, tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"bluesky: ok, posting as @{server.bsky_handle}" in check.stdout
    assert "mastodon: ok, posting as @jckmagazine" in check.stdout
    assert "instance: 500 characters a post, links count 23" in check.stdout


def test_check_names_the_variable_to_fix(server: NetworksServer, tmp_path: Path) -> None:
    env = network_env(
        server, tmp_path, BLUESKY_APP_PASSWORD="zzzz-zzzz-zzzz-zzzz", MASTODON_ACCESS_TOKEN="no"
    )
    result = run_main(["check"], env, tmp_path)
    assert result.returncode == 1
    assert "BLUESKY_APP_PASSWORD" in result.stdout and "MASTODON_ACCESS_TOKEN" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "zzzz-zzzz" not in result.stdout + result.stderr


def test_preview_and_post(server: NetworksServer, tmp_path: Path) -> None:
    env = network_env(server, tmp_path)
    page = (
        "<html><head><title>De Beers cuts prices</title>"
        '<meta property="og:title" content="De Beers cuts rough prices again">'
        '<meta property="og:description" content="The miner cut prices by 10%.">'
        f'<meta property="og:image" content="{server.image_url()}"></head><body></body></html>'
    )
    url = server.add_image("article.html", page.encode(), "text/html")  # the API's own host
    preview = run_main(["preview", "--json"], env, tmp_path)
    assert preview.returncode == 0, preview.stderr
    shown: list[dict[str, Any]] = json_lines(preview.stdout)
    assert {row["platform"] for row in shown} >= {"bluesky", "mastodon"}
    assert server.bsky_posts == [] and server.masto_statuses == []
    posted = run_main(["post", url, "--json"], env, tmp_path)
    assert posted.returncode == 0, posted.stderr
    rows = {row["platform"]: row for row in json_lines(posted.stdout)}
    assert rows["bluesky"]["status"] == rows["mastodon"]["status"] == "published"
    assert rows["bluesky"]["remote_url"].startswith("https://bsky.app/profile/")
    again = run_main(["post", url, "--json"], env, tmp_path)  # run twice, it posts once
    assert "already published on bluesky" in again.stderr
    assert "already published on mastodon" in again.stderr
    assert len(server.bsky_posts) == 1 and len(server.masto_statuses) == 1
    note = run_main(
        ["post", "--text", "Our office is closed on Friday.", "--platform", "mastodon"],
        env,
        tmp_path,
    )
    assert note.returncode == 0, note.stderr
    assert server.masto_statuses[-1]["text"] == "Our office is closed on Friday."


def test_a_dry_run_with_the_instance_at_hand_composes_for_its_limit(
    server: NetworksServer,
) -> None:
    import httpx

    from bot.platforms.mastodon.settings import MastodonSettings
    from bot.publishers import build_publishers
    from bot.settings import Settings
    from bot.settings_values import Secret

    server.masto_max_characters = 5000
    section = MastodonSettings(server.base_url, Secret(server.masto_token))
    settings = Settings(
        feed_urls=("file:///feed.xml",), platforms=("mastodon",), sections={"mastodon": section}
    )
    with httpx.Client() as http:
        dry = build_publishers(settings, dry_run=True, http=http)["mastodon"]
        live = build_publishers(settings, dry_run=False, http=http)["mastodon"]
        assert dry.limits.max_length == live.limits.max_length == 5000
    without = build_publishers(replace_sections(settings), dry_run=True, http=None)["mastodon"]
    assert without.limits.max_length == 500  # no instance known: Mastodon's default


def replace_sections(settings: Any) -> Any:
    from dataclasses import replace

    return replace(settings, sections={})
