"""Transactions: short write transactions (serialised per process on SQLite) and deferred reads."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Float, and_, literal, literal_column, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

_PG_NOW = "CAST(EXTRACT(EPOCH FROM now()) AS DOUBLE PRECISION)"
_SQLITE_NOW = "((julianday('now') - 2440587.5) * 86400.0)"


class Database:
    """The one connection every narrow store shares: engine, clock, and the write lock.

    Lease times are read from the DATABASE's clock (`now()` on PostgreSQL, the host's on
    SQLite), never from a worker's: two workers whose clocks disagree by minutes still agree on
    whether a lease has run out. `db_clock` replaces it in tests (an injected clock). The write
    lock is shared so that, on SQLite, the threads of one process queue here whichever narrow
    store they write through.
    """

    def __init__(self, engine: Engine, db_clock: Callable[[], float] | None = None) -> None:
        self.engine = engine
        self.db_clock = db_clock
        self.is_postgres = engine.dialect.name == "postgresql"
        self.write_lock: AbstractContextManager[object] = (
            contextlib.nullcontext() if self.is_postgres else threading.RLock()
        )


class StoreBase:
    """What every narrow store shares: write and read transactions on the one Database.

    Each narrow store (feeds, stories, deliveries, platforms...) is built on the same Database,
    so they see one clock and one write lock; the owner (bot.store.Store) opens, migrates and
    closes it.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.engine = db.engine
        self.is_postgres = db.is_postgres

    @property
    def db_clock(self) -> Callable[[], float] | None:
        return self.db.db_clock

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """A write transaction. On SQLite the threads of one process queue on a lock here
        instead of in SQLite's busy handler, which sleeps milliseconds between retries."""
        with self.db.write_lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read-only transaction: on SQLite a deferred BEGIN, so readers never wait for the
        write lock (WAL lets them read beside a writer)."""
        with self.engine.connect() as conn:
            conn.execution_options(feedbot_read=True)
            yield conn

    def _db_now_sql(self) -> Any:
        if self.db_clock is not None:
            return literal(self.db_clock(), Float)
        return literal_column(_PG_NOW if self.is_postgres else _SQLITE_NOW, Float)

    def db_now(self, conn: Connection | None = None) -> float:
        """The database's clock, in epoch seconds."""
        if self.db_clock is not None:
            return self.db_clock()
        if conn is not None:
            return float(conn.execute(select(self._db_now_sql())).scalar_one())
        with self._read() as own:
            return float(own.execute(select(self._db_now_sql())).scalar_one())

    def _insert_ignore(self, table: Any) -> Any:
        """INSERT … ON CONFLICT DO NOTHING, in the dialect at hand."""
        if self.is_postgres:
            # Imported here: SQLAlchemy's PostgreSQL dialect costs `status` on SQLite ~30 ms.
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        return sqlite_insert(table).on_conflict_do_nothing()

    @staticmethod
    def _lease_free(table: Any, db_now: float, grace: float = 0.0) -> Any:
        """Nobody holds the row: no lease, or one that ran out (`grace` seconds ago)."""
        return or_(table.c.lease_until.is_(None), table.c.lease_until + grace < db_now)

    @staticmethod
    def _held_by(table: Any, row_id: int, owner: str | None, token: int | None) -> Any:
        """The fence: the row is still under the lease it was claimed with (owner and token).
        Every change to a claimed row carries it; zero rows changed means the lease is lost."""
        return and_(
            table.c.id == row_id,
            table.c.lease_owner.is_not_distinct_from(owner),
            table.c.lease_token == (token or 0),
        )

    def _claim_rows(
        self,
        table: Any,
        conditions: Callable[[float], list[Any]],
        order: tuple[Any, ...],
        owner: str,
        lease: float,
        limit: int | None,
    ) -> list[Any]:
        """Lease up to `limit` rows matching `conditions(db_now)` to `owner`, in `order`.

        PostgreSQL skips rows another worker is claiming (SKIP LOCKED); on both back-ends one
        UPDATE re-checks that the lease is free, so a row is never handed to two workers. Each
        claim bumps the row's lease token, which fences off whoever held it before.
        """
        with self._tx() as conn:
            db_now = self.db_now(conn)
            where = and_(*conditions(db_now))
            query = select(table.c.id).where(where).order_by(*order).limit(limit)
            if self.is_postgres:
                query = query.with_for_update(skip_locked=True)
            ids = list(conn.execute(query).scalars())
            if not ids:
                return []
            until = db_now + lease
            conn.execute(
                update(table)
                .where(and_(table.c.id.in_(ids), where))
                .values(
                    lease_owner=owner,
                    lease_until=until,
                    lease_token=table.c.lease_token + 1,
                )
            )
            mine = and_(
                table.c.id.in_(ids), table.c.lease_owner == owner, table.c.lease_until == until
            )
            return list(conn.execute(select(table).where(mine).order_by(*order)).all())
