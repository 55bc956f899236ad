"""A person's hand on the queue: what waits (`queue`), what went out (`history`), and the
changes `cancel` and `retry` make.

Each change re-checks status and lease in the same statement a worker's claim has to get past,
so a delivery is either claimed by a worker or changed by hand, never both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, select, update

from bot.store.base import StoreBase
from bot.store.delivery_leases import free_dead_leases
from bot.store.rows import HandChange, HistoryEntry, QueueEntry, S, delivery_row, record_event
from bot.store.schema import deliveries, stories

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


class QueueStore(StoreBase):
    """The queue as a person sees and changes it (`queue`, `cancel`, `retry`, `history`)."""

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
        self._free_dead_leases()  # a killed worker's claim need not block a cancel
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
        self._free_dead_leases()
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

    def _free_dead_leases(self) -> None:
        with self._tx() as conn:
            free_dead_leases(conn, self.db_now(conn))


def _with_story(conditions: list[Any]) -> Any:
    """Deliveries matching `conditions`, each with its story's title and URL (queue, history)."""
    return (
        select(deliveries, stories.c.title, stories.c.url.label("story_url"))
        .join(stories, stories.c.id == deliveries.c.story_id)
        .where(and_(*conditions))
    )
