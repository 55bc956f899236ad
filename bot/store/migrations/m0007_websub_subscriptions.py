"""websub_subscriptions: one row per configured feed once WebSub discovery has looked at it.

A row records the hub and topic the feed advertised (or that it advertised none), the random
callback token and hub.secret of our subscription, and where the subscription stands. Like the
steps before it, running it again (a store wound back by hand) changes nothing.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

_TABLE = """
CREATE TABLE IF NOT EXISTS websub_subscriptions (
    id {serial} NOT NULL,
    feed_url TEXT NOT NULL,
    hub TEXT,
    topic TEXT,
    token VARCHAR(64),
    secret TEXT,
    state VARCHAR(20) NOT NULL,
    lease_seconds FLOAT,
    expires_at FLOAT,
    checked_at FLOAT NOT NULL,
    requested_at FLOAT,
    verified_at FLOAT,
    last_push_at FLOAT,
    pushes INTEGER DEFAULT '0' NOT NULL,
    last_error TEXT,
    PRIMARY KEY (id),
    UNIQUE (feed_url),
    UNIQUE (token)
)
"""


def upgrade(conn: Connection) -> None:
    serial = "SERIAL" if conn.dialect.name == "postgresql" else "INTEGER"
    conn.execute(text(_TABLE.format(serial=serial)))
