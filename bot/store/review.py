"""Review: deliveries that wait for a person (APPROVAL), edits of their text, and the listings
the web face shows (the queue, recent posts, one story's deliveries).

Every change here is one conditional UPDATE: it applies only while the delivery is still in the
state the person saw and no worker holds it, so a click can never change a post being sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, desc, select, update

from bot.models import Post
from bot.store.base import StoreBase
from bot.store.codec import post_to_json
from bot.store.rows import DeliveryRow, S, delivery_row, record_event
from bot.store.schema import deliveries, stories

PENDING = "pending_approval"
EDITABLE = (PENDING, S.QUEUED.value, S.DEFERRED.value)


@dataclass(frozen=True, slots=True)
class ListedDelivery:
    """A delivery with the title and address of its story, for listings."""

    row: DeliveryRow
    title: str
    story_url: str | None
    updated_at: float
    published_at: float | None


class ReviewStore(StoreBase):
    """The review side of the store."""

    def _change(
        self,
        delivery_id: int,
        now: float,
        allowed: Sequence[str],
        values: dict[str, Any],
        event: str,
        detail: str | None = None,
    ) -> bool:
        """Apply `values` if the delivery is in one of `allowed` and not leased; record `event`."""
        with self._tx() as conn:
            result = conn.execute(
                update(deliveries)
                .where(
                    and_(
                        deliveries.c.id == delivery_id,
                        deliveries.c.status.in_(list(allowed)),
                        self._lease_free(deliveries, now),
                    )
                )
                .values(updated_at=now, **values)
            )
            if result.rowcount != 1:
                return False
            found = conn.execute(
                select(deliveries.c.story_id, deliveries.c.platform).where(
                    deliveries.c.id == delivery_id
                )
            ).one()
            record_event(
                conn,
                now,
                event,
                story_id=found.story_id,
                delivery_id=delivery_id,
                platform=found.platform,
                detail=detail,
            )
            return True

    def approve_delivery(self, delivery_id: int, now: float, *, by: str = "by hand") -> bool:
        """pending_approval -> queued, due now. False when it no longer waits for approval."""
        values = {"status": S.QUEUED.value, "reason": None, "next_attempt_at": now}
        return self._change(delivery_id, now, (PENDING,), values, "approved", by)

    def reject_delivery(self, delivery_id: int, now: float, *, by: str = "by hand") -> bool:
        """pending_approval -> skipped (never sent). False when it no longer waits."""
        reason = f"rejected in review ({by})"
        values = {"status": S.SKIPPED.value, "reason": reason}
        return self._change(delivery_id, now, (PENDING,), values, "rejected", by)

    def edit_post(self, delivery_id: int, post: Post, now: float) -> bool:
        """Replace the text of a delivery not yet sent (waiting, queued or deferred)."""
        values = {"post": post_to_json(post)}
        return self._change(delivery_id, now, EDITABLE, values, "edited", "text edited by hand")

    def settle_approvals(self, older_than: float, post: bool, now: float) -> list[int]:
        """APPROVAL_TIMEOUT: the deliveries nobody reviewed since `older_than` are queued
        (APPROVAL_DEFAULT=post) or skipped (skip). Returns their ids."""
        with self._read() as conn:
            ids = list(
                conn.execute(
                    select(deliveries.c.id).where(
                        and_(deliveries.c.status == PENDING, deliveries.c.created_at <= older_than)
                    )
                ).scalars()
            )
        settled: list[int] = []
        by = "APPROVAL_TIMEOUT, APPROVAL_DEFAULT=" + ("post" if post else "skip")
        for delivery_id in ids:
            done = (
                self.approve_delivery(delivery_id, now, by=by)
                if post
                else self.reject_delivery(delivery_id, now, by=by)
            )
            if done:
                settled.append(delivery_id)
        return settled

    # --- listings ------------------------------------------------------------------------------

    def _listed(self, query: Any) -> list[ListedDelivery]:
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [
            ListedDelivery(delivery_row(r), r.title, r.url, r.updated_at, r.published_at)
            for r in rows
        ]

    def _listing(self) -> Any:
        return select(deliveries, stories.c.title, stories.c.url).join(
            stories, stories.c.id == deliveries.c.story_id
        )

    def list_deliveries(
        self, statuses: Sequence[str], *, limit: int = 200, platform: str | None = None
    ) -> list[ListedDelivery]:
        """Deliveries in these states, waiting ones first by due time."""
        query = self._listing().where(deliveries.c.status.in_(list(statuses)))
        if platform:
            query = query.where(deliveries.c.platform == platform)
        order = (deliveries.c.next_attempt_at, deliveries.c.id)
        return self._listed(query.order_by(*order).limit(limit))

    def recent_posts(self, *, limit: int = 20) -> list[ListedDelivery]:
        """The latest published (or dry-run) posts, newest first, with their live links."""
        query = self._listing().where(deliveries.c.status.in_([S.PUBLISHED.value, S.DRY_RUN.value]))
        return self._listed(query.order_by(desc(deliveries.c.published_at)).limit(limit))

    def story_row(self, story_id: int) -> dict[str, Any] | None:
        with self._read() as conn:
            row = (
                conn.execute(
                    select(
                        stories.c.id,
                        stories.c.title,
                        stories.c.url,
                        stories.c.feed_url,
                        stories.c.status,
                        stories.c.reason,
                        stories.c.first_seen_at,
                        stories.c.published_at,
                    ).where(stories.c.id == story_id)
                )
                .mappings()
                .first()
            )
        return dict(row) if row else None

    def find_listed(self, delivery_id: int) -> ListedDelivery | None:
        found = self._listed(self._listing().where(deliveries.c.id == delivery_id))
        return found[0] if found else None
