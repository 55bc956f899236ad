"""Crash safety on Bluesky and Mastodon: SIGKILL after the network recorded the post, then
restart; and a stream of random kills. The bot runs as a real process against the fakes (in
this test process); the test counts what the networks received.

Bluesky finds the post by the record key the attempt kept; Mastodon replays the request with the
Idempotency-Key the attempt kept, and the instance answers with the status that key made.
"""

from __future__ import annotations

import random
import re
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.botenv import Item, bot_env, run_main, write_feed
from tests.fakes.http_fake import RecordedRequest, Reply
from tests.fakes.networks import NetworksServer
from tests.test_crash import spawn, wait_until


class SlowNetworks(NetworksServer):
    """The networks' fakes, every answer `latency` late, so kills land inside API calls."""

    latency = 0.0

    def handle(self, request: RecordedRequest) -> Reply:
        if self.latency:
            time.sleep(self.latency)
        return super().handle(request)


@pytest.fixture
def server() -> Iterator[SlowNetworks]:
    with SlowNetworks() as s:
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
        **{
            "HTTP_TIMEOUT": "10s",
            "MAX_POSTS_PER_HOUR": "10000",
            "MAX_NEW_PER_FEED": "10000",
            **extra,
        },
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
    server: SlowNetworks, tmp_path: Path, platform: str
) -> None:
    feed = write_feed(tmp_path / "feed.xml", [Item(1, image_url=server.image_url())])
    env = env_for(server, tmp_path, feed, PLATFORMS=platform)
    made = MADE[platform]
    server.hang("POST", EFFECT[platform], seconds=60)  # recorded, then the answer never comes
    proc = spawn(["poll"], env, tmp_path)
    try:
        assert wait_until(lambda: len(made(server)) == 1), "the post never reached the server"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.release()
    for _ in range(2):  # restart twice: reconcile, then a plain cycle
        result = run_main(["poll", "--json"], env, tmp_path)
        assert result.returncode == 0, result.stderr
    assert len(made(server)) == 1
    status = run_main(["status", "--json"], env, tmp_path)
    assert '"published_total": 1' in status.stdout


def test_random_kills_during_a_stream_of_stories(server: SlowNetworks, tmp_path: Path) -> None:
    rng = random.Random(20261205)
    feed_path = tmp_path / "feed.xml"
    items = [Item(n, image_url=server.image_url()) for n in range(1, 13)]
    feed = write_feed(feed_path, items[:4])
    env = env_for(server, tmp_path, feed, POLL_INTERVAL="1s", PLATFORMS="bluesky,mastodon")
    server.latency = 0.03
    kills = 0
    for run in range(20):
        write_feed(feed_path, items[: min(12, 4 + run // 2)])
        proc = spawn(["run"], env, tmp_path)
        time.sleep(rng.uniform(0.3, 2.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=10)
    server.latency = 0.0
    write_feed(feed_path, items)
    for _ in range(3):
        result = run_main(["poll"], env, tmp_path)
        assert result.returncode == 0, result.stderr
    per_platform = counts(server)
    expected = {f"https://news.example.com/story-{n}/" for n in range(1, 13)}
    duplicates = {p: {k: v for k, v in c.items() if v > 1} for p, c in per_platform.items()}
    lost = {p: expected - set(c) for p, c in per_platform.items()}
    print(
        f"\nkills={kills} " + ", ".join(f"{p}={sum(c.values())}" for p, c in per_platform.items())
    )
    assert kills >= 15
    assert duplicates == {"bluesky": {}, "mastodon": {}}
    assert lost == {"bluesky": set(), "mastodon": set()}
