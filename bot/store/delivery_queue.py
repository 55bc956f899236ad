"""Deliveries: one per (story, platform), claimed with leases, moved through their states."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    exists,
    func,
    select,
    update,
)

from bot.models import DeliveryStatus, Post, PublishResult
from bot.store.base import StoreBase
from bot.store.codec import post_to_json
from bot.store.platform_state import platform_update
from bot.store.rows import (
    INSERT_EVENT,
    DeliveryRow,
    HandChange,
    HistoryEntry,
    NewDelivery,
    QueueEntry,
    S,
    delivery_row,
    insert_delivery,
    owner_is_dead,
    record_event,
)
from bot.store.schema import deliveries, events, feeds, platform_state, stories

DUE_STATUSES = [S.QUEUED.value, S.DEFERRED.value, S.UNCONFIRMED.value, S.NEEDS_ATTENTION.value]
"""Claimed when their time comes; the waiting ones are looked up before anything is sent."""
IN_CHUNK = 500
"""Ids per IN (...) list: well under SQLite's and PostgreSQL's bound-parameter limits."""

PENDING_STATUSES = (
    "pending_approval",
    "queued",
    "deferred",
    "sending",
    "unconfirmed",
    "needs_attention",
)
"""What `queue` lists: every delivery not yet settled. Statuses are plain strings in the store;
`unconfirmed` and `needs_attention` (an attempt that may have gone out) may not exist yet."""
CANCELLABLE = (S.QUEUED.value, S.DEFERRED.value)
"""Only a delivery no attempt is under way for can be cancelled and be sure never to go out."""
RETRYABLE = (S.FAILED.value, S.CANCELLED.value)

_PAUSED = exists().where(
    and_(platform_state.c.platform == deliveries.c.platform, platform_state.c.paused.is_(True))
)


class DeliveryStore(StoreBase):
    """The deliveries' side of the store."""

    def add_delivery(self, story_id: int, d: NewDelivery, now: float, *, seq: int = 0) -> int:
        with self._tx() as conn:
            return insert_delivery(conn, story_id, d, now, seq=seq)

    def replace_post(self, delivery_id: int, post: Post, now: float) -> None:
        """A manual `--text` replaces the composed text of a delivery not yet sent."""
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(post=post_to_json(post), updated_at=now)
            )

    def reschedule(self, delivery_id: int, at: float, now: float) -> None:
        """`post URL --at TIME` for a story already waiting: it goes out at that time instead."""
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(
                    and_(
                        deliveries.c.id == delivery_id,
                        deliveries.c.status.in_([S.QUEUED.value, S.DEFERRED.value]),
                    )
                )
                .values(next_attempt_at=at, updated_at=now)
            )
            story_id = conn.execute(
                select(deliveries.c.story_id).where(deliveries.c.id == delivery_id)
            ).scalar()
            record_event(conn, now, "rescheduled", story_id=story_id, delivery_id=delivery_id)

    def deliveries_for_story(self, story_id: int) -> list[DeliveryRow]:
        return self.deliveries_for_stories([story_id])

    def deliveries_for_stories(self, story_ids: Sequence[int]) -> list[DeliveryRow]:
        """Every delivery of these stories, by story, platform and seq: one query per
        IN_CHUNK stories (a cycle's report asked once per story: 100 queries for 100)."""
        rows: list[Any] = []
        with self._read() as conn:
            for start in range(0, len(story_ids), IN_CHUNK):
                rows += conn.execute(
                    select(deliveries)
                    .where(deliveries.c.story_id.in_(story_ids[start : start + IN_CHUNK]))
                    .order_by(deliveries.c.story_id, deliveries.c.platform, deliveries.c.seq)
                ).all()
        return [delivery_row(r) for r in rows]

    def find_delivery(self, delivery_id: int) -> DeliveryRow | None:
        with self._read() as conn:
            row = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()
        return delivery_row(row) if row else None

    def delivery(self, delivery_id: int) -> DeliveryRow:
        with self._read() as conn:
            row = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).one()
        return delivery_row(row)

    def deliveries_unconfirmed(self) -> list[DeliveryRow]:
        """Deliveries whose outcome is not known because look-ups failed (`unconfirmed`, and
        `needs_attention` once they kept failing for hours): what `resolve` settles."""
        waiting = [S.UNCONFIRMED.value, S.NEEDS_ATTENTION.value]
        with self._read() as conn:
            rows = conn.execute(
                select(deliveries).where(deliveries.c.status.in_(waiting)).order_by(deliveries.c.id)
            ).all()
        return [delivery_row(r) for r in rows]

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
        """Claim up to `limit` due deliveries of one platform, oldest first. `now` (the
        worker's clock) says what is due; the lease itself is timed by the database's clock."""

        def conditions(db_now: float) -> list[Any]:
            found = [
                deliveries.c.platform == platform,
                deliveries.c.status.in_(DUE_STATUSES),
                deliveries.c.next_attempt_at <= now,
                self._lease_free(deliveries, db_now),
                ~_PAUSED,  # in the claim itself: once `pause` commits, nothing more is taken
            ]
            if only_ids is not None:
                found.append(deliveries.c.id.in_(list(only_ids)))
            return found

        return self._claim(conditions, owner, lease, limit)

    def claim_stale_sending(
        self,
        now: float,
        owner: str,
        lease: float,
        *,
        grace: float = 0.0,
        platforms: Sequence[str] | None = None,
        limit: int = 1000,
    ) -> list[DeliveryRow]:
        """Claim deliveries left in `sending` by a worker whose lease ran out at least `grace`
        seconds ago (or that died). `grace` is HTTP_TIMEOUT: a call the old owner started just
        before its lease ran out may still land that long after, and the look-up that follows
        this claim must see it."""
        self.expire_dead_leases()

        def conditions(db_now: float) -> list[Any]:
            found = [
                deliveries.c.status == S.SENDING.value,
                self._lease_free(deliveries, db_now, grace),
            ]
            if platforms is not None:  # only those this worker can look up
                found.append(deliveries.c.platform.in_(list(platforms)))
            return found

        return self._claim(conditions, owner, lease, limit)

    def claim_delivery(
        self, delivery_id: int, owner: str, lease: float, statuses: Sequence[str]
    ) -> DeliveryRow | None:
        """Claim one delivery by id when it is in one of `statuses` and nobody holds it."""

        def conditions(db_now: float) -> list[Any]:
            return [
                deliveries.c.id == delivery_id,
                deliveries.c.status.in_(list(statuses)),
                self._lease_free(deliveries, db_now),
            ]

        rows = self._claim(conditions, owner, lease, 1)
        return rows[0] if rows else None

    def _claim(
        self, conditions: Callable[[float], list[Any]], owner: str, lease: float, limit: int
    ) -> list[DeliveryRow]:
        order = (deliveries.c.next_attempt_at, deliveries.c.id)
        rows = self._claim_rows(deliveries, conditions, order, owner, lease, limit)
        return [delivery_row(r) for r in rows]

    def lookup_failures(self, row: DeliveryRow) -> tuple[int, float | None]:
        """Failed look-ups of this delivery since its last attempt: how many, and the first's
        time (read from the audit trail, so every failure is also on record)."""
        with self._read() as conn:
            trail = conn.execute(
                select(events.c.kind, events.c.at)
                .where(and_(events.c.story_id == row.story_id, events.c.delivery_id == row.id))
                .order_by(events.c.id)
            ).all()
        count, first = 0, None
        for kind, at in trail:
            if kind == "attempt":
                count, first = 0, None
            elif kind == "lookup_failed":
                count += 1
                first = at if first is None else first
        return count, first

    def renew_lease(self, row: DeliveryRow, lease: float) -> bool:
        """Extend a live lease by `lease` seconds of database time. False when the lease is
        lost (another claim took the row) or already ran out: the attempt must stop."""
        with self._tx() as conn:
            db_now = self.db_now(conn)
            result = conn.execute(
                update(deliveries)
                .where(
                    and_(
                        self._held_by(deliveries, row.id, row.lease_owner, row.lease_token),
                        deliveries.c.lease_until >= db_now,
                    )
                )
                .values(lease_until=db_now + lease)
            )
            return result.rowcount == 1

    def release(self, rows: Sequence[DeliveryRow]) -> None:
        """Give back claimed deliveries this worker will not process now (pacing, stopping)."""
        if not rows:
            return
        with self._tx() as conn:
            for row in rows:
                conn.execute(
                    update(deliveries)
                    .where(self._held_by(deliveries, row.id, row.lease_owner, row.lease_token))
                    .values(lease_owner=None, lease_until=None)
                )

    def expire_dead_leases(self) -> int:
        """Free leases whose owner ran in this boot and PID namespace and is gone: a restart
        need not wait for them (see `owner_is_dead`)."""
        expired = 0
        with self._tx() as conn:
            db_now = self.db_now(conn)
            for table in (deliveries, feeds):
                owners = conn.execute(
                    select(table.c.lease_owner)
                    .where(and_(table.c.lease_owner.is_not(None), table.c.lease_until >= db_now))
                    .distinct()
                ).scalars()
                for owner in [o for o in owners if owner_is_dead(o)]:
                    result = conn.execute(
                        update(table).where(table.c.lease_owner == owner).values(lease_until=0.0)
                    )
                    expired += result.rowcount
        return expired

    def mark_sending(self, row: DeliveryRow, lease: float) -> bool:
        """Committed before the API call, so a crash during it is always reconciled.

        Fenced and lease-renewing: False when the lease is lost, and then nothing may be sent.
        `sending_since` and `first_attempt_at` are database times, so the look-up after a crash
        covers the attempt whatever the clock of the worker that made it said.
        """
        with self._tx() as conn:
            db_now = self.db_now(conn)
            result = conn.execute(
                update(deliveries)
                .where(
                    and_(
                        self._held_by(deliveries, row.id, row.lease_owner, row.lease_token),
                        deliveries.c.lease_until >= db_now,
                    )
                )
                .values(
                    status=S.SENDING.value,
                    attempts=deliveries.c.attempts + 1,
                    sending_since=db_now,
                    first_attempt_at=func.coalesce(deliveries.c.first_attempt_at, db_now),
                    lease_until=db_now + lease,
                    updated_at=db_now,
                )
            )
            if result.rowcount != 1:
                return False
            record_event(conn, db_now, "attempt", story_id=row.story_id, delivery_id=row.id)
            return True

    def save_recovery(
        self, row: DeliveryRow, handles: Mapping[str, str], now: float, lease: float
    ) -> bool:
        """Keep the platform's ids of an attempt (fenced, and renewing the lease); False when
        the lease is lost: the adapter must not take its next step."""
        with self._tx() as conn:
            db_now = self.db_now(conn)
            held = and_(
                self._held_by(deliveries, row.id, row.lease_owner, row.lease_token),
                deliveries.c.lease_until >= db_now,
            )
            current = conn.execute(select(deliveries.c.recovery).where(held)).first()
            if current is None:
                return False
            merged = {**(json.loads(current[0]) if current[0] else {}), **dict(handles)}
            conn.execute(
                update(deliveries)
                .where(held)
                .values(recovery=json.dumps(merged), updated_at=now, lease_until=db_now + lease)
            )
            return True

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
    ) -> bool:
        """Move a claimed delivery to its next state and release the lease, in one commit.
        Fenced: False (nothing written) when the row is no longer under this row's lease."""
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
            held = self._held_by(deliveries, row.id, row.lease_owner, row.lease_token)
            if conn.execute(update(deliveries).where(held).values(**values)).rowcount != 1:
                return False
            detail = reason or (result.remote_url or result.remote_id if result else None)
            record_event(
                conn,
                now,
                event_kind or status.value,
                story_id=row.story_id,
                delivery_id=row.id,
                platform=row.platform,
                detail=detail,
            )
            if status == S.PUBLISHED:
                platform_update(conn, row.platform, last_success_at=now, last_post_at=now)
        return True

    def finish_dry_run(self, done: Sequence[tuple[DeliveryRow, PublishResult]], now: float) -> None:
        """Record a batch of dry-run "posts" in one transaction: nothing left the machine, so
        there is no attempt to make crash-safe, only the result to keep."""
        if not done:
            return
        statement = (
            update(deliveries)
            .where(
                and_(
                    deliveries.c.id == bindparam("b_id"),
                    deliveries.c.lease_owner == bindparam("b_owner"),
                    deliveries.c.lease_token == bindparam("b_token"),
                )
            )
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
            conn.execute(
                statement,
                [
                    {
                        "b_id": row.id,
                        "b_owner": row.lease_owner,
                        "b_token": row.lease_token,
                        "b_remote": r.remote_id,
                    }
                    for row, r in done
                ],
            )
            conn.execute(
                INSERT_EVENT,
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

    # --- a person's hand on the queue (queue, cancel, retry, history) -----------------------

    def pending_deliveries(self, now: float, platform: str | None = None) -> list[QueueEntry]:
        """Every delivery not yet settled, the next to go first."""
        conditions = [deliveries.c.status.in_(PENDING_STATUSES)]
        if platform:
            conditions.append(deliveries.c.platform == platform)
        query = _with_story(conditions).order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        with self._read() as conn:
            rows = conn.execute(query).all()
            db_now = self.db_now(conn)  # leases are database times
        return [
            QueueEntry(
                id=r.id,
                story_id=r.story_id,
                platform=r.platform,
                status=r.status,
                title=r.title,
                story_url=r.story_url,
                next_attempt_at=r.next_attempt_at,
                attempts=r.attempts,
                reason=r.reason,
                uncertain=bool(r.uncertain),
                claimed=r.lease_until is not None and r.lease_until >= db_now,
            )
            for r in rows
        ]

    def sent_history(self, *, platform: str | None = None, limit: int = 20) -> list[HistoryEntry]:
        """What went out (published, not dry run), newest first."""
        conditions = [deliveries.c.status == S.PUBLISHED.value]
        if platform:
            conditions.append(deliveries.c.platform == platform)
        query = (
            _with_story(conditions)
            .order_by(deliveries.c.published_at.desc(), deliveries.c.id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [
            HistoryEntry(
                id=r.id,
                story_id=r.story_id,
                platform=r.platform,
                title=r.title,
                story_url=r.story_url,
                published_at=r.published_at,
                remote_id=r.remote_id,
                remote_url=r.remote_url,
            )
            for r in rows
        ]

    def cancel_delivery(self, delivery_id: int, now: float) -> HandChange | None:
        """Cancel a queued or deferred delivery no worker holds; None when there is no such id.

        The update re-checks status and lease in the same statement a worker's claim would have
        to get past (SQLite's write lock, PostgreSQL's row lock), so a delivery is either claimed
        by a worker or cancelled, never both.
        """
        self.expire_dead_leases()  # a killed worker's claim need not block a cancel
        return self._hand_change(
            delivery_id,
            now,
            CANCELLABLE,
            {"status": S.CANCELLED.value, "reason": "cancelled by hand"},
            "cancelled",
        )

    def requeue_delivery(self, delivery_id: int, now: float) -> HandChange | None:
        """A failed or cancelled delivery queued again, due now, with a fresh count of attempts.

        `uncertain` is kept: when an earlier attempt may have gone out, the worker looks for the
        post before sending it again.
        """
        self.expire_dead_leases()
        return self._hand_change(
            delivery_id,
            now,
            RETRYABLE,
            {"status": S.QUEUED.value, "reason": None, "failures": 0, "next_attempt_at": now},
            "retried",
        )

    def hurry_delivery(self, delivery_id: int, now: float) -> HandChange | None:
        """A deferred delivery made due now (its retry time brought forward)."""
        return self._hand_change(
            delivery_id, now, (S.DEFERRED.value,), {"next_attempt_at": now}, "retried"
        )

    def _hand_change(
        self,
        delivery_id: int,
        now: float,
        from_statuses: Sequence[str],
        values: Mapping[str, Any],
        event: str,
    ) -> HandChange | None:
        with self._tx() as conn:
            found = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()
            if found is None:
                return None
            before = delivery_row(found)
            db_now = self.db_now(conn)  # leases are database times
            claimed = found.lease_until is not None and found.lease_until >= db_now
            if before.status not in from_statuses or claimed:
                return HandChange(before, done=False, claimed=claimed)
            changed = conn.execute(
                update(deliveries)
                .where(
                    and_(
                        deliveries.c.id == delivery_id,
                        deliveries.c.status.in_(list(from_statuses)),
                        self._lease_free(deliveries, db_now),
                    )
                )
                .values(**values, updated_at=now, lease_owner=None, lease_until=None)
            ).rowcount
            if changed != 1:  # claimed between our read and our update (PostgreSQL)
                return HandChange(before, done=False, claimed=True)
            record_event(
                conn,
                now,
                event,
                story_id=before.story_id,
                delivery_id=before.id,
                platform=before.platform,
                detail=f"by hand (was {before.status})",
            )
            return HandChange(before, done=True, claimed=False)


def _with_story(conditions: list[Any]) -> Any:
    """Deliveries matching `conditions`, each with its story's title and URL (queue, history)."""
    return (
        select(deliveries, stories.c.title, stories.c.url.label("story_url"))
        .join(stories, stories.c.id == deliveries.c.story_id)
        .where(and_(*conditions))
    )
