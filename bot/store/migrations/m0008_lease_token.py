"""Fenced leases: `lease_token` on deliveries and feeds, bumped by every claim.

Every change a worker makes to a claimed row is conditional on the owner AND the token it claimed
the row with, so a worker that lost its lease (paused, stalled, taken over) changes nothing.
Data: a delivery an older release left in `sending` gets token 1 (it was claimed once), so the
worker that takes it over holds token 2 and fences off the old one.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection


def upgrade(conn: Connection) -> None:
    for table in ("deliveries", "feeds"):
        conn.execute(
            text(f"ALTER TABLE {table} ADD COLUMN lease_token INTEGER DEFAULT '0' NOT NULL")
        )
    conn.execute(text("UPDATE deliveries SET lease_token = 1 WHERE status = 'sending'"))
