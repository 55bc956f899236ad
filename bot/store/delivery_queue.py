"""Deliveries: one per (story, platform), claimed with leases, moved through their states."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    and_,
    exists,
    select,
    update,
)

from bot.models import Post
from bot.store.codec import post_to_json
from bot.store.delivery_leases import DeliveryLeases
from bot.store.delivery_outcomes import DeliveryOutcomes
from bot.store.rows import (
    DeliveryRow,
    NewDelivery,
    S,
    delivery_row,
    insert_delivery,
    record_event,
)
from bot.store.schema import deliveries, events, platform_state

DUE_STATUSES = [S.QUEUED.value, S.DEFERRED.value, S.UNCONFIRMED.value, S.NEEDS_ATTENTION.value]
"""Claimed when their time comes; the waiting ones are looked up before anything is sent."""
IN_CHUNK = 500
"""Ids per IN (...) list: well under SQLite's and PostgreSQL's bound-parameter limits."""

_PAUSED = exists().where(
    and_(platform_state.c.platform == deliveries.c.platform, platform_state.c.paused.is_(True))
)


class DeliveryStore(DeliveryLeases, DeliveryOutcomes):
    """The deliveries as the worker handles them: queued, claimed under a lease, settled.

    Adding, reading and claiming live here; the lease (`DeliveryLeases`) and the outcome
    (`DeliveryOutcomes`) each in their own module.
    """

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
