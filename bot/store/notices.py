"""Notifications sent (each event once) and workers' heartbeats (so `status` can tell a stopped
worker from a running one)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.store.base import StoreBase
from bot.store.schema import deliveries, notifications, stories, workers


class NoticeStore(StoreBase):
    """Notifications and worker heartbeats."""

    # --- notifications -----------------------------------------------------------------------

    def claim_notification(
        self, key: str, topic: str, level: str, title: str, message: str, now: float
    ) -> bool:
        """Record an event before sending it; False when it is known already (sent, held, or
        claimed by another worker), so it goes out once."""
        with self._tx() as conn:
            result = conn.execute(
                self._insert_ignore(notifications),
                {"key": key, "topic": topic, "level": level, "title": title,
                 "message": message, "created_at": now, "status": "claimed"},
            )  # fmt: skip
            return bool(result.rowcount)

    def settle_notification(
        self,
        key: str,
        status: str,
        now: float,
        *,
        error: str | None = None,
        held_topic: str | None = None,
    ) -> None:
        """sent | held | retry | failed; a sent one reports the topic's held-back ones."""
        values: dict[str, Any] = {"status": status, "last_error": error}
        if status in ("sent", "retry", "failed"):
            values["attempts"] = notifications.c.attempts + 1
        if status == "sent":
            values["sent_at"] = now
        with self._tx() as conn:
            conn.execute(update(notifications).where(notifications.c.key == key).values(**values))
            if held_topic is not None:
                conn.execute(
                    update(notifications)
                    .where(
                        and_(notifications.c.topic == held_topic, notifications.c.status == "held")
                    )
                    .values(status="reported")
                )

    def last_notified(self, topic: str, *, exclude: str) -> float | None:
        """When the topic's latest notification was sent (or claimed for sending)."""
        with self._read() as conn:
            return conn.execute(
                select(func.max(notifications.c.created_at)).where(
                    and_(
                        notifications.c.topic == topic,
                        notifications.c.key != exclude,
                        notifications.c.status.in_(("sent", "claimed", "retry")),
                    )
                )
            ).scalar()

    def held_since(self, topic: str, since: float, *, exclude: str) -> int:
        with self._read() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(
                        and_(
                            notifications.c.topic == topic,
                            notifications.c.key != exclude,
                            notifications.c.status == "held",
                            notifications.c.created_at >= since,
                        )
                    )
                ).scalar()
                or 0
            )

    def notifications_to_retry(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(
                select(notifications)
                .where(notifications.c.status == "retry")
                .order_by(notifications.c.created_at)
            ).mappings()
            return [dict(r) for r in rows]

    def release_stale_claims(self, before: float) -> int:
        """A notification claimed before `before` and never settled was being sent by a worker
        that died: it goes back to be retried (a message twice beats an alert lost). Only first
        claims: their `created_at` is the claim's time."""
        with self._tx() as conn:
            return int(
                conn.execute(
                    update(notifications)
                    .where(
                        and_(
                            notifications.c.status == "claimed",
                            notifications.c.attempts == 0,
                            notifications.c.created_at < before,
                        )
                    )
                    .values(status="retry")
                ).rowcount
            )

    def claim_retry(self, key: str) -> bool:
        """Take a notification to retry; False when another worker took it first."""
        with self._tx() as conn:
            return bool(
                conn.execute(
                    update(notifications)
                    .where(and_(notifications.c.key == key, notifications.c.status == "retry"))
                    .values(status="claimed")
                ).rowcount
            )

    def notifications(self) -> list[dict[str, Any]]:
        """Every recorded notification, oldest first (for tests and support)."""
        with self._read() as conn:
            rows = conn.execute(select(notifications).order_by(notifications.c.created_at))
            return [dict(r) for r in rows.mappings()]

    def last_pause_notified(self, platform: str) -> str | None:
        """The key of the latest pause of `platform` that was notified (or held back)."""
        with self._read() as conn:
            return conn.execute(
                select(notifications.c.key)
                .where(notifications.c.topic == f"paused:{platform}")
                .order_by(notifications.c.created_at.desc())
                .limit(1)
            ).scalar()

    def trouble_deliveries(self, since: float) -> list[dict[str, Any]]:
        """Deliveries that failed for good or need attention, changed since `since`."""
        query = (
            select(
                deliveries.c.id,
                deliveries.c.platform,
                deliveries.c.status,
                deliveries.c.reason,
                deliveries.c.updated_at,
                stories.c.title,
                stories.c.url.label("story_url"),
            )
            .join(stories, stories.c.id == deliveries.c.story_id)
            .where(
                and_(
                    deliveries.c.status.in_(("failed", "needs_attention")),
                    deliveries.c.updated_at >= since,
                )
            )
            .order_by(deliveries.c.updated_at)
        )
        with self._read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    # --- workers -----------------------------------------------------------------------------

    def worker_heartbeat(
        self,
        owner: str,
        now: float,
        *,
        next_poll_at: float | None = None,
        dry_run: bool = False,
        started: bool = False,
    ) -> None:
        """A running worker says so (at start, then every few seconds)."""
        values: dict[str, Any] = {"heartbeat_at": now, "stopped_at": None, "dry_run": dry_run}
        if next_poll_at is not None:
            values["next_poll_at"] = next_poll_at
        with self._tx() as conn:
            if started:
                conn.execute(delete(workers).where(workers.c.owner == owner))
            changed = conn.execute(
                update(workers).where(workers.c.owner == owner).values(**values)
            ).rowcount
            if not changed:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(workers).values(owner=owner, started_at=now, **values))
                except IntegrityError:
                    conn.execute(update(workers).where(workers.c.owner == owner).values(**values))

    def worker_stopped(self, owner: str, now: float) -> None:
        with self._tx() as conn:
            conn.execute(
                update(workers)
                .where(workers.c.owner == owner)
                .values(stopped_at=now, heartbeat_at=now, next_poll_at=None)
            )

    def workers(self, since: float) -> list[dict[str, Any]]:
        """Workers seen since `since` (running, stopped or gone quiet), the latest first."""
        with self._read() as conn:
            rows = conn.execute(
                select(workers)
                .where(workers.c.heartbeat_at >= since)
                .order_by(workers.c.heartbeat_at.desc())
            ).mappings()
            return [dict(r) for r in rows]
