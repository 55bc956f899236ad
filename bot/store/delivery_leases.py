"""Deliveries under a lease: renewing it, giving it back, proving it before each step.

Every change a worker makes to a row it claimed is fenced by the lease it was claimed with
(owner and token, see `StoreBase._held_by`): zero rows changed means the lease is lost, and the
worker stops before the platform call instead of writing over the row's new owner.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import Connection

from bot.store.base import StoreBase
from bot.store.rows import DeliveryRow, S, owner_is_dead, record_event
from bot.store.schema import deliveries, feeds


class DeliveryLeases(StoreBase):
    """The lease side of the deliveries store (part of `DeliveryStore`)."""

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
        with self._tx() as conn:
            return free_dead_leases(conn, self.db_now(conn))

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


def free_dead_leases(conn: Connection, db_now: float) -> int:
    """End the live leases (deliveries and feeds) of owners that ran in this boot and PID
    namespace and are gone, in the caller's transaction."""
    expired = 0
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
