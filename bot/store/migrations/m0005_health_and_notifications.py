"""Step 5, health and notifications (issue 16): workers' heartbeats, the notifications sent,
and when a feed's current run of failures began.

`workers` lets `status` tell a running worker from a stopped or vanished one; `notifications`
records each event before it is sent, so it goes out once however many workers see it;
`feeds.failing_since` is what "failing for more than three intervals" is measured from. A feed
already failing at the upgrade starts its run at its last success, the best bound known.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

_STATEMENTS = """
CREATE TABLE workers (
    owner VARCHAR(200) NOT NULL,
    started_at FLOAT NOT NULL,
    heartbeat_at FLOAT NOT NULL,
    stopped_at FLOAT,
    next_poll_at FLOAT,
    dry_run BOOLEAN DEFAULT '0' NOT NULL,
    PRIMARY KEY (owner)
);
CREATE TABLE notifications (
    "key" VARCHAR(400) NOT NULL,
    topic VARCHAR(400) NOT NULL,
    level VARCHAR(10) NOT NULL,
    title TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at FLOAT NOT NULL,
    status VARCHAR(20) NOT NULL,
    attempts INTEGER DEFAULT '0' NOT NULL,
    sent_at FLOAT,
    last_error TEXT,
    PRIMARY KEY ("key")
);
CREATE INDEX ix_notifications_topic ON notifications (topic, created_at);
ALTER TABLE feeds ADD COLUMN failing_since FLOAT;
UPDATE feeds SET failing_since = COALESCE(last_success_at, last_polled_at) WHERE failures > 0
"""


def upgrade(conn: Connection) -> None:
    for statement in _STATEMENTS.split(";"):
        if statement.strip():
            conn.execute(text(statement))
