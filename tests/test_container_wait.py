"""A media container that is not ready yet is checked again at the next poll or tick, never
waited for in a sleep: through the real app and client stack against the fake Graph server."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.app import App, build_app
from bot.platforms.base import CONTAINER_RECHECK
from bot.settings import Backlog, Settings
from bot.store import Store
from bot.store.schema import deliveries
from tests.botenv import BASE_TIME, Item, run_main, write_feed
from tests.conftest import FakeClock
from tests.fakes.platform_server import FakePlatformServer
from tests.test_crash import env_for, spawn, wait_until

CONTAINER_READS = "*/179*"
"""The path of a container's status read (the fake numbers containers 179...)."""


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=1) as s:  # IN_PROGRESS once, then FINISHED
        yield s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(BASE_TIME.timestamp())


def settings_for(server: FakePlatformServer, tmp: Path) -> Settings:
    feed = write_feed(tmp / "feed.xml", [Item(1, image_url=server.image_url("photo.jpg"))])
    base = server.settings(
        feed_urls=(feed,),
        platforms=("instagram",),
        database_url=f"sqlite:///{tmp / 'bot.db'}",
        backlog=Backlog("all"),
        max_story_age=None,
        handles={"instagram": "@jckmagazine"},
        http_timeout=2.0,
    )
    return base


def tick(settings: Settings, clock: FakeClock) -> list[dict[str, object]]:
    app: App = build_app(settings, clock=clock)
    try:
        return [d.as_dict() for d in app.engine.tick().deliveries]
    finally:
        app.close()


def status_reads(server: FakePlatformServer) -> int:
    return len(server.requests_to(CONTAINER_READS, "GET"))


def test_a_container_in_progress_returns_at_once_and_the_next_poll_publishes_it(
    server: FakePlatformServer, tmp_path: Path, clock: FakeClock
) -> None:
    settings = settings_for(server, tmp_path)
    [first] = tick(settings, clock)
    assert first["status"] == "deferred" and "not ready" in str(first["error"])
    assert server.ig_media == [] and len(server.ig_containers) == 1
    assert status_reads(server) == 1  # read once, then the poll ended: no waiting loop
    assert tick(settings, clock) == []  # not due again before its re-check time
    assert status_reads(server) == 1
    clock.advance(CONTAINER_RECHECK)
    [second] = tick(settings, clock)
    assert second["status"] == "published" and second["remote_url"]
    assert len(server.ig_media) == 1 and len(server.ig_containers) == 1  # the same container
    (container_id,) = server.ig_containers
    assert server.ig_media[0]["container_id"] == container_id
    clock.advance(3600)
    assert tick(settings, clock) == [] and len(server.ig_media) == 1


def test_a_container_that_never_gets_ready_never_holds_a_poll(
    server: FakePlatformServer, tmp_path: Path, clock: FakeClock
) -> None:
    server.ig_in_progress_reads = 10**6
    settings = settings_for(server, tmp_path)
    for _ in range(3):
        [row] = tick(settings, clock)
        assert row["status"] == "deferred"
        clock.advance(CONTAINER_RECHECK)
    assert status_reads(server) == 3 and len(server.ig_containers) == 1
    assert server.ig_media == []


def test_a_container_in_error_is_a_clear_rejection(
    server: FakePlatformServer, tmp_path: Path, clock: FakeClock
) -> None:
    server.ig_next_outcome = ("ERROR", "Error: something went wrong")
    settings = settings_for(server, tmp_path)
    [first] = tick(settings, clock)
    assert first["status"] == "deferred"
    clock.advance(CONTAINER_RECHECK)
    [failed] = tick(settings, clock)
    assert failed["status"] == "failed"
    (container_id,) = server.ig_containers
    assert container_id in str(failed["error"]) and "something went wrong" in str(failed["error"])
    assert server.ig_media == [] and server.requests_to("*/media_publish") == []


def test_an_expired_container_makes_a_new_one(
    server: FakePlatformServer, tmp_path: Path, clock: FakeClock
) -> None:
    settings = settings_for(server, tmp_path)
    [first] = tick(settings, clock)
    assert first["status"] == "deferred"
    (old,) = server.ig_containers
    server.ig_containers[old]["status_code"] = "EXPIRED"
    server.ig_containers[old]["status"] = "Expired: not published within 24 hours"
    clock.advance(CONTAINER_RECHECK)
    [renewed] = tick(settings, clock)  # a fresh container, itself not ready at its first read
    assert renewed["status"] == "deferred" and len(server.ig_containers) == 2
    clock.advance(CONTAINER_RECHECK)
    [done] = tick(settings, clock)
    assert done["status"] == "published"
    (media,) = server.ig_media
    assert media["container_id"] != old


def test_sigkill_between_container_and_publish_still_yields_one_post(tmp_path: Path) -> None:
    """Killed while reading a container it had already kept: the restart finds the container
    ready, publishes it, and nothing is posted twice."""
    with FakePlatformServer(ig_in_progress_reads=0) as server:
        feed = write_feed(tmp_path / "feed.xml", [Item(1, image_url=server.image_url())])
        env = env_for(server, tmp_path, feed, PLATFORMS="instagram")
        server.hang("GET", CONTAINER_READS, seconds=60)
        proc = spawn(["poll"], env, tmp_path)
        try:
            assert wait_until(lambda: status_reads(server) == 1), "no container was made"
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
            server.release()
        assert server.ig_media == [] and len(server.ig_containers) == 1
        for _ in range(2):  # restart twice: reconcile and publish, then a plain cycle
            result = run_main(["poll", "--json"], env, tmp_path)
            assert result.returncode == 0, result.stderr
        (media,) = server.ig_media
        assert len(server.ig_containers) == 1  # the kept container, not a second one
        assert media["container_id"] in server.ig_containers


def test_poll_through_main_returns_at_once_and_the_next_poll_publishes(tmp_path: Path) -> None:
    """The command a cron job runs: the first `poll` ends with the post deferred (not ready),
    without waiting for Instagram; the next `poll` once it is due publishes the same container."""
    with FakePlatformServer(ig_in_progress_reads=1) as server:
        feed = write_feed(tmp_path / "feed.xml", [Item(1, image_url=server.image_url())])
        env = env_for(server, tmp_path, feed, PLATFORMS="instagram")
        first = run_main(["poll", "--json"], env, tmp_path)
        assert first.returncode == 0, first.stderr
        [line] = [json.loads(x) for x in first.stdout.splitlines() if x.startswith("{")]
        assert line["status"] == "deferred" and "not ready" in line["error"]
        assert server.ig_media == [] and status_reads(server) == 1
        # Its re-check time passes: brought forward in the store instead of slept through.
        store = Store.open(env["DATABASE_URL"])
        try:
            with store.engine.begin() as conn:
                conn.execute(update(deliveries).values(next_attempt_at=time.time() - 1))
        finally:
            store.close()
        second = run_main(["poll", "--json"], env, tmp_path)
        assert second.returncode == 0, second.stderr
        [done] = [json.loads(x) for x in second.stdout.splitlines() if x.startswith("{")]
        assert done["status"] == "published" and done["delivery_id"] == line["delivery_id"]
        (media,) = server.ig_media
        assert len(server.ig_containers) == 1 and media["container_id"] in server.ig_containers
