"""Recording a delivery's outcome: its next state and the lease given back, in one commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, update

from bot.models import DeliveryStatus, PublishResult
from bot.store.base import StoreBase
from bot.store.platform_state import platform_update
from bot.store.rows import INSERT_EVENT, DeliveryRow, S, record_event
from bot.store.schema import deliveries


class DeliveryOutcomes(StoreBase):
    """The outcome side of the deliveries store (part of `DeliveryStore`)."""

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
