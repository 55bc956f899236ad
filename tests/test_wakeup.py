"""Waking the workers from another process: a push received by a `web` process apart from the
workers, or an `approve` on the command line, is sent within seconds, not at the workers' next
15-second drain."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bot.store import Store
from bot.wakeup import WAKE_KEY, WakeWatch, wake_workers
from tests.botenv import Item, run_main
from tests.fakes.feed_server import FeedServer
from tests.fakes.platform_server import FakePlatformServer
from tests.fakes.websub_hub import FakeHub
from tests.test_cli_post import platform_env
from tests.test_web_browser import free_port
from tests.test_websub import _tweets_for, hub_feed
from tests.test_worker import Proc


def test_a_watch_sees_each_new_mark_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    worker_side, other_process = Store.open(url), Store.open(url)
    try:
        # A mark left before the worker started is not news.
        wake_workers(other_process.platforms, 100.0)
        watch = WakeWatch(worker_side.platforms)
        assert not watch.changed()
        wake_workers(other_process.platforms, 101.0)
        assert watch.changed()
        assert not watch.changed()  # once per mark
        # A process whose clock is behind still leaves a new mark.
        wake_workers(other_process.platforms, 90.0)
        assert watch.changed()
        assert worker_side.platforms.get_meta(WAKE_KEY) == "90.0"
    finally:
        worker_side.close()
        other_process.close()


def _sent_within(server: FakePlatformServer, story: int, seconds: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if _tweets_for(server, story):
            return time.monotonic() - started
        time.sleep(0.05)
    return None


@pytest.mark.slow
def test_an_approval_on_the_command_line_is_sent_within_seconds(tmp_path: Path) -> None:
    with FeedServer() as feeds, FakePlatformServer() as server:
        feed = feeds.url("/feed.xml")
        feeds.route("/feed.xml", body=hub_feed([Item(1, image=False)], "", feed))
        env = platform_env(
            server, tmp_path, feed, PLATFORMS="twitter", APPROVAL="twitter", POLL_INTERVAL="1h"
        )
        worker = Proc(["run"], env, tmp_path)
        try:
            assert worker.wait_for(lambda ls: any("poll finished" in x for x in ls), 60)
            listed = run_main(["queue", "--json"], env, tmp_path)
            waiting = [json.loads(line) for line in listed.stdout.splitlines()]
            assert [w["status"] for w in waiting] == ["pending_approval"], listed.stdout
            assert server.tweets == []
            approved = run_main(["approve", str(waiting[0]["id"])], env, tmp_path)
            assert approved.returncode == 0, approved.stderr
            assert "within seconds" in approved.stdout
            # The worker's drain runs every 15 s: 8 s proves the approval woke it.
            latency = _sent_within(server, 1, 8)
            assert latency is not None, "".join(worker.lines)
        finally:
            code, _ = worker.stop()
        assert code == 0
        assert len(server.tweets) == 1
        assert any("drain asked for by another process" in x for x in worker.lines)


@pytest.mark.slow
def test_a_push_to_a_web_process_apart_from_the_worker_is_posted_within_10_s(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    with FeedServer() as feeds, FakeHub() as hub, FakePlatformServer() as server:
        topic = feeds.url("/feed.xml")
        feeds.route("/feed.xml", body=hub_feed([Item(1, image=False)], hub.url, topic))
        common = platform_env(
            server,
            tmp_path,
            topic,
            PLATFORMS="twitter",
            WEB_PASSWORD="push-test-password",
            PUBLIC_URL=f"http://127.0.0.1:{port}",
            POLL_INTERVAL="1h",
            ALLOW_PRIVATE_NETWORKS="true",  # the test hub is on loopback
        )
        web = Proc(["web", "--port", str(port)], common, tmp_path)
        worker: Proc | None = None
        try:
            # The worker subscribes after its first poll and the hub verifies at once: a worker
            # started beside a `web` still importing would be refused, and retry only after 10
            # minutes (UNVERIFIED_RETRY). An operator starts `web` first, and so does this test.
            assert web.wait_for(lambda ls: any("listening" in x for x in ls), 60)
            worker = Proc(["run"], common, tmp_path)  # no WEB_PORT: the callbacks go to `web`
            assert worker.wait_for(lambda ls: any("poll finished" in x for x in ls), 60)
            hub.wait_verified(topic, timeout=30)
            assert len(_tweets_for(server, 1)) == 1

            body = hub_feed([Item(2, image=False), Item(1, image=False)], hub.url, topic)
            feeds.route("/feed.xml", body=body)
            assert [p.status for p in hub.publish(topic, body)] == [202]
            latency = _sent_within(server, 2, 10)
            assert latency is not None, "".join(web.lines + worker.lines)
            with capsys.disabled():
                print(f"\nWebSub push to a `web` process, posted by a worker: {latency:.2f} s")
        finally:
            worker_code = worker.stop()[0] if worker else None
            web_code, _ = web.stop()
        assert (worker_code, web_code) == (0, 0)
        assert len(_tweets_for(server, 2)) == 1
        assert len(server.tweets) == 2
