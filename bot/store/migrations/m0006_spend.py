"""spend: what each post cost on a platform that charges per post (X), for X_MONTHLY_BUDGET.

One row per published delivery (unique), with the month it counts against (UTC, "2026-12"), so
the month's total is one indexed sum and a post recorded twice by a retry counts once.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection


def upgrade(conn: Connection) -> None:
    if conn.dialect.has_table(conn, "spend"):
        return  # a store rebuilt from a later one by hand: nothing to add
    serial = "SERIAL" if conn.dialect.name == "postgresql" else "INTEGER"
    conn.execute(
        text(
            f"""
            CREATE TABLE spend (
                id {serial} NOT NULL,
                platform VARCHAR(20) NOT NULL,
                delivery_id INTEGER NOT NULL,
                month VARCHAR(7) NOT NULL,
                amount FLOAT NOT NULL,
                spent_at FLOAT NOT NULL,
                PRIMARY KEY (id),
                CONSTRAINT uq_spend_delivery UNIQUE (delivery_id)
            )
            """
        )
    )
    conn.execute(text("CREATE INDEX ix_spend_month ON spend (platform, month)"))
