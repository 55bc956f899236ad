"""The store: one truth for seen stories, deliveries and pacing, handed out in narrow pieces.

Everything that must survive a crash lives here, and every state change is one short transaction,
so a process killed at any instant leaves a consistent database. Work shared by several workers
(feeds to poll, deliveries to send) is claimed with a lease: `FOR UPDATE SKIP LOCKED` on
PostgreSQL and a conditional update under SQLite's single-writer lock, so exactly one worker
handles each row, and a dead worker's claims expire.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import (
    create_engine,
    event,
    insert,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from bot import __version__
from bot.errors import ConfigError
from bot.store import migrations, schema
from bot.store.base import Database
from bot.store.delivery_queue import DeliveryStore
from bot.store.feed_state import FeedStore
from bot.store.health_state import HealthStore
from bot.store.hosted import HostedImageStore
from bot.store.media import MediaStore
from bot.store.notices import NoticeStore
from bot.store.platform_state import PlatformStore
from bot.store.problems import StoreUnavailable, describe, sqlite_preflight
from bot.store.queue_hand import QueueStore
from bot.store.review import ReviewStore
from bot.store.spend import SpendStore
from bot.store.story_log import StoryStore
from bot.store.websub_state import WebSubStore

_MIGRATION_LOCK_KEY = 72_727_001  # pg_advisory_xact_lock key: one migrating worker at a time


class Store:
    """The owner of the database: opens it, migrates it, closes it, and hands out narrow stores.

    Code that needs stored state receives only the piece it works with: `feeds` (polling state),
    `stories` (what has been seen), `deliveries` (claimed under leases and settled by the
    worker), `queue` (what a person sees and changes by hand), `platforms` (pauses, pacing
    history, meta), and the smaller `media`, `health`, `notices`, `spend`, `review`, `websub`
    and `hosted`. All share one Database: one engine, one clock, one write lock.
    """

    def __init__(self, engine: Engine, db_clock: Callable[[], float] | None = None) -> None:
        self.db = Database(engine, db_clock)
        self.engine = engine
        self.is_postgres = self.db.is_postgres
        self.feeds = FeedStore(self.db)
        self.stories = StoryStore(self.db)
        self.deliveries = DeliveryStore(self.db)
        self.queue = QueueStore(self.db)
        self.platforms = PlatformStore(self.db)
        self.media = MediaStore(self.db)
        self.health = HealthStore(self.db)
        self.notices = NoticeStore(self.db)
        self.spend = SpendStore(self.db)
        self.review = ReviewStore(self.db)
        self.websub = WebSubStore(self.db)
        self.hosted = HostedImageStore(self.db)

    def db_now(self) -> float:
        """The database's clock, in epoch seconds (leases are database times)."""
        return self.deliveries.db_now()

    @classmethod
    def open(cls, url: str, *, db_clock: Callable[[], float] | None = None) -> Store:
        """Connect (creating the SQLite folder on first use) and migrate to the latest schema.

        Raises StoreUnavailable (exit 2) with one line naming DATABASE_URL or the folder, and
        the fix, when the database cannot be reached, created or written. `db_clock` stands in
        for the database's clock in tests.
        """
        engine: Engine | None = None
        if url.startswith("sqlite") and (problem := sqlite_preflight(url)) is not None:
            raise problem
        try:
            engine = _sqlite_engine(url) if url.startswith("sqlite") else _postgres_engine(url)
            store = cls(engine, db_clock)
            store.migrate()
        except (OSError, SQLAlchemyError) as exc:
            if engine is not None:
                engine.dispose()
            kind, message = describe(url, exc)
            raise StoreUnavailable(message, kind) from exc
        return store

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> int:
        """Apply pending migrations, each step with its version row, all in one transaction;
        safe when several workers start at once (PostgreSQL: an advisory lock; SQLite: the
        write lock BEGIN IMMEDIATE takes). A store newer than this code is refused untouched."""
        with self.engine.begin() as conn:
            if self.is_postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
            version = migrations.current_version(conn)
            latest = len(migrations.STEPS)
            if version > latest:
                raise StoreTooNew(version, latest)
            for number, upgrade in migrations.pending(version):
                upgrade(conn)
                conn.execute(
                    insert(schema.schema_version).values(version=number, applied_at=_now_epoch())
                )
            return latest

    def schema_version(self) -> int:
        """The version this store is at (for `status`)."""
        with self.engine.connect() as conn:
            conn.execution_options(feedbot_read=True)
            return migrations.current_version(conn)


class StoreTooNew(ConfigError):
    """The store was upgraded by a later release: this code must not guess at its tables."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(
            f"the store (DATABASE_URL) is at schema version {found}, but this release of feedbot "
            f"({__version__}) knows versions up to {known}: it was upgraded by a later release. "
            "Run that release or a newer one, or restore the backup taken before the upgrade; "
            "nothing in the store was changed.",
            variable="DATABASE_URL",
        )
        self.found = found
        self.known = known


def _postgres_engine(url: str) -> Engine:
    """A pooled engine; a host that never answers fails after 10 s instead of hanging a health
    check (a connect_timeout in the URL itself wins)."""
    connect_args = {} if "connect_timeout=" in url else {"connect_timeout": 10}
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=connect_args
    )


def _private_file(path: Path) -> None:
    """The store holds what was posted and when, and a folder we create holds nothing else:
    the folder is made 0700 and the database 0600 (created empty so SQLite never makes it with
    the process umask). Existing folders are left as their owner set them; an existing database
    file is narrowed to 0600. SQLite's -wal and -shm files take the database's mode."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
        folder.chmod(0o700)  # mkdir's mode is cut by the umask
    if not path.exists():
        # A folder we may not write in: SQLite's own error says so (bot.store.problems).
        with contextlib.suppress(OSError):
            path.touch(mode=0o600, exist_ok=False)
    with contextlib.suppress(OSError):  # not ours to change (another user's file): SQLite decides
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)


def _sqlite_engine(url: str) -> Engine:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        _private_file(Path(path).expanduser())
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        # The busy timeout first: switching a new file to WAL takes a lock, and several
        # processes opening the same fresh store at once would otherwise get "database is
        # locked" from the switch instead of waiting their turn.
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MB: the seen-story indexes stay hot
        cursor.execute("PRAGMA mmap_size=268435456")  # and beyond it, reads are memory reads
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading;
        # reads (StoreBase._read) begin deferred and run beside a writer.
        if conn.get_execution_options().get("feedbot_read"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _now_epoch() -> float:
    import time

    return time.time()
