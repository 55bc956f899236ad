"""Transactions: short write transactions (serialised per process on SQLite) and deferred reads."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine


class StoreBase:
    """The connection handling every part of the store shares: write and read transactions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"
        self._seen_sql_cache: dict[tuple[int, int], str] = {}
        self._write_lock: AbstractContextManager[object] = (
            contextlib.nullcontext() if self.is_postgres else threading.RLock()
        )

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """A write transaction. On SQLite the threads of one process queue on a lock here
        instead of in SQLite's busy handler, which sleeps milliseconds between retries."""
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read-only transaction: on SQLite a deferred BEGIN, so readers never wait for the
        write lock (WAL lets them read beside a writer)."""
        with self.engine.connect() as conn:
            conn.execution_options(feedbot_read=True)
            yield conn

    def _insert_ignore(self, table: Any) -> Any:
        """INSERT … ON CONFLICT DO NOTHING, in the dialect at hand."""
        if self.is_postgres:
            # Imported here: SQLAlchemy's PostgreSQL dialect costs `status` on SQLite ~30 ms.
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        return sqlite_insert(table).on_conflict_do_nothing()

    @staticmethod
    def _lease_free(table: Any, now: float) -> Any:
        return or_(table.c.lease_until.is_(None), table.c.lease_until < now)

    def _claim_rows(
        self,
        table: Any,
        conditions: list[Any],
        order: tuple[Any, ...],
        now: float,
        owner: str,
        lease: float,
        limit: int | None,
    ) -> list[Any]:
        """Lease up to `limit` rows matching `conditions` to `owner`, in `order`.

        PostgreSQL skips rows another worker is claiming (SKIP LOCKED); on both back-ends one
        UPDATE re-checks that the lease is free, so a row is never handed to two workers.
        """
        with self._tx() as conn:
            query = select(table.c.id).where(and_(*conditions)).order_by(*order).limit(limit)
            if self.is_postgres:
                query = query.with_for_update(skip_locked=True)
            ids = list(conn.execute(query).scalars())
            if not ids:
                return []
            until = now + lease
            conn.execute(
                update(table)
                .where(and_(table.c.id.in_(ids), self._lease_free(table, now)))
                .values(lease_owner=owner, lease_until=until)
            )
            mine = and_(
                table.c.id.in_(ids), table.c.lease_owner == owner, table.c.lease_until == until
            )
            return list(conn.execute(select(table).where(mine).order_by(*order)).all())
