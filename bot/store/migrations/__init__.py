"""The store's schema history: numbered migrations, each written once and never edited.

Why frozen: a store made by any earlier release must open with any later one. A migration that
described "the tables as they are now" (as v0.1.0's first one did, with `metadata.create_all`)
would change its meaning with every release, and each later step would have to guess what exists.
So each step here is the explicit SQL of one change, for SQLite and PostgreSQL alike, and never
imports the current table definitions (`bot.store.schema`); a test checks that the schema the
steps build equals the one `bot.store.schema` declares.

To change the schema: add `mNNNN_what.py` with an `upgrade(conn)` function and append it to
`MIGRATIONS`; change `bot/store/schema.py` to match; add a line to CHANGELOG.md. A data migration
(rows that must change meaning) goes in the same step, with a test that builds the old rows.

Each step runs exactly once per store, in one transaction with its version row, so a step need
not be written to run twice. To test one, build a store at the version before it with the steps
themselves (`tests/store_at.py`), never by deleting version rows from a newer store.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.store.migrations import (
    m0001_v0_1_0_schema,
    m0002_feed_body_digest,
    m0003_platform_paused_by,
    m0004_manual_media,
    m0005_health_and_notifications,
    m0006_spend,
    m0007_websub_subscriptions,
    m0008_lease_token,
    m0009_hosted_images,
)

Migration = Callable[[Connection], None]

STEPS: tuple[ModuleType, ...] = (
    m0001_v0_1_0_schema,
    m0002_feed_body_digest,
    m0003_platform_paused_by,
    m0004_manual_media,
    m0005_health_and_notifications,
    m0006_spend,
    m0007_websub_subscriptions,
    m0008_lease_token,
    m0009_hosted_images,
)
"""Append-only. Step N (1-based) brings the schema from version N-1 to N."""

LATEST = len(STEPS)


def current_version(conn: Connection) -> int:
    """The version a store is at: 0 for an empty database."""
    if not conn.dialect.has_table(conn, "schema_version"):
        return 0
    value = conn.execute(text("SELECT MAX(version) FROM schema_version")).scalar()
    return int(value or 0)


def pending(version: int) -> list[tuple[int, Migration]]:
    """The steps still to apply to a store at `version`, with their numbers."""
    return [(n, step.upgrade) for n, step in enumerate(STEPS, start=1) if n > version]
