"""A store at an older schema version, built by the frozen steps themselves.

Testing a step means opening a store that stands where the step finds it. Winding a current store
back by deleting version rows would run later steps twice over tables that already exist, which
never happens to a user's store: each step runs exactly once per store.
"""

from __future__ import annotations

import time

from sqlalchemy import create_engine, text

from bot.store import migrations


def store_at(url: str, version: int) -> None:
    """Create the database `url` at schema `version` (1 = v0.1.0's tables), empty."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for number, upgrade in migrations.pending(0)[:version]:
                upgrade(conn)
                conn.execute(
                    text("INSERT INTO schema_version (version, applied_at) VALUES (:v, :t)"),
                    {"v": number, "t": time.time()},
                )
    finally:
        engine.dispose()
