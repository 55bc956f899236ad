"""Deliveries: one per (story, platform), claimed with leases, moved through their states."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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
from bot.store.schema import deliveries, feeds, platform_state, stories

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
            ~_PAUSED,  # checked in the claim itself: once `pause` commits, nothing more is taken
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
        order = (deliveries.c.next_attempt_at, deliveries.c.id)
        rows = self._claim_rows(deliveries, conditions, order, now, owner, lease, limit)
        return [delivery_row(r) for r in rows]

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
                for owner in [o for o in owners if owner_is_dead(o)]:
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
            record_event(conn, now, "attempt", story_id=story_id, delivery_id=delivery_id)

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
        query = (
            select(deliveries, stories.c.title, stories.c.url.label("story_url"))
            .join(stories, stories.c.id == deliveries.c.story_id)
            .where(and_(*conditions))
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
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
                claimed=r.lease_until is not None and r.lease_until >= now,
            )
            for r in rows
        ]

    def sent_history(self, *, platform: str | None = None, limit: int = 20) -> list[HistoryEntry]:
        """What went out (published, not dry run), newest first."""
        conditions = [deliveries.c.status == S.PUBLISHED.value]
        if platform:
            conditions.append(deliveries.c.platform == platform)
        query = (
            select(deliveries, stories.c.title, stories.c.url.label("story_url"))
            .join(stories, stories.c.id == deliveries.c.story_id)
            .where(and_(*conditions))
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
        self.expire_dead_leases(now)  # a killed worker's claim need not block a cancel
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
        self.expire_dead_leases(now)
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
            claimed = found.lease_until is not None and found.lease_until >= now
            if before.status not in from_statuses or claimed:
                return HandChange(before, done=False, claimed=claimed)
            changed = conn.execute(
                update(deliveries)
                .where(
                    and_(
                        deliveries.c.id == delivery_id,
                        deliveries.c.status.in_(list(from_statuses)),
                        self._lease_free(deliveries, now),
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
