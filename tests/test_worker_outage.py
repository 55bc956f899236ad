"""A failing tick: one line per kind of failure, a growing backoff, and recovery by itself."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.scheduler import Worker
from bot.settings import Settings
from bot.tick_failures import TickFailures
from tests.botenv import Item, bot_env, write_feed
from tests.conftest import FakeClock
from tests.pg import PostgresServer, PostgresUnavailable
from tests.test_worker import Proc

PG_URL = "postgresql+psycopg://feedbot:hunter2-secret@127.0.0.1:5999/feedbot"


def refused() -> OperationalError:
    orig = Exception(
        'connection failed: connection to server at "127.0.0.1", port 5999 '
        "failed: Connection refused\n\tIs the server running on that host?"
    )
    return OperationalError("SELECT 1", {}, orig)


def test_one_line_per_kind_a_growing_backoff_and_one_recovery_line(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    failures = TickFailures(PG_URL, clock)
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    delays = []
    for _ in range(4):
        assert failures.ready()
        failures.failed(refused())
        delays.append(failures.resume_at - clock.now)
        clock.advance(1)
        assert not failures.ready()  # backing off: the tick is skipped
        clock.advance(delays[-1])
    assert delays == [15, 30, 60, 120]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    line = errors[0].getMessage()
    assert "\n" not in line and "connection refused at 127.0.0.1:5999" in line
    assert "feedbot:***@127.0.0.1" in line and "hunter2" not in line
    assert not any(r.exc_info for r in caplog.records if r.levelno > logging.DEBUG)
    failures.failed(RuntimeError("boom"))  # another kind: its own line
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2 and "unexpected RuntimeError: boom" in errors[1].getMessage()
    for _ in range(10):
        failures.failed(refused())
    assert failures.resume_at - clock.now == 300  # capped
    clock.advance(300)
    failures.succeeded()
    recovered = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(recovered) == 1 and "after 15 failed attempt(s)" in recovered[0]
    assert failures.ready() and failures.failures == 0
    failures.failed(refused())  # a new outage is announced again
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 3


class FlakyEngine:
    """Stands in for the engine: its tick fails while `down` is set; records each tick."""

    def __init__(self) -> None:
        self.down = False
        self.ticks: list[bool] = []
        self.store = SimpleNamespace(set_meta=lambda *a: None)
        self.parser = SimpleNamespace(wants_pool=lambda n: False)
        self.publishers: dict[str, Any] = {}
        self.clock = time.time

    def tick(self, *, poll: bool, feeds: Any = None) -> Any:
        if self.down:
            raise refused()
        self.ticks.append(poll)
        return SimpleNamespace(feeds=[], deliveries=[])

    def stop(self) -> None:
        pass


def test_worker_skips_ticks_while_backing_off_and_owes_the_missed_poll(clock: FakeClock) -> None:
    engine = FlakyEngine()
    worker = Worker(engine, Settings(feed_urls=("x",), database_url=PG_URL), clock=clock)  # type: ignore[arg-type]
    engine.down = True
    worker._job(True)  # the poll fails
    engine.down = False
    clock.advance(5)
    worker._job(False)  # backing off: not even tried
    worker._job(True)
    assert engine.ticks == []
    clock.advance(15)
    worker._job(False)  # a drain after the backoff: it polls, since a poll is owed
    worker._job(False)
    assert engine.ticks == [True, False]


@pytest.mark.postgres
def test_worker_survives_a_postgres_outage_and_heals(tmp_path: Path) -> None:
    try:
        server = PostgresServer()
        url = server.start()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        feed = tmp_path / "feed.xml"
        env = bot_env(tmp_path, FEED_URLS=write_feed(feed, [Item(1)]), DRY_RUN="true",
                      PLATFORMS="twitter", POLL_INTERVAL="1s", DATABASE_URL=url)  # fmt: skip
        proc = Proc(["run"], env, tmp_path)
        try:
            assert proc.wait_for(lambda ls: any("poll finished" in x for x in ls)), proc.lines
            server.halt()
            assert proc.wait_for(lambda ls: any("tick failed" in x for x in ls)), proc.lines
            time.sleep(3)  # several more scheduled runs fall in the outage
            server.resume()
            write_feed(feed, [Item(1), Item(2)])
            healed = proc.wait_for(
                lambda ls: any("story-2" in x and "would post" in x for x in ls), timeout=60
            )
            assert healed, "".join(proc.lines)
        finally:
            code, _ = proc.stop()
        assert code == 0
        text = "".join(proc.lines)
        assert "Traceback" not in text
        failed = [x for x in proc.lines if "tick failed" in x and "ERROR" in x]
        assert len(failed) == 1, text
        assert "DATABASE_URL=" in failed[0] and "recovered" in text
    finally:
        server.stop()
