"""The `run` worker as users start it: a real process, real signals, real scheduler."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.settings import PROJECT_ROOT
from tests.botenv import Item, bot_env, write_feed


class Proc:
    """A running main.py whose stderr lines are collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.p = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "main.py"), *args],
            env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,  # its own process group, as under a terminal or a dyno
        )  # fmt: skip
        self.lines: list[str] = []
        self._q: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.p.stderr is not None
        for line in self.p.stderr:
            self._q.put(line)

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.lines.append(self._q.get(timeout=0.1))
            except queue.Empty:
                if self.p.poll() is not None:
                    break
                continue
            if predicate(self.lines):
                return True
        return predicate(self.lines)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> tuple[int, float]:
        started = time.monotonic()
        os.killpg(self.p.pid, sig)  # like Ctrl-C or a platform's stop: the whole group
        code = self.p.wait(timeout=timeout)
        elapsed = time.monotonic() - started
        self.wait_for(lambda _: False, timeout=0.5)
        return code, elapsed


def test_demo_worker_shows_dry_run_posts_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = bot_env(tmp_path)
    for key in ("DATABASE_URL", "MAX_STORY_AGE", "BACKLOG"):
        env.pop(key)  # the demo brings its own
    proc = Proc(["run"], env, tmp_path)
    try:
        seen = proc.wait_for(lambda ls: sum("dry run: would post" in x for x in ls) >= 12)
        assert seen, "".join(proc.lines)
    finally:
        code, elapsed = proc.stop()
    assert "DEMO MODE" in proc.lines[0]
    assert code == 0
    assert elapsed < 10
    text = "".join(proc.lines)
    assert "KP Chair Asks NGOs to Reconsider Boycott" in text
    assert "@jckmagazine" in text
    assert list(tmp_path.iterdir()) == []  # no ./data/demo.db where it was started
    first = proc.lines[0]  # says what the worker runs with
    assert "platforms twitter, facebook, instagram; DRY RUN" in first and "1 feed;" in first
    store = first.split("store sqlite:///")[1].split(";")[0]
    assert "feedbot-demo-" in store and not Path(store).exists()  # temporary, removed at exit
    assert "polls every 10m" in first


def test_worker_fires_the_job_again_on_a_short_interval(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    url = write_feed(feed, [Item(1)])
    env = bot_env(tmp_path, FEED_URLS=url, DRY_RUN="true", PLATFORMS="twitter",
                  POLL_INTERVAL="1s", LOG_FORMAT="json")  # fmt: skip
    proc = Proc(["run"], env, tmp_path)
    try:
        polls = lambda ls: [x for x in ls if '"poll finished"' in x]  # noqa: E731
        assert proc.wait_for(lambda ls: len(polls(ls)) >= 1), "".join(proc.lines)
        write_feed(feed, [Item(1), Item(2)])  # a new story between two runs
        assert proc.wait_for(lambda ls: len(polls(ls)) >= 3), "".join(proc.lines)
    finally:
        code, _ = proc.stop(signal.SIGINT)
    assert code == 0
    assert not any("Traceback" in x for x in proc.lines), "".join(proc.lines)
    records = [json.loads(x) for x in proc.lines if x.startswith("{")]
    posted = [r for r in records if r["message"] == "dry run: would post"]
    assert sorted(r["story"] for r in posted) == [
        "https://news.example.com/story-1/", "https://news.example.com/story-2/",
    ]  # fmt: skip
    first_poll = next(r for r in records if r["message"] == "poll finished")
    assert first_poll["next_poll"]  # the next run time is logged
