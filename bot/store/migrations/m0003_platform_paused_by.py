"""platform_state.paused_by: who paused a platform, "hand" (`pause`) or "credentials".

The worker lifts a pause for refused credentials by itself once the platform accepts them again,
but never a person's pause; the column tells the two apart. Before this step the only pause was
for refused credentials, so a platform paused now is marked so. Like step 2, the column is added
only where it is missing, and only unmarked pauses are marked: running the step again (a store
wound back by hand) changes nothing.
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection


def upgrade(conn: Connection) -> None:
    if "paused_by" not in {c["name"] for c in inspect(conn).get_columns("platform_state")}:
        conn.execute(text("ALTER TABLE platform_state ADD COLUMN paused_by VARCHAR(20)"))
    conn.execute(
        text(
            "UPDATE platform_state SET paused_by = 'credentials' WHERE paused AND paused_by IS NULL"
        )
    )
