"""Crash safety on Threads and LinkedIn: SIGKILL at any instant never produces a second post nor
loses one (the bot as a real process, the fakes in this test process; see tests/test_crash.py).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.botenv import Item, bot_env, run_main, write_feed
from tests.fakes.linkedin_server import FakeLinkedInServer
from tests.fakes.platform_server import FakePlatformServer
from tests.fakes.threads_server import FakeThreadsServer
from tests.test_crash import CRASH_SETTINGS, kill_at_random, kill_once_posted_then_restart, tally


@pytest.fixture
def threads() -> Iterator[FakeThreadsServer]:
    with FakeThreadsServer(in_progress_reads=0) as s:
        yield s


@pytest.fixture
def linkedin() -> Iterator[FakeLinkedInServer]:
    # Duplicates let through: the tests count what arrived, not what the fake refused.
    with FakeLinkedInServer(refuse_duplicates=False) as s:
        yield s


def env_for(
    threads: FakeThreadsServer, linkedin: FakeLinkedInServer, tmp: Path, feed: str, **extra: str
) -> dict[str, str]:
    return bot_env(
        tmp,
        FEED_URLS=feed,
        **threads.threads_env(),
        **linkedin.linkedin_env(),
        **{**CRASH_SETTINGS, "RETRY_BASE_SECONDS": "1", **extra},
    )


_STORY = re.compile(r"https://news\.example\.com/story-\d+/")


def story_of(text: str) -> str:
    found = _STORY.findall(text or "")
    return found[0] if found else (text or "")[:40]


def threads_made(server: FakeThreadsServer) -> list[str]:
    return [story_of(p["text"] or p.get("link_attachment_url") or "") for p in server.posts]


def linkedin_made(server: FakeLinkedInServer) -> list[str]:
    return [story_of(server.article(p).get("source", "")) for p in server.li_posts]


EFFECT: dict[str, tuple[str, str, Callable[[Any], list[str]]]] = {
    "threads": ("POST", "*/threads_publish", threads_made),
    "linkedin": ("POST", "/rest/posts", linkedin_made),
}


@pytest.mark.parametrize("platform", ["threads", "linkedin"])
def test_kill_after_the_post_was_made_then_restart(
    threads: FakeThreadsServer, linkedin: FakeLinkedInServer, tmp_path: Path, platform: str
) -> None:
    image = threads.image_url() if platform == "threads" else linkedin.image_url()
    feed = write_feed(tmp_path / "feed.xml", [Item(1, image_url=image)])
    env = env_for(threads, linkedin, tmp_path, feed, PLATFORMS=platform)
    server: FakePlatformServer = threads if platform == "threads" else linkedin
    method, path, made = EFFECT[platform]
    kill_once_posted_then_restart(server, method, path, lambda: len(made(server)), env, tmp_path)


def test_random_kills_during_a_stream_of_ten_stories(
    threads: FakeThreadsServer, linkedin: FakeLinkedInServer, tmp_path: Path
) -> None:
    feed_path = tmp_path / "feed.xml"
    items = [Item(n, image_url=threads.image_url()) for n in range(1, 11)]
    feed = write_feed(feed_path, items[:3])
    env = env_for(threads, linkedin, tmp_path, feed, POLL_INTERVAL="1s",
                  PLATFORMS="threads,linkedin")  # fmt: skip
    threads.latency = linkedin.latency = 0.03
    threads.in_progress_reads = 1  # every container is read once before it is ready
    kills = kill_at_random(env, tmp_path, (feed_path, items), runs=20, first=3, seed=20261205)
    threads.latency = linkedin.latency = 0.0
    write_feed(feed_path, items)
    deadline = time.monotonic() + 60
    expected = {f"https://news.example.com/story-{n}/" for n in range(1, 11)}
    while time.monotonic() < deadline:  # retries of not-ready containers come due (1 s base)
        result = run_main(["poll"], env, tmp_path)
        assert result.returncode == 0, result.stderr
        if set(threads_made(threads)) >= expected and set(linkedin_made(linkedin)) >= expected:
            break
        time.sleep(1.0)
    per_platform = {
        "threads": Counter(threads_made(threads)),
        "linkedin": Counter(linkedin_made(linkedin)),
    }
    duplicates, lost = tally(per_platform, expected)
    print(f"\nkills={kills} threads={len(threads.posts)} linkedin={len(linkedin.li_posts)}")
    status = run_main(["status", "--json"], env, tmp_path).stdout
    assert kills >= 15
    assert duplicates == {"threads": {}, "linkedin": {}}
    assert lost == {"threads": set(), "linkedin": set()}, status
