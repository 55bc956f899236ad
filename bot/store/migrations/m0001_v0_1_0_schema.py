"""v0.1.0's schema, as its `metadata.create_all` built it: frozen here as explicit DDL.

Release v0.1.0 created its tables from the table definitions of the day; this is that DDL, written
out for each back-end, so a new store starts exactly where a v0.1.0 store stands. The feeds table
already has `body_digest`, as it had in v0.1.0 (migration 2 adds it to stores older than that).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

# The two dialects differ only in how an integer primary key counts up.
_TABLES = """
CREATE TABLE events (
    id {serial} NOT NULL,
    at FLOAT NOT NULL,
    kind VARCHAR(40) NOT NULL,
    story_id INTEGER,
    delivery_id INTEGER,
    platform VARCHAR(20),
    feed_url TEXT,
    detail TEXT,
    PRIMARY KEY (id)
);
CREATE INDEX ix_events_story ON events (story_id);
CREATE TABLE feeds (
    id {serial} NOT NULL,
    url TEXT NOT NULL,
    current_url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    initialized_at FLOAT,
    last_polled_at FLOAT,
    last_success_at FLOAT,
    last_error TEXT,
    failures INTEGER DEFAULT '0' NOT NULL,
    next_poll_at FLOAT DEFAULT '0' NOT NULL,
    disabled BOOLEAN DEFAULT '0' NOT NULL,
    body_digest TEXT,
    lease_owner VARCHAR(200),
    lease_until FLOAT,
    PRIMARY KEY (id),
    UNIQUE (url)
);
CREATE TABLE meta (
    "key" VARCHAR(100) NOT NULL,
    value TEXT,
    PRIMARY KEY ("key")
);
CREATE TABLE platform_state (
    platform VARCHAR(20) NOT NULL,
    paused BOOLEAN DEFAULT '0' NOT NULL,
    paused_reason TEXT,
    paused_at FLOAT,
    last_success_at FLOAT,
    last_error TEXT,
    last_error_at FLOAT,
    last_post_at FLOAT,
    hold_until FLOAT,
    hold_reason TEXT,
    PRIMARY KEY (platform)
);
CREATE TABLE schema_version (
    version {serial} NOT NULL,
    applied_at FLOAT NOT NULL,
    PRIMARY KEY (version)
);
CREATE TABLE stories (
    id {serial} NOT NULL,
    identity TEXT NOT NULL,
    url TEXT,
    feed_url TEXT NOT NULL,
    title TEXT NOT NULL,
    published_at FLOAT NOT NULL,
    first_seen_at FLOAT NOT NULL,
    status VARCHAR(20) NOT NULL,
    reason TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (identity),
    UNIQUE (url)
);
CREATE TABLE deliveries (
    id {serial} NOT NULL,
    story_id INTEGER NOT NULL,
    platform VARCHAR(20) NOT NULL,
    seq INTEGER DEFAULT '0' NOT NULL,
    status VARCHAR(20) NOT NULL,
    post TEXT NOT NULL,
    attempts INTEGER DEFAULT '0' NOT NULL,
    failures INTEGER DEFAULT '0' NOT NULL,
    next_attempt_at FLOAT DEFAULT '0' NOT NULL,
    first_attempt_at FLOAT,
    sending_since FLOAT,
    uncertain BOOLEAN DEFAULT '0' NOT NULL,
    reason TEXT,
    remote_id TEXT,
    remote_url TEXT,
    recovery TEXT,
    lease_owner VARCHAR(200),
    lease_until FLOAT,
    created_at FLOAT NOT NULL,
    updated_at FLOAT NOT NULL,
    published_at FLOAT,
    PRIMARY KEY (id),
    CONSTRAINT uq_delivery_story_platform UNIQUE (story_id, platform, seq),
    FOREIGN KEY(story_id) REFERENCES stories (id)
);
CREATE INDEX ix_deliveries_published ON deliveries (platform, published_at);
CREATE INDEX ix_deliveries_due ON deliveries (platform, status, next_attempt_at);
"""


def upgrade(conn: Connection) -> None:
    serial = "SERIAL" if conn.dialect.name == "postgresql" else "INTEGER"
    for statement in _TABLES.format(serial=serial).split(";"):
        if statement.strip():
            conn.execute(text(statement))
