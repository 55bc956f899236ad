"""feeds.body_digest: the digest of the last feed body processed in full.

Stores made before v0.1.0 lacked the column; v0.1.0's own stores (and migration 1) have it, so
the column is added only where it is missing.
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection


def upgrade(conn: Connection) -> None:
    if "body_digest" not in {c["name"] for c in inspect(conn).get_columns("feeds")}:
        conn.execute(text("ALTER TABLE feeds ADD COLUMN body_digest TEXT"))
