"""The tables as this release uses them: what the code reads and writes.

This is the model of the schema, not the way to build it: `bot.store.migrations` holds the frozen
steps that build and upgrade a store, and a test checks that they arrive exactly here. Change
both together.

Times are stored as UTC epoch seconds (floats): identical on SQLite and PostgreSQL,
cheap to compare, and free of the time-zone surprises of DATETIME columns.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Float, nullable=False),
)

feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", Text, nullable=False, unique=True),  # as configured
    Column("current_url", Text, nullable=False),  # after permanent redirects
    Column("etag", Text),
    Column("last_modified", Text),
    Column("initialized_at", Float),  # first successful poll: before it, BACKLOG applies
    Column("last_polled_at", Float),
    Column("last_success_at", Float),
    Column("last_error", Text),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("next_poll_at", Float, nullable=False, server_default="0"),
    Column("disabled", Boolean, nullable=False, server_default="0"),
    Column("body_digest", Text),  # of the last body processed in full: the same one is skipped
    Column("failing_since", Float),  # the first failure of the current run of failures
    Column("lease_owner", String(200)),
    Column("lease_until", Float),
    Column("lease_token", Integer, nullable=False, server_default="0"),  # bumped by each claim
)

stories = Table(
    "stories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("identity", Text, nullable=False, unique=True),
    Column("url", Text, unique=True),  # canonical URL: a second key for "seen"
    Column("feed_url", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("published_at", Float, nullable=False),
    Column("first_seen_at", Float, nullable=False),
    Column("status", String(20), nullable=False),  # "queued" | "skipped"
    Column("reason", Text),
    Column("data", Text, nullable=False),  # the normalised Story as JSON
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("story_id", Integer, ForeignKey("stories.id"), nullable=False),
    Column("platform", String(20), nullable=False),
    Column("seq", Integer, nullable=False, server_default="0"),  # >0: forced manual re-posts
    Column("status", String(20), nullable=False),
    Column("post", Text, nullable=False),  # the composed Post as JSON, replayed as is
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Float, nullable=False, server_default="0"),
    Column("first_attempt_at", Float),
    Column("sending_since", Float),
    Column("uncertain", Boolean, nullable=False, server_default="0"),
    Column("reason", Text),
    Column("remote_id", Text),
    Column("remote_url", Text),
    Column("recovery", Text),  # JSON handles from the adapter (Instagram container id)
    Column("lease_owner", String(200)),
    Column("lease_until", Float),
    Column("lease_token", Integer, nullable=False, server_default="0"),  # bumped by each claim
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("published_at", Float),
    UniqueConstraint("story_id", "platform", "seq", name="uq_delivery_story_platform"),
)
Index("ix_deliveries_due", deliveries.c.platform, deliveries.c.status, deliveries.c.next_attempt_at)
Index("ix_deliveries_published", deliveries.c.platform, deliveries.c.published_at)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("story_id", Integer),
    Column("delivery_id", Integer),
    Column("platform", String(20)),
    Column("feed_url", Text),
    Column("detail", Text),
)
Index("ix_events_story", events.c.story_id)

platform_state = Table(
    "platform_state",
    metadata,
    Column("platform", String(20), primary_key=True),
    Column("paused", Boolean, nullable=False, server_default="0"),
    Column("paused_by", String(20)),  # "hand" (`pause`) or "credentials" (refused token)
    Column("paused_reason", Text),
    Column("paused_at", Float),
    Column("last_success_at", Float),
    Column("last_error", Text),
    Column("last_error_at", Float),
    Column("last_post_at", Float),
    Column("hold_until", Float),  # rate limited: nothing is tried before this time
    Column("hold_reason", Text),
)

workers = Table(
    "workers",
    metadata,
    Column("owner", String(200), primary_key=True),  # host:pid:random, as leases name it
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("stopped_at", Float),  # a clean stop; a crash leaves the heartbeat to age
    Column("next_poll_at", Float),
    Column("dry_run", Boolean, nullable=False, server_default="0"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("key", String(400), primary_key=True),  # the event's identity: sent once
    Column("topic", String(400), nullable=False),  # the quiet period applies per topic
    Column("level", String(10), nullable=False),
    Column("title", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("status", String(20), nullable=False),  # claimed|sent|held|reported|retry|failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("sent_at", Float),
    Column("last_error", Text),
)
Index("ix_notifications_topic", notifications.c.topic, notifications.c.created_at)

meta = Table(
    "meta",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text),
)

media = Table(
    "media",
    metadata,
    Column("digest", String(64), primary_key=True),  # SHA-256 of the bytes, hex
    Column("content_type", String(40), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

spend = Table(
    "spend",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(20), nullable=False),
    Column("delivery_id", Integer, nullable=False),
    Column("month", String(7), nullable=False),  # UTC "2026-12": the budget month it counts in
    Column("amount", Float, nullable=False),  # USD
    Column("spent_at", Float, nullable=False),
    UniqueConstraint("delivery_id", name="uq_spend_delivery"),
)
Index("ix_spend_month", spend.c.platform, spend.c.month)

websub_subscriptions = Table(
    "websub_subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feed_url", Text, nullable=False, unique=True),  # as configured
    Column("hub", Text),  # None: the feed advertises no hub
    Column("topic", Text),  # the feed's rel="self" address (else its own)
    Column("token", String(64), unique=True),  # the callback is PUBLIC_URL/websub/{token}
    Column("secret", Text),  # hub.secret: pushes are signed with it
    Column("state", String(20), nullable=False),  # no_hub | requested | active | denied
    Column("lease_seconds", Float),
    Column("expires_at", Float),
    Column("checked_at", Float, nullable=False),  # last discovery
    Column("requested_at", Float),
    Column("verified_at", Float),
    Column("last_push_at", Float),
    Column("pushes", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
)

hosted_images = Table(
    "hosted_images",
    metadata,
    Column("name", String(80), primary_key=True),  # the last part of PUBLIC_URL/media/{name}
    Column("content_type", String(40), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)
Index("ix_hosted_images_created", hosted_images.c.created_at)
