"""Migrations when several workers start at once: each one is applied exactly once.

`heroku ps:scale worker=3` or a deploy restarts every worker at the same instant, and each runs
`Store.open` (which migrates) before anything else. The processes here are released together
by one event; a next migration that adds a column would fail loudly if applied twice
("duplicate column"), so "every process succeeded" already proves it ran once.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection

from bot.store import Store, migrations
from bot.store.repository import StoreTooNew

WORKERS = 6
NEXT = migrations.LATEST + 1
"""The number of the test's own migration, after this release's last one."""


def _next_add_brand(conn: Connection) -> None:
    """A realistic next migration: not idempotent, so a second run raises."""
    conn.execute(text("ALTER TABLE feeds ADD COLUMN brand VARCHAR(100)"))


def _open_when_released(url: str, with_next: bool, start: object, done: object) -> None:
    """Child process: wait for the common start, then open (and so migrate) the store."""
    if with_next:
        migrations.STEPS = (*migrations.STEPS, SimpleNamespace(upgrade=_next_add_brand))  # type: ignore[assignment]
    start.wait(60)  # type: ignore[attr-defined]
    try:
        Store.open(url).close()
    except BaseException as exc:
        done.put(f"{type(exc).__name__}: {exc}")  # type: ignore[attr-defined]
        raise
    done.put("ok")  # type: ignore[attr-defined]


def _start_together(url: str, *, with_next: bool) -> list[str]:
    ctx = multiprocessing.get_context("fork")  # fast: the children need not import anew
    start, done = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_open_when_released, args=(url, with_next, start, done))
        for _ in range(WORKERS)
    ]
    for p in procs:
        p.start()
    start.set()
    outcomes = [done.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert [p.exitcode for p in procs] == [0] * WORKERS, outcomes
    return outcomes


def _versions(url: str) -> list[int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(text("SELECT version FROM schema_version ORDER BY version")).scalars()
            )
    finally:
        engine.dispose()


def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_workers_starting_together_on_a_fresh_database(database_url: str) -> None:
    outcomes = _start_together(database_url, with_next=True)
    assert outcomes == ["ok"] * WORKERS
    assert _versions(database_url) == list(range(1, NEXT + 1))
    assert "brand" in _columns(database_url, "feeds")


def test_workers_upgrading_an_existing_database_together(database_url: str) -> None:
    """The deploy case: the database is at this release's schema with data, the new release
    brings one more migration."""
    store = Store.open(database_url)
    store.feeds.ensure_feeds(["https://example.com/feed/"])
    store.close()
    assert _versions(database_url) == list(range(1, NEXT))

    assert _start_together(database_url, with_next=True) == ["ok"] * WORKERS
    assert _versions(database_url) == list(range(1, NEXT + 1))
    # A release without that migration (this process) refuses the upgraded store instead of
    # guessing at tables it does not know, and leaves it as it was.
    with pytest.raises(StoreTooNew) as refused:
        Store.open(database_url)
    assert (refused.value.found, refused.value.known) == (NEXT, NEXT - 1)
    assert _versions(database_url) == list(range(1, NEXT + 1))
    assert "brand" in _columns(database_url, "feeds")


@pytest.mark.postgres
def test_threads_opening_one_fresh_postgres_database_at_once(postgres_url: str) -> None:
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []
    stores: list[Store] = []
    lock = threading.Lock()

    def open_store() -> None:
        try:
            barrier.wait(timeout=30)
            store = Store.open(postgres_url)
            with lock:
                stores.append(store)
        except BaseException as exc:
            errors.append(exc)

    _run_threads(open_store)
    for s in stores:
        s.close()
    assert errors == []
    assert len(stores) == WORKERS
    assert _versions(postgres_url) == list(range(1, migrations.LATEST + 1))


def _run_threads(target: Callable[[], None]) -> None:
    threads = [threading.Thread(target=target) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
