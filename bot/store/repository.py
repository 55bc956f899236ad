"""The store the engine talks to: one truth for seen stories, deliveries and pacing.

Everything that must survive a crash lives here, and every state change is one short transaction,
so a process killed at any instant leaves a consistent database. Work shared by several workers
(feeds to poll, deliveries to send) is claimed with a lease: `FOR UPDATE SKIP LOCKED` on
PostgreSQL and a conditional update under SQLite's single-writer lock, so exactly one worker
handles each row, and a dead worker's claims expire.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Float,
    Text,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bot.models import DeliveryStatus, Post, PublishResult, Story
from bot.store import schema
from bot.store.codec import post_from_json, post_to_json, story_from_json, story_to_json
from bot.store.schema import deliveries, events, feeds, meta, platform_state, stories

S = DeliveryStatus
_MIGRATION_LOCK_KEY = 72_727_001  # pg_advisory_xact_lock key: one migrating worker at a time


@dataclass(frozen=True, slots=True)
class FeedRow:
    id: int
    url: str
    current_url: str
    etag: str | None
    last_modified: str | None
    initialized: bool
    failures: int
    next_poll_at: float
    last_polled_at: float | None
    last_success_at: float | None
    last_error: str | None
    disabled: bool


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    story_id: int
    platform: str
    seq: int
    status: str
    post: Post
    attempts: int
    failures: int
    next_attempt_at: float
    first_attempt_at: float | None
    sending_since: float | None
    uncertain: bool
    reason: str | None
    remote_id: str | None
    remote_url: str | None
    recovery: dict[str, str]
    created_at: float


@dataclass(frozen=True, slots=True)
class FeedUpdate:
    """A successful poll of one feed, as written back in the cycle's batch."""

    feed_id: int
    etag: str | None
    last_modified: str | None
    current_url: str | None
    next_poll_at: float
    initialized: bool = True


@dataclass(frozen=True, slots=True)
class NewDelivery:
    platform: str
    post: Post
    status: str = S.QUEUED
    reason: str | None = None
    next_attempt_at: float = 0.0


def worker_id() -> str:
    """host:pid:random: unique per process, and tells a same-host restart that we are dead."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


def _owner_is_dead(owner: str | None) -> bool:
    """True when `owner` ran on this host and its process is gone (a crash we can see)."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Store:
    """Repository over SQLAlchemy Core; safe for several threads and several processes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"
        self._seen_sql_cache: dict[tuple[int, int], str] = {}
        self._write_lock: AbstractContextManager[object] = (
            contextlib.nullcontext() if self.is_postgres else threading.RLock()
        )

    # --- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect (creating the SQLite folder on first use) and migrate to the latest schema."""
        if url.startswith("sqlite"):
            engine = _sqlite_engine(url)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        store = cls(engine)
        store.migrate()
        return store

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> int:
        """Apply pending migrations; safe when several workers start at once."""
        with self.engine.begin() as conn:
            if self.is_postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
            version = schema.current_version(conn)
            for number, migration in enumerate(schema.MIGRATIONS, start=1):
                if number <= version:
                    continue
                migration(conn)
                conn.execute(
                    insert(schema.schema_version).values(version=number, applied_at=_now_epoch())
                )
            return max(version, schema.LATEST)

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

    # --- feeds -------------------------------------------------------------------------------

    def ensure_feeds(self, urls: Iterable[str]) -> None:
        """Add the configured feeds the store does not know yet (workers may race: fine)."""
        with self._read() as conn:
            known = set(conn.execute(select(feeds.c.url)).scalars())
        missing = [
            {"url": url, "current_url": url} for url in dict.fromkeys(urls) if url not in known
        ]
        if missing:
            with self._tx() as conn:
                conn.execute(self._insert_ignore(feeds), missing)

    def claim_feeds(
        self,
        urls: Sequence[str],
        now: float,
        owner: str,
        lease: float,
        *,
        force: bool = False,
        limit: int | None = None,
        not_polled_since: float | None = None,
    ) -> list[FeedRow]:
        """Claim the configured feeds that are due (the longest-waiting first).

        `force` (a person's `poll`) also takes feeds another worker polled recently, but never
        one that is backing off after failures: the publisher's server is owed that politeness.
        `limit` takes only a share, so several workers split hundreds of feeds between them;
        `not_polled_since` leaves out feeds already polled in this cycle.
        """
        conditions = [
            feeds.c.url.in_(list(urls)),
            feeds.c.disabled.is_(False),
            self._lease_free(feeds, now),
        ]
        if not_polled_since is not None:
            conditions.append(
                or_(feeds.c.last_polled_at.is_(None), feeds.c.last_polled_at < not_polled_since)
            )
        if force:
            conditions.append(or_(feeds.c.failures == 0, feeds.c.next_poll_at <= now))
        else:
            conditions.append(feeds.c.next_poll_at <= now)
        with self._tx() as conn:
            query = (
                select(feeds.c.id)
                .where(and_(*conditions))
                .order_by(feeds.c.next_poll_at, feeds.c.id)
                .limit(limit)
            )
            if self.is_postgres:
                query = query.with_for_update(skip_locked=True)
            ids = [row.id for row in conn.execute(query)]
            if not ids:
                return []
            until = now + lease
            claimed = and_(feeds.c.id.in_(ids), feeds.c.lease_owner == owner)
            conn.execute(  # one statement for the share; the lease check guards races
                update(feeds)
                .where(and_(feeds.c.id.in_(ids), self._lease_free(feeds, now)))
                .values(lease_owner=owner, lease_until=until)
            )
            rows = conn.execute(
                select(feeds)
                .where(and_(claimed, feeds.c.lease_until == until))
                .order_by(feeds.c.next_poll_at, feeds.c.id)
            ).all()
        return [_feed_row(r) for r in rows]

    def feed_polled(
        self,
        feed_id: int,
        now: float,
        *,
        etag: str | None,
        last_modified: str | None,
        current_url: str | None = None,
        initialized: bool = True,
        next_poll_at: float = 0.0,
    ) -> None:
        """Record one successful poll (see `feeds_polled`)."""
        update_ = FeedUpdate(feed_id, etag, last_modified, current_url, next_poll_at, initialized)
        self.feeds_polled([update_], now)

    def feeds_polled(self, updates: Sequence[FeedUpdate], now: float) -> None:
        """Record a cycle's successful polls in one transaction: new validators, the new address
        after a permanent redirect, and `next_poll_at`, which keeps other workers from polling
        the feed again within the same interval."""
        if not updates:
            return
        statement = (
            update(feeds)
            .where(feeds.c.id == bindparam("b_id"))
            .values(
                etag=bindparam("b_etag"),
                last_modified=bindparam("b_lm"),
                current_url=func.coalesce(bindparam("b_url", type_=Text), feeds.c.current_url),
                initialized_at=func.coalesce(
                    feeds.c.initialized_at, bindparam("b_init", type_=Float)
                ),
                last_polled_at=bindparam("b_now"),
                last_success_at=bindparam("b_now"),
                last_error=None,
                failures=0,
                next_poll_at=bindparam("b_next"),
                lease_owner=None,
                lease_until=None,
            )
        )
        params = [
            {
                "b_id": u.feed_id,
                "b_etag": u.etag,
                "b_lm": u.last_modified,
                "b_url": u.current_url,
                "b_init": now if u.initialized else None,
                "b_now": now,
                "b_next": u.next_poll_at,
            }
            for u in updates
        ]
        with self._tx() as conn:
            conn.execute(statement, params)

    def feed_failed(
        self, feed_id: int, now: float, error: str, *, next_poll_at: float, disabled: bool = False
    ) -> int:
        """Record a failure; returns the new consecutive-failure count."""
        with self._tx() as conn:
            conn.execute(
                update(feeds)
                .where(feeds.c.id == feed_id)
                .values(
                    last_polled_at=now,
                    last_error=error,
                    failures=feeds.c.failures + 1,
                    next_poll_at=next_poll_at,
                    disabled=disabled,
                    lease_owner=None,
                    lease_until=None,
                )
            )
            return int(conn.execute(select(feeds.c.failures).where(feeds.c.id == feed_id)).scalar())

    def feed_rows(self) -> list[FeedRow]:
        with self._read() as conn:
            return [_feed_row(r) for r in conn.execute(select(feeds).order_by(feeds.c.id))]

    # --- stories -----------------------------------------------------------------------------

    def unseen(self, candidates: Sequence[Story]) -> list[Story]:
        """The candidates whose identity and canonical URL are both unknown (in input order).

        The hottest query of a poll (once per feed that changed): plain SQL on the driver,
        built once per size, since SQLAlchemy's statement building cost more than the lookup.
        """
        if not candidates:
            return []
        identities = list({s.identity for s in candidates})
        urls = list({s.url for s in candidates if s.url})
        seen_ids: set[str] = set()
        seen_urls: set[str] = set()
        with self._read() as conn:
            for start in range(0, max(len(identities), len(urls)), 400):
                ids, links = identities[start : start + 400], urls[start : start + 400]
                sql = self._seen_sql(len(ids), len(links))
                for identity, url in conn.exec_driver_sql(sql, (*ids, *links)):
                    if identity is not None:
                        seen_ids.add(identity)
                    if url is not None:
                        seen_urls.add(url)
        fresh: list[Story] = []
        batch_ids: set[str] = set()
        batch_urls: set[str] = set()
        for story in candidates:
            if story.identity in seen_ids or story.identity in batch_ids:
                continue
            if story.url and (story.url in seen_urls or story.url in batch_urls):
                continue
            batch_ids.add(story.identity)
            if story.url:
                batch_urls.add(story.url)
            fresh.append(story)
        return fresh

    def add_story(
        self,
        story: Story,
        now: float,
        *,
        status: str,
        reason: str | None = None,
        new_deliveries: Sequence[NewDelivery] = (),
    ) -> int | None:
        """Insert a story and its deliveries atomically; None when it was already known."""
        return self.add_stories([(story, new_deliveries)], now, status=status, reason=reason)[0]

    def add_stories(
        self,
        items: Sequence[tuple[Story, Sequence[NewDelivery]]],
        now: float,
        *,
        status: str = "queued",
        reason: str | None = None,
    ) -> list[int | None]:
        """Insert stories with their deliveries in one transaction, each story all-or-nothing
        (a savepoint): the ids, or None for a story another worker recorded first."""
        ids: list[int | None] = []
        with self._tx() as conn:
            for story, new_deliveries in items:
                try:
                    with conn.begin_nested():
                        story_id = conn.execute(
                            _INSERT_STORY,
                            {
                                "identity": story.identity,
                                "url": story.url,
                                "feed_url": story.feed_url,
                                "title": story.title,
                                "published_at": story.published.timestamp(),
                                "first_seen_at": now,
                                "status": status,
                                "reason": reason,
                                "data": story_to_json(story),
                            },
                        ).scalar_one()
                        for d in new_deliveries:
                            _insert_delivery(conn, story_id, d, now)
                    ids.append(int(story_id))
                except IntegrityError:
                    ids.append(None)
        return ids

    def add_skipped(self, skipped: Sequence[tuple[Story, str]], now: float) -> None:
        """Record many stories as seen-and-skipped (backlog, age, filters) in one transaction.

        The story row itself is the audit record (first seen, status, reason): a first poll of
        a large feed group writes tens of thousands of these, so no event rows are added.
        Stories already known are left as they are.
        """
        if not skipped:
            return
        rows = [
            (
                story.identity,
                story.url,
                story.feed_url,
                story.title,
                story.published.timestamp(),
                now,
                "skipped",
                reason,
                story_to_json(story),
            )
            for story, reason in skipped
        ]
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        sql = (
            "INSERT INTO stories (identity, url, feed_url, title, published_at, first_seen_at,"
            f" status, reason, data) VALUES ({', '.join([mark] * 9)}) ON CONFLICT DO NOTHING"
        )
        with self._tx() as conn:  # the driver's executemany: first polls write thousands
            conn.exec_driver_sql(sql, rows)

    def story_by_url(self, url: str) -> tuple[int, Story] | None:
        with self._read() as conn:
            row = conn.execute(
                select(stories.c.id, stories.c.data).where(
                    or_(stories.c.url == url, stories.c.identity == f"url:{url}")
                )
            ).first()
        return (int(row.id), story_from_json(row.data)) if row else None

    def story_count(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(stories)).scalar())

    # --- deliveries --------------------------------------------------------------------------

    def add_delivery(self, story_id: int, d: NewDelivery, now: float, *, seq: int = 0) -> int:
        with self._tx() as conn:
            return _insert_delivery(conn, story_id, d, now, seq=seq)

    def replace_post(self, delivery_id: int, post: Post, now: float) -> None:
        """A manual `--text` replaces the composed text of a delivery not yet sent."""
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(post=post_to_json(post), updated_at=now)
            )

    def deliveries_for_story(self, story_id: int) -> list[DeliveryRow]:
        with self._read() as conn:
            rows = conn.execute(
                select(deliveries)
                .where(deliveries.c.story_id == story_id)
                .order_by(deliveries.c.platform, deliveries.c.seq)
            ).all()
        return [_delivery_row(r) for r in rows]

    def delivery(self, delivery_id: int) -> DeliveryRow:
        with self._read() as conn:
            row = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).one()
        return _delivery_row(row)

    def claim_due(
        self,
        platform: str,
        now: float,
        owner: str,
        lease: float,
        *,
        limit: int = 1,
        only_ids: Sequence[int] | None = None,
    ) -> list[DeliveryRow]:
        """Claim up to `limit` due deliveries of one platform, oldest first."""
        conditions = [
            deliveries.c.platform == platform,
            deliveries.c.status.in_([S.QUEUED.value, S.DEFERRED.value]),
            deliveries.c.next_attempt_at <= now,
            self._lease_free(deliveries, now),
        ]
        if only_ids is not None:
            conditions.append(deliveries.c.id.in_(list(only_ids)))
        return self._claim(conditions, now, owner, lease, limit)

    def claim_stale_sending(
        self,
        now: float,
        owner: str,
        lease: float,
        *,
        platform: str | None = None,
        limit: int = 1000,
    ) -> list[DeliveryRow]:
        """Claim deliveries left in `sending` by a worker whose lease ran out (or that died)."""
        self.expire_dead_leases(now)
        conditions = [deliveries.c.status == S.SENDING.value, self._lease_free(deliveries, now)]
        if platform:
            conditions.append(deliveries.c.platform == platform)
        return self._claim(conditions, now, owner, lease, limit)

    def _claim(
        self, conditions: list[Any], now: float, owner: str, lease: float, limit: int
    ) -> list[DeliveryRow]:
        with self._tx() as conn:
            query = (
                select(deliveries.c.id)
                .where(and_(*conditions))
                .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
                .limit(limit)
            )
            if self.is_postgres:
                query = query.with_for_update(skip_locked=True)
            ids = list(conn.execute(query).scalars())
            claimed = []
            for delivery_id in ids:
                result = conn.execute(
                    update(deliveries)
                    .where(and_(deliveries.c.id == delivery_id, self._lease_free(deliveries, now)))
                    .values(lease_owner=owner, lease_until=now + lease)
                )
                if result.rowcount == 1:
                    claimed.append(delivery_id)
            if not claimed:
                return []
            rows = conn.execute(
                select(deliveries)
                .where(deliveries.c.id.in_(claimed))
                .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            ).all()
        return [_delivery_row(r) for r in rows]

    def renew_lease(self, delivery_id: int, owner: str, until: float) -> bool:
        with self._tx() as conn:
            result = conn.execute(
                update(deliveries)
                .where(and_(deliveries.c.id == delivery_id, deliveries.c.lease_owner == owner))
                .values(lease_until=until)
            )
            return result.rowcount == 1

    def release(self, delivery_ids: Sequence[int], owner: str) -> None:
        """Give back claimed deliveries this worker will not process now (pacing, stopping)."""
        if not delivery_ids:
            return
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(
                    and_(deliveries.c.id.in_(list(delivery_ids)), deliveries.c.lease_owner == owner)
                )
                .values(lease_owner=None, lease_until=None)
            )

    def expire_dead_leases(self, now: float) -> int:
        """Free leases whose owner ran on this host and is gone: a restart need not wait."""
        expired = 0
        with self._tx() as conn:
            for table in (deliveries, feeds):
                owners = conn.execute(
                    select(table.c.lease_owner)
                    .where(and_(table.c.lease_owner.is_not(None), table.c.lease_until >= now))
                    .distinct()
                ).scalars()
                for owner in [o for o in owners if _owner_is_dead(o)]:
                    result = conn.execute(
                        update(table).where(table.c.lease_owner == owner).values(lease_until=0.0)
                    )
                    expired += result.rowcount
        return expired

    def mark_sending(self, delivery_id: int, now: float, story_id: int | None = None) -> None:
        """Committed before the API call, so a crash during it is always reconciled."""
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    status=S.SENDING.value,
                    attempts=deliveries.c.attempts + 1,
                    sending_since=now,
                    first_attempt_at=func.coalesce(deliveries.c.first_attempt_at, now),
                    updated_at=now,
                )
            )
            if story_id is None:
                story_id = conn.execute(
                    select(deliveries.c.story_id).where(deliveries.c.id == delivery_id)
                ).scalar()
            _event(conn, now, "attempt", story_id=story_id, delivery_id=delivery_id)

    def save_recovery(self, delivery_id: int, handles: Mapping[str, str], now: float) -> None:
        with self._tx() as conn:
            current = conn.execute(
                select(deliveries.c.recovery).where(deliveries.c.id == delivery_id)
            ).scalar()
            merged = {**(json.loads(current) if current else {}), **dict(handles)}
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(recovery=json.dumps(merged), updated_at=now)
            )

    def finish(
        self,
        row: DeliveryRow,
        status: DeliveryStatus,
        now: float,
        *,
        reason: str | None = None,
        result: PublishResult | None = None,
        next_attempt_at: float | None = None,
        count_failure: bool = False,
        uncertain: bool | None = None,
        event_kind: str | None = None,
    ) -> None:
        """Move a claimed delivery to its next state and release the lease, in one commit."""
        values: dict[str, Any] = {
            "status": status.value,
            "reason": reason,
            "updated_at": now,
            "lease_owner": None,
            "lease_until": None,
        }
        if status != S.SENDING:
            values["sending_since"] = None
        if result is not None:
            values.update(remote_id=result.remote_id, remote_url=result.remote_url)
        if status in (S.PUBLISHED, S.DRY_RUN):
            values["published_at"] = now
            values["uncertain"] = False
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        if count_failure:
            values["failures"] = deliveries.c.failures + 1
        if uncertain is not None:
            values["uncertain"] = uncertain
        with self._tx() as conn:
            conn.execute(update(deliveries).where(deliveries.c.id == row.id).values(**values))
            detail = reason or (result.remote_url or result.remote_id if result else None)
            _event(
                conn,
                now,
                event_kind or status.value,
                story_id=row.story_id,
                delivery_id=row.id,
                platform=row.platform,
                detail=detail,
            )
            if status == S.PUBLISHED:
                self._platform_update(conn, row.platform, last_success_at=now, last_post_at=now)

    def finish_dry_run(self, done: Sequence[tuple[DeliveryRow, PublishResult]], now: float) -> None:
        """Record a batch of dry-run "posts" in one transaction: nothing left the machine, so
        there is no attempt to make crash-safe, only the result to keep."""
        if not done:
            return
        statement = (
            update(deliveries)
            .where(deliveries.c.id == bindparam("b_id"))
            .values(
                status=S.DRY_RUN.value,
                reason=None,
                remote_id=bindparam("b_remote"),
                updated_at=now,
                published_at=now,
                sending_since=None,
                uncertain=False,
                lease_owner=None,
                lease_until=None,
            )
        )
        with self._tx() as conn:
            conn.execute(statement, [{"b_id": row.id, "b_remote": r.remote_id} for row, r in done])
            conn.execute(
                _INSERT_EVENT,
                [
                    {
                        "at": now,
                        "kind": S.DRY_RUN.value,
                        "story_id": row.story_id,
                        "delivery_id": row.id,
                        "platform": row.platform,
                        "feed_url": None,
                        "detail": r.remote_id,
                    }
                    for row, r in done
                ],
            )

    # --- platforms ---------------------------------------------------------------------------

    def platform_states(self) -> dict[str, dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(select(platform_state)).mappings().all()
        return {r["platform"]: dict(r) for r in rows}

    def pause_platform(self, platform: str, reason: str, now: float) -> bool:
        """Pause; returns True when it was not paused before (so the loud line is logged once)."""
        with self._tx() as conn:
            was = conn.execute(
                select(platform_state.c.paused).where(platform_state.c.platform == platform)
            ).scalar()
            self._platform_update(
                conn,
                platform,
                paused=True,
                paused_reason=reason,
                paused_at=now,
                last_error=reason,
                last_error_at=now,
            )
            if not was:
                _event(conn, now, "paused", platform=platform, detail=reason)
            return not was

    def resume_platform(self, platform: str, now: float) -> None:
        with self._tx() as conn:
            self._platform_update(conn, platform, paused=False, paused_reason=None)
            _event(conn, now, "resumed", platform=platform)

    def platform_error(self, platform: str, error: str, now: float) -> None:
        with self._tx() as conn:
            self._platform_update(conn, platform, last_error=error, last_error_at=now)

    def _platform_update(self, conn: Connection, platform: str, **values: Any) -> None:
        exists = conn.execute(
            select(platform_state.c.platform).where(platform_state.c.platform == platform)
        ).first()
        if exists:
            conn.execute(
                update(platform_state).where(platform_state.c.platform == platform).values(**values)
            )
        else:
            try:
                with conn.begin_nested():
                    conn.execute(insert(platform_state).values(platform=platform, **values))
            except IntegrityError:
                conn.execute(
                    update(platform_state)
                    .where(platform_state.c.platform == platform)
                    .values(**values)
                )

    def hold_platform(self, platform: str, until: float, reason: str, now: float) -> None:
        with self._tx() as conn:
            self._platform_update(
                conn,
                platform,
                hold_until=until,
                hold_reason=reason,
                last_error=reason,
                last_error_at=now,
            )

    def last_post_at(self, platform: str) -> float | None:
        with self._read() as conn:
            return conn.execute(
                select(func.max(deliveries.c.published_at)).where(
                    and_(deliveries.c.platform == platform, deliveries.c.status == S.PUBLISHED)
                )
            ).scalar()

    def published_since(self, platform: str, since: float) -> list[float]:
        """Publish times on `platform` since `since`, oldest first (for MAX_POSTS_PER_HOUR)."""
        with self._read() as conn:
            return list(
                conn.execute(
                    select(deliveries.c.published_at)
                    .where(
                        and_(
                            deliveries.c.platform == platform,
                            deliveries.c.status == S.PUBLISHED,
                            deliveries.c.published_at >= since,
                        )
                    )
                    .order_by(deliveries.c.published_at)
                ).scalars()
            )

    def delivery_counts(self, since: float) -> dict[str, dict[str, Any]]:
        """Per platform: count by status, published since `since`, next deferred time."""
        out: dict[str, dict[str, Any]] = {}
        with self._read() as conn:
            for platform, status, count in conn.execute(
                select(deliveries.c.platform, deliveries.c.status, func.count()).group_by(
                    deliveries.c.platform, deliveries.c.status
                )
            ):
                out.setdefault(platform, {})[status] = int(count)
            for platform, count in conn.execute(
                select(deliveries.c.platform, func.count())
                .where(and_(deliveries.c.status == S.PUBLISHED, deliveries.c.published_at >= since))
                .group_by(deliveries.c.platform)
            ):
                out.setdefault(platform, {})["published_24h"] = int(count)
            for platform, at in conn.execute(
                select(deliveries.c.platform, func.min(deliveries.c.next_attempt_at))
                .where(deliveries.c.status == S.DEFERRED)
                .group_by(deliveries.c.platform)
            ):
                out.setdefault(platform, {})["next_deferred_at"] = at
        return out

    def story_events(self, story_id: int) -> list[dict[str, Any]]:
        """The audit trail of one story: fetched (and skipped, and why) from its own row, then
        every event of its deliveries: composed, each attempt, each result."""
        with self._read() as conn:
            story = conn.execute(
                select(
                    stories.c.first_seen_at,
                    stories.c.feed_url,
                    stories.c.url,
                    stories.c.identity,
                    stories.c.status,
                    stories.c.reason,
                ).where(stories.c.id == story_id)
            ).one()
            rows = conn.execute(
                select(events).where(events.c.story_id == story_id).order_by(events.c.id)
            ).mappings()
            trail = [dict(r) for r in rows]
        head: list[dict[str, Any]] = [
            {
                "kind": "fetched",
                "at": story.first_seen_at,
                "story_id": story_id,
                "feed_url": story.feed_url,
                "detail": story.url or story.identity,
            },
        ]
        if story.status == "skipped":
            head.append(
                {
                    "kind": "skipped",
                    "at": story.first_seen_at,
                    "story_id": story_id,
                    "detail": story.reason,
                }
            )
        return head + trail

    def add_event(self, kind: str, now: float, **fields: Any) -> None:
        with self._tx() as conn:
            _event(conn, now, kind, **fields)

    # --- meta --------------------------------------------------------------------------------

    def set_meta(self, key: str, value: str | None) -> None:
        with self._tx() as conn:
            conn.execute(delete(meta).where(meta.c.key == key))
            if value is not None:
                conn.execute(insert(meta).values(key=key, value=value))

    def get_meta(self, key: str) -> str | None:
        with self._read() as conn:
            return conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()

    # --- helpers -----------------------------------------------------------------------------

    def _insert_ignore(self, table: Any) -> Any:
        """INSERT … ON CONFLICT DO NOTHING, in the dialect at hand."""
        return (pg_insert if self.is_postgres else sqlite_insert)(table).on_conflict_do_nothing()

    def _seen_sql(self, ids: int, urls: int) -> str:
        key = (ids, urls)
        sql = self._seen_sql_cache.get(key)
        if sql is None:
            mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
            parts = []
            if ids:
                in_ids = ", ".join([mark] * ids)
                # Each half reads only its own unique index (a covering index): the table's
                # rows, with their JSON, are never touched, however large the table grows.
                parts.append(f"SELECT identity, NULL FROM stories WHERE identity IN ({in_ids})")
            if urls:
                in_urls = ", ".join([mark] * urls)
                parts.append(f"SELECT NULL, url FROM stories WHERE url IN ({in_urls})")
            sql = self._seen_sql_cache[key] = " UNION ALL ".join(parts)
        return sql

    @staticmethod
    def _lease_free(table: Any, now: float) -> Any:
        return or_(table.c.lease_until.is_(None), table.c.lease_until < now)


def _sqlite_engine(url: str) -> Engine:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MB: the seen-story indexes stay hot
        cursor.execute("PRAGMA mmap_size=268435456")  # and beyond it, reads are memory reads
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading;
        # reads (Store._read) begin deferred and run beside a writer.
        if conn.get_execution_options().get("feedbot_read"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


_INSERT_STORY = insert(stories).returning(stories.c.id)
_INSERT_DELIVERY = insert(deliveries).returning(deliveries.c.id)
_INSERT_EVENT = insert(events)


def _insert_delivery(
    conn: Connection, story_id: int, d: NewDelivery, now: float, *, seq: int = 0
) -> int:
    delivery_id = conn.execute(
        _INSERT_DELIVERY,
        {
            "story_id": story_id,
            "platform": d.platform,
            "seq": seq,
            "status": d.status,
            "post": post_to_json(d.post),
            "reason": d.reason,
            "next_attempt_at": d.next_attempt_at,
            "created_at": now,
            "updated_at": now,
        },
    ).scalar_one()
    kind = "composed" if d.status == S.QUEUED else d.status
    detail = d.reason or ("manual re-post" if seq else None)
    _event(
        conn,
        now,
        kind,
        story_id=story_id,
        delivery_id=delivery_id,
        platform=d.platform,
        detail=detail,
    )
    return int(delivery_id)


_EVENT_FIELDS = ("story_id", "delivery_id", "platform", "feed_url", "detail")


def _event(conn: Connection, now: float, kind: str, **fields: Any) -> None:
    """One audit row; always the same statement shape, so it is compiled once."""
    row = {name: fields.get(name) for name in _EVENT_FIELDS}
    conn.execute(_INSERT_EVENT, {"at": now, "kind": kind, **row})


def _feed_row(r: Any) -> FeedRow:
    return FeedRow(
        id=r.id,
        url=r.url,
        current_url=r.current_url,
        etag=r.etag,
        last_modified=r.last_modified,
        initialized=r.initialized_at is not None,
        failures=r.failures,
        next_poll_at=r.next_poll_at,
        last_polled_at=r.last_polled_at,
        last_success_at=r.last_success_at,
        last_error=r.last_error,
        disabled=bool(r.disabled),
    )


def _delivery_row(r: Any) -> DeliveryRow:
    return DeliveryRow(
        id=r.id,
        story_id=r.story_id,
        platform=r.platform,
        seq=r.seq,
        status=r.status,
        post=post_from_json(r.post),
        attempts=r.attempts,
        failures=r.failures,
        next_attempt_at=r.next_attempt_at,
        first_attempt_at=r.first_attempt_at,
        sending_since=r.sending_since,
        uncertain=bool(r.uncertain),
        reason=r.reason,
        remote_id=r.remote_id,
        remote_url=r.remote_url,
        recovery=json.loads(r.recovery) if r.recovery else {},
        created_at=r.created_at,
    )


def _now_epoch() -> float:
    import time

    return time.time()
