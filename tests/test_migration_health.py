"""Migration 3 (workers, notifications, feeds.failing_since) on a store made at version 2."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from bot.store import Store
from bot.store.migrations import STEPS


def test_a_feed_failing_at_the_upgrade_starts_its_run_at_its_last_success(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:  # a store as release 0.1 left it, at version 2
        for number, step in enumerate(STEPS[:2], start=1):
            step.upgrade(conn)
            conn.execute(text("INSERT INTO schema_version VALUES (:v, 0)"), {"v": number})
        conn.execute(text(
            "INSERT INTO feeds (url, current_url, failures, last_success_at, last_polled_at) "
            "VALUES ('https://a.example/feed', 'https://a.example/feed', 4, 1000, 5000), "
            "('https://b.example/feed', 'https://b.example/feed', 0, 1000, 5000), "
            "('https://c.example/feed', 'https://c.example/feed', 2, NULL, 5000)"
        ))  # fmt: skip
    engine.dispose()
    store = Store.open(database_url)
    try:
        rows = {r.url.split("/")[2]: r for r in store.feeds.feed_rows()}
        assert rows["a.example"].failing_since == 1000  # its last success
        assert rows["b.example"].failing_since is None  # not failing
        assert rows["c.example"].failing_since == 5000  # never worked: its last try
        assert store.notices.workers(0) == [] and store.notices.notifications() == []
        store.notices.worker_heartbeat("w1", 10.0, next_poll_at=20.0, started=True)
        assert store.notices.workers(0)[0]["next_poll_at"] == 20.0
    finally:
        store.close()
