"""media: pictures a person gave as local files (`post --image PATH`), by SHA-256.

A scheduled manual post may be sent by a worker on another machine, after the file is gone: its
bytes live in the store, which every worker shares. Written to run again harmlessly (IF NOT
EXISTS), as every step here may meet a store a test or a person rolled back by its version rows.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection


def upgrade(conn: Connection) -> None:
    blob = "BYTEA" if conn.dialect.name == "postgresql" else "BLOB"
    conn.execute(
        text(
            f"""
            CREATE TABLE IF NOT EXISTS media (
                digest VARCHAR(64) NOT NULL,
                content_type VARCHAR(40) NOT NULL,
                data {blob} NOT NULL,
                created_at FLOAT NOT NULL,
                PRIMARY KEY (digest)
            )
            """
        )
    )
