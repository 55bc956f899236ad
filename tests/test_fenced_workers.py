"""Exactly once at the edges, with real worker processes against duplicate-accepting fakes.

* Two `run` workers on one PostgreSQL store, one of them with its clock ten minutes ahead (an
  injected clock), platform calls slower than the lease: every story once on every platform.
* A worker frozen (SIGSTOP) after marking a delivery `sending` and before its platform call, for
  longer than the lease: another worker takes over, and when the frozen one resumes (SIGCONT) it
  finds its lease gone and sends nothing.

The fakes accept duplicate content, as Facebook and Instagram do: the tests count what arrived.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from tests.botenv import Item, write_feed
from tests.fakes.platform_server import FakePlatformServer, RecordedRequest, Reply
from tests.test_crash import counts, env_for, spawn, wait_until
from tests.test_lookups import made

SKEW = 600.0
STORIES = 100
EFFECTS = ("/2/tweets", "/feed", "/media_publish")

# A worker whose clock runs ten minutes ahead: the engine's injected clock, nothing else (the
# OAuth signatures keep the real time, as a skewed host's NTP-less clock would not, but the
# point here is the store's leases and look-up windows).
_SKEWED_MAIN = (
    "import sys, time\n"
    "import bot.app\n"
    "_build = bot.app.build_app\n"
    "def _skewed(settings, **kw):\n"
    f"    kw['clock'] = lambda: time.time() + {SKEW}\n"
    "    return _build(settings, **kw)\n"
    "bot.app.build_app = _skewed\n"
    "from bot.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


class SlowPosts(FakePlatformServer):
    """Every third post (the one effectful call of each platform) takes `slow` seconds, longer
    than the workers' lease; the rest answer at once."""

    slow = 0.0

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._effects = 0
        self._count_lock = threading.Lock()

    def handle(self, request: RecordedRequest) -> Reply:
        if request.method == "POST" and request.path.endswith(EFFECTS):
            with self._count_lock:
                self._effects += 1
                slow = self._effects % 3 == 0
            if slow and self.slow:
                time.sleep(self.slow)
        return super().handle(request)


def _spawn(env: dict[str, str], cwd: Path, log: Path, *, skewed: bool) -> subprocess.Popen[bytes]:
    if skewed:
        cmd = [sys.executable, "-c", _SKEWED_MAIN, "run"]
        env = {**env, "PYTHONPATH": str(PROJECT_ROOT)}
    else:
        cmd = [sys.executable, str(PROJECT_ROOT / "main.py"), "run"]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_one_ten_minutes_ahead_slow_platforms_every_story_once(
    postgres_url: str, tmp_path: Path
) -> None:
    with SlowPosts(ig_in_progress_reads=0, ig_quota_total=10_000) as server:
        server.slow = 1.6  # longer than LEASE_SECONDS: only renewals keep the lease
        items = [Item(n, image_url=server.image_url()) for n in range(1, STORIES + 1)]
        feed = write_feed(tmp_path / "feed.xml", items)
        env = env_for(server, tmp_path, feed, DATABASE_URL=postgres_url, POLL_INTERVAL="1s",
                      LEASE_SECONDS="1s", HTTP_TIMEOUT="5s")  # fmt: skip
        logs = [tmp_path / "worker-on-time.log", tmp_path / "worker-ahead.log"]
        procs = [_spawn(env, tmp_path, logs[0], skewed=False)]
        procs.append(_spawn(env, tmp_path, logs[1], skewed=True))
        expected = 3 * STORIES
        total = lambda: len(server.tweets) + len(server.fb_posts) + len(server.ig_media)  # noqa: E731
        try:
            finished = wait_until(lambda: total() >= expected, timeout=240)
            time.sleep(3)  # a few more cycles of both: a late double would show
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=20)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
        tails = "\n".join(p.name + ":\n" + p.read_text(errors="replace")[-2000:] for p in logs)
        assert finished, f"only {total()} of {expected} posts\n{tails}"
        per_platform = counts(server)
    wanted = {f"https://news.example.com/story-{n}/" for n in range(1, STORIES + 1)}
    print(
        f"\n2 workers (one {SKEW:.0f}s ahead), {STORIES} stories: "
        + ", ".join(f"{p}={sum(c.values())}" for p, c in per_platform.items())
    )
    for platform, counter in per_platform.items():
        assert set(counter) == wanted, f"{platform}: lost {sorted(wanted - set(counter))}"
        doubled = {url: n for url, n in counter.items() if n != 1}
        assert doubled == {}, f"{platform} got these more than once: {doubled}"
    text = logs[0].read_text() + logs[1].read_text()
    assert "delivery lease lost" not in text and "holds this delivery" not in text  # renewed


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as s:
        yield s


# The first request each platform's publish makes after `sending` is committed, before its one
# effectful call: each downloads the story image (X to upload it, Instagram to check it).
BEFORE_THE_CALL = {"twitter": ("GET", "/images/*"), "instagram": ("GET", "/images/*")}


@pytest.mark.parametrize("platform", list(BEFORE_THE_CALL))
def test_a_worker_frozen_past_its_lease_finds_it_gone_and_sends_nothing(
    server: FakePlatformServer, tmp_path: Path, platform: str
) -> None:
    feed = write_feed(tmp_path / "feed.xml", [Item(1, image_url=server.image_url())])
    env = env_for(server, tmp_path, feed, PLATFORMS=platform, LEASE_SECONDS="1s",
                  HTTP_TIMEOUT="2s")  # fmt: skip
    method, path = BEFORE_THE_CALL[platform]
    server.hang(method, path, seconds=60)  # holds the frozen worker's request, once
    before = len(server.requests_to(path, method))
    frozen = spawn(["poll"], env, tmp_path)
    try:
        assert wait_until(lambda: len(server.requests_to(path, method)) > before), "never sent"
        frozen.send_signal(signal.SIGSTOP)  # `sending` is committed; the post is not made
        time.sleep(1 + 2 + 1)  # longer than the lease and HTTP_TIMEOUT
        other = subprocess.run(
            [sys.executable, str(PROJECT_ROOT / "main.py"), "poll", "--json"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert other.returncode == 0, other.stderr
        assert '"published"' in other.stdout and made(server, platform) == 1  # taken over
        frozen.send_signal(signal.SIGCONT)
        server.release()
        frozen.wait(timeout=60)
    finally:
        if frozen.poll() is None:
            frozen.kill()
        server.release()
    assert made(server, platform) == 1  # the resumed worker found its lease gone
