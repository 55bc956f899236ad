"""Crash safety: SIGKILL at any instant never produces a second post nor loses one.

The bot runs as a real process against the fake platform server (in this test process); the
test kills it with SIGKILL, restarts it, and counts what the platforms received.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import PROJECT_ROOT
from tests.botenv import Item, bot_env, run_main, write_feed
from tests.fakes.platform_server import FakePlatformServer

CRASH_SETTINGS = {
    "HTTP_TIMEOUT": "10s",
    # Crash tests push every story out at once: set explicitly, both caps lift the defaults.
    "MAX_POSTS_PER_HOUR": "10000",
    "MAX_NEW_PER_FEED": "10000",
}
"""What every crash test's worker runs with, whatever its networks."""


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as s:
        yield s


def env_for(server: FakePlatformServer, tmp: Path, feed: str, **extra: str) -> dict[str, str]:
    c = server.x_credentials
    return bot_env(
        tmp,
        FEED_URLS=feed,
        TWITTER_API_KEY=c.consumer_key,
        TWITTER_API_SECRET=c.consumer_secret,
        TWITTER_ACCESS_TOKEN=c.access_token,
        TWITTER_ACCESS_TOKEN_SECRET=c.access_token_secret,
        TWITTER_API_BASE_URL=server.base_url,
        FACEBOOK_PAGE_ID=server.page_id,
        FACEBOOK_PAGE_ACCESS_TOKEN=server.page_token,
        INSTAGRAM_USER_ID=server.ig_user_id,
        GRAPH_API_BASE_URL=server.base_url,
        **{**CRASH_SETTINGS, **extra},
    )


def counts(server: FakePlatformServer) -> dict[str, Counter[str]]:
    """Per platform, how many times each story's link went out."""
    return {
        "twitter": Counter(_story(t.get("text", ""), t) for t in server.tweets),
        "facebook": Counter(
            p.get("link") or _story(p.get("message", ""), p) for p in server.fb_posts
        ),
        "instagram": Counter(_story(m.get("caption", ""), m) for m in server.ig_media),
    }


def _story(text: str, record: dict[str, object]) -> str:
    import re

    urls = [u.get("expanded_url") for u in record.get("entities", {}).get("urls", [])]  # type: ignore[union-attr]
    found = re.findall(r"https://news\.example\.com/story-\d+/", " ".join([text, *map(str, urls)]))
    return found[0] if found else text[:40]


def spawn(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "main.py"), *args],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def wait_until(predicate: object, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def kill_once_posted_then_restart(
    server: Any, method: str, path: str, made: Callable[[], int], env: dict[str, str], tmp: Path
) -> None:
    """The post reaches `server` (at `method` `path`) and its answer never comes: the poll is
    SIGKILLed right there, then restarted twice (reconcile, then a plain cycle). Exactly one
    post went out, and `status` counts it."""
    server.hang(method, path, seconds=60)  # the post is recorded, then the answer never comes
    proc = spawn(["poll"], env, tmp)
    try:
        assert wait_until(lambda: made() == 1), "the post never reached the server"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.release()
    for _ in range(2):
        result = run_main(["poll", "--json"], env, tmp)
        assert result.returncode == 0, result.stderr
    assert made() == 1
    status = run_main(["status", "--json"], env, tmp)
    assert '"published_total": 1' in status.stdout, status.stdout


def kill_at_random(
    env: dict[str, str],
    tmp: Path,
    feed: tuple[Path, list[Item]],
    *,
    runs: int,
    first: int,
    seed: int,
    longest: float = 2.5,
) -> int:
    """`runs` workers (`run`), each SIGKILLed at a random moment 0.3 s to `longest` after its
    start, while the feed file grows by a story every second run from its `first` ones, as new
    stories keep arriving. Returns how many were killed (a worker may have stopped itself)."""
    rng = random.Random(seed)
    path, items = feed
    kills = 0
    for run in range(runs):
        write_feed(path, items[: min(len(items), first + run // 2)])
        proc = spawn(["run"], env, tmp)
        time.sleep(rng.uniform(0.3, longest))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=10)
    return kills


def tally(
    per_platform: dict[str, Counter[str]], expected: set[str]
) -> tuple[dict[str, dict[str, int]], dict[str, set[str]]]:
    """Per platform, the stories sent more than once (with how often) and those never sent."""
    duplicates = {p: {k: v for k, v in c.items() if v > 1} for p, c in per_platform.items()}
    lost = {p: expected - set(c) for p, c in per_platform.items()}
    return duplicates, lost


EFFECT = {
    "twitter": ("POST", "/2/tweets", lambda s: s.tweets),
    "facebook": ("POST", "*/feed", lambda s: s.fb_posts),
    "instagram": ("POST", "*/media_publish", lambda s: s.ig_media),
}


@pytest.mark.parametrize("platform", ["twitter", "facebook", "instagram"])
def test_kill_after_the_post_was_made_then_restart(
    server: FakePlatformServer, tmp_path: Path, platform: str
) -> None:
    feed = write_feed(tmp_path / "feed.xml", [Item(1, image_url=server.image_url())])
    env = env_for(server, tmp_path, feed, PLATFORMS=platform)
    method, path, made = EFFECT[platform]
    kill_once_posted_then_restart(server, method, path, lambda: len(made(server)), env, tmp_path)


def test_fifty_random_kills_during_a_stream_of_twenty_stories(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    feed_path = tmp_path / "feed.xml"
    items = [Item(n, image_url=server.image_url()) for n in range(1, 21)]
    env = env_for(server, tmp_path, write_feed(feed_path, items[:5]), POLL_INTERVAL="1s")
    server.latency = 0.03
    kills = kill_at_random(env, tmp_path, (feed_path, items), runs=50, first=5, seed=20261129)
    server.latency = 0.0
    write_feed(feed_path, items)
    for _ in range(3):
        result = run_main(["poll"], env, tmp_path)
        assert result.returncode == 0, result.stderr
    per_platform = counts(server)
    expected = {f"https://news.example.com/story-{n}/" for n in range(1, 21)}
    duplicates, lost = tally(per_platform, expected)
    print(
        f"\nkills={kills} posts: " + ", ".join(f"{p}={sum(c.values())}" for p, c in
                                               per_platform.items())
        + f" duplicates={sum(len(d) for d in duplicates.values())}"
        + f" lost={sum(len(v) for v in lost.values())}"
    )  # fmt: skip
    status = run_main(["status", "--json"], env, tmp_path).stdout
    assert kills >= 40
    assert duplicates == {"twitter": {}, "facebook": {}, "instagram": {}}
    assert lost == {"twitter": set(), "facebook": set(), "instagram": set()}, status
