"""Crash safety on Bluesky and Mastodon: SIGKILL after the network recorded the post, then
restart; and a stream of random kills. The bot runs as a real process against the fakes (in
this test process); the test counts what the networks received.

Bluesky finds the post by the record key the attempt kept; Mastodon replays the request with the
Idempotency-Key the attempt kept, and the instance answers with the status that key made.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.botenv import Item, bot_env, run_main, write_feed
from tests.fakes.networks import NetworksServer
from tests.test_crash import CRASH_SETTINGS, kill_at_random, kill_once_posted_then_restart, tally


@pytest.fixture
def server() -> Iterator[NetworksServer]:
    with NetworksServer() as s:
        yield s


def env_for(server: NetworksServer, tmp: Path, feed: str, **extra: str) -> dict[str, str]:
    return bot_env(
        tmp,
        FEED_URLS=feed,
        BLUESKY_HANDLE=server.bsky_handle,
        BLUESKY_APP_PASSWORD=server.bsky_password,
        BLUESKY_SERVICE=server.base_url,
        MASTODON_BASE_URL=server.base_url,
        MASTODON_ACCESS_TOKEN=server.masto_token,
        **{**CRASH_SETTINGS, **extra},
    )


def _story(text: str, record: dict[str, Any]) -> str:
    card = ((record.get("embed") or {}).get("external") or {}).get("uri") or ""
    found = re.findall(r"https://news\.example\.com/story-\d+/", f"{text} {card}")
    return found[0] if found else text[:40]


MADE: dict[str, Callable[[NetworksServer], list[dict[str, Any]]]] = {
    "bluesky": lambda s: s.bsky_posts,
    "mastodon": lambda s: s.masto_statuses,
}
EFFECT = {"bluesky": "/xrpc/com.atproto.repo.putRecord", "mastodon": "/api/v1/statuses"}


def counts(server: NetworksServer) -> dict[str, Counter[str]]:
    return {
        "bluesky": Counter(_story(p["value"]["text"], p["value"]) for p in server.bsky_posts),
        "mastodon": Counter(_story(s["text"], {}) for s in server.masto_statuses),
    }


@pytest.mark.parametrize("platform", ["bluesky", "mastodon"])
def test_kill_after_the_post_was_made_then_restart(
    server: NetworksServer, tmp_path: Path, platform: str
) -> None:
    feed = write_feed(tmp_path / "feed.xml", [Item(1, image_url=server.image_url())])
    env = env_for(server, tmp_path, feed, PLATFORMS=platform)
    made = MADE[platform]
    post = EFFECT[platform]
    kill_once_posted_then_restart(server, "POST", post, lambda: len(made(server)), env, tmp_path)


def test_random_kills_during_a_stream_of_stories(server: NetworksServer, tmp_path: Path) -> None:
    feed_path = tmp_path / "feed.xml"
    items = [Item(n, image_url=server.image_url()) for n in range(1, 13)]
    feed = write_feed(feed_path, items[:4])
    env = env_for(server, tmp_path, feed, POLL_INTERVAL="1s", PLATFORMS="bluesky,mastodon")
    server.latency = 0.03
    kills = kill_at_random(
        env, tmp_path, (feed_path, items), runs=20, first=4, seed=20261205, longest=2.0
    )
    server.latency = 0.0
    write_feed(feed_path, items)
    for _ in range(3):
        result = run_main(["poll"], env, tmp_path)
        assert result.returncode == 0, result.stderr
    per_platform = counts(server)
    expected = {f"https://news.example.com/story-{n}/" for n in range(1, 13)}
    duplicates, lost = tally(per_platform, expected)
    print(
        f"\nkills={kills} " + ", ".join(f"{p}={sum(c.values())}" for p, c in per_platform.items())
    )
    assert kills >= 15
    assert duplicates == {"bluesky": {}, "mastodon": {}}
    assert lost == {"bluesky": set(), "mastodon": set()}
