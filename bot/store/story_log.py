"""Stories: the seen-forever log that decides what is new, and each story's audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    and_,
    func,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError

from bot.models import Story
from bot.store.base import Database, StoreBase
from bot.store.codec import story_from_json, story_to_json
from bot.store.rows import (
    INSERT_STORY,
    NewDelivery,
    insert_delivery,
)
from bot.store.schema import deliveries, events, stories


class StoryStore(StoreBase):
    """The stories' side of the store: what has been seen, skipped or queued, forever."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._seen_sql_cache: dict[tuple[int, int], str] = {}

    def unseen(self, candidates: Sequence[Story]) -> list[Story]:
        """The candidates whose identity and canonical URL are both unknown (in input order).

        The hottest query of a poll (once per feed that changed): plain SQL on the driver,
        built once per size, since SQLAlchemy's statement building cost more than the lookup.
        """
        if not candidates:
            return []
        identities = list({s.identity for s in candidates})
        urls = list({s.url for s in candidates if s.url})
        seen_ids: set[str] = set()
        seen_urls: set[str] = set()
        with self._read() as conn:
            for start in range(0, max(len(identities), len(urls)), 400):
                ids, links = identities[start : start + 400], urls[start : start + 400]
                sql = self._seen_sql(len(ids), len(links))
                for identity, url in conn.exec_driver_sql(sql, (*ids, *links)):
                    if identity is not None:
                        seen_ids.add(identity)
                    if url is not None:
                        seen_urls.add(url)
        fresh: list[Story] = []
        batch_ids: set[str] = set()
        batch_urls: set[str] = set()
        for story in candidates:
            if story.identity in seen_ids or story.identity in batch_ids:
                continue
            if story.url and (story.url in seen_urls or story.url in batch_urls):
                continue
            batch_ids.add(story.identity)
            if story.url:
                batch_urls.add(story.url)
            fresh.append(story)
        return fresh

    def deliveries_by_feed(self) -> dict[str, dict[str, dict[str, int]]]:
        """Feed URL (as each story recorded it) -> platform -> status -> deliveries (`status`
        groups by feed). One grouped query over every story."""
        query = (
            select(stories.c.feed_url, deliveries.c.platform, deliveries.c.status, func.count())
            .select_from(deliveries.join(stories, stories.c.id == deliveries.c.story_id))
            .group_by(stories.c.feed_url, deliveries.c.platform, deliveries.c.status)
        )
        found: dict[str, dict[str, dict[str, int]]] = {}
        with self._read() as conn:
            for feed_url, platform, status, count in conn.execute(query):
                found.setdefault(feed_url, {}).setdefault(platform, {})[status] = int(count)
        return found

    def feed_slot_counts(self, feed_url: str, platform: str, since: float) -> dict[float, int]:
        """How many deliveries of the feed's stories on `platform` each time at or after
        `since` holds (a feed's own posting slots: bot.feed_slots)."""
        query = (
            select(deliveries.c.next_attempt_at, func.count())
            .select_from(deliveries.join(stories, stories.c.id == deliveries.c.story_id))
            .where(
                stories.c.feed_url == feed_url,
                deliveries.c.platform == platform,
                deliveries.c.next_attempt_at >= since,
            )
            .group_by(deliveries.c.next_attempt_at)
        )
        with self._read() as conn:
            return {float(at): int(n) for at, n in conn.execute(query)}

    def add_story(
        self,
        story: Story,
        now: float,
        *,
        status: str,
        reason: str | None = None,
        new_deliveries: Sequence[NewDelivery] = (),
    ) -> int | None:
        """Insert a story and its deliveries atomically; None when it was already known."""
        return self.add_stories([(story, new_deliveries)], now, status=status, reason=reason)[0]

    def add_stories(
        self,
        items: Sequence[tuple[Story, Sequence[NewDelivery]]],
        now: float,
        *,
        status: str = "queued",
        reason: str | None = None,
    ) -> list[int | None]:
        """Insert stories with their deliveries in one transaction, each story all-or-nothing
        (a savepoint): the ids, or None for a story another worker recorded first."""
        ids: list[int | None] = []
        with self._tx() as conn:
            for story, new_deliveries in items:
                try:
                    with conn.begin_nested():
                        story_id = conn.execute(
                            INSERT_STORY,
                            {
                                "identity": story.identity,
                                "url": story.url,
                                "feed_url": story.feed_url,
                                "title": story.title,
                                "published_at": story.published.timestamp(),
                                "first_seen_at": now,
                                "status": status,
                                "reason": reason,
                                "data": story_to_json(story),
                            },
                        ).scalar_one()
                        for d in new_deliveries:
                            insert_delivery(conn, story_id, d, now)
                    ids.append(int(story_id))
                except IntegrityError:
                    ids.append(None)
        return ids

    def add_skipped(self, skipped: Sequence[tuple[Story, str]], now: float) -> None:
        """Record many stories as seen-and-skipped (backlog, age, filters) in one transaction.

        The story row itself is the audit record (first seen, status, reason): a first poll of
        a large feed group writes tens of thousands of these, so no event rows are added.
        Stories already known are left as they are.
        """
        if not skipped:
            return
        rows = [
            (
                story.identity,
                story.url,
                story.feed_url,
                story.title,
                story.published.timestamp(),
                now,
                "skipped",
                reason,
                story_to_json(story),
            )
            for story, reason in skipped
        ]
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        sql = (
            "INSERT INTO stories (identity, url, feed_url, title, published_at, first_seen_at,"
            f" status, reason, data) VALUES ({', '.join([mark] * 9)}) ON CONFLICT DO NOTHING"
        )
        with self._tx() as conn:  # the driver's executemany: first polls write thousands
            conn.exec_driver_sql(sql, rows)

    def stories_without(self, platform: str) -> list[tuple[int, Story]]:
        """Stories queued for posting (not skipped) that have no delivery on `platform`,
        newest first: what a platform added to an existing store could still be given."""
        has = select(deliveries.c.id).where(
            and_(deliveries.c.story_id == stories.c.id, deliveries.c.platform == platform)
        )
        with self._read() as conn:
            rows = conn.execute(
                select(stories.c.id, stories.c.data)
                .where(and_(stories.c.status == "queued", ~has.exists()))
                .order_by(stories.c.published_at.desc(), stories.c.id.desc())
            ).all()
        return [(int(r.id), story_from_json(r.data)) for r in rows]

    def add_backlog_deliveries(self, items: Sequence[tuple[int, NewDelivery]], now: float) -> int:
        """Deliveries for stories seen before their platform was added, in one transaction.
        A delivery another worker added meanwhile is left as it is; returns how many were new."""
        added = 0
        with self._tx() as conn:
            for story_id, d in items:
                try:
                    with conn.begin_nested():
                        insert_delivery(conn, story_id, d, now)
                    added += 1
                except IntegrityError:
                    continue
        return added

    def story_by_url(self, url: str) -> tuple[int, Story] | None:
        with self._read() as conn:
            row = conn.execute(
                select(stories.c.id, stories.c.data).where(
                    or_(stories.c.url == url, stories.c.identity == f"url:{url}")
                )
            ).first()
        return (int(row.id), story_from_json(row.data)) if row else None

    def story_by_identity(self, identity: str) -> tuple[int, Story] | None:
        with self._read() as conn:
            row = conn.execute(
                select(stories.c.id, stories.c.data).where(stories.c.identity == identity)
            ).first()
        return (int(row.id), story_from_json(row.data)) if row else None

    def skipped_by_feed(self, reason_prefix: str) -> dict[str, int]:
        """Per feed URL, the stories recorded as skipped with a reason that starts so (for
        `status`: how many a flood cap turned away)."""
        query = (
            select(stories.c.feed_url, func.count())
            .where(stories.c.status == "skipped", stories.c.reason.startswith(reason_prefix))
            .group_by(stories.c.feed_url)
        )
        with self._read() as conn:
            return {str(url): int(n) for url, n in conn.execute(query)}

    def story_count(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(stories)).scalar())

    def story_events(self, story_id: int) -> list[dict[str, Any]]:
        """The audit trail of one story: fetched (and skipped, and why) from its own row, then
        every event of its deliveries: composed, each attempt, each result."""
        with self._read() as conn:
            story = conn.execute(
                select(
                    stories.c.first_seen_at,
                    stories.c.feed_url,
                    stories.c.url,
                    stories.c.identity,
                    stories.c.status,
                    stories.c.reason,
                ).where(stories.c.id == story_id)
            ).one()
            rows = conn.execute(
                select(events).where(events.c.story_id == story_id).order_by(events.c.id)
            ).mappings()
            trail = [dict(r) for r in rows]
        head: list[dict[str, Any]] = [
            {
                "kind": "fetched",
                "at": story.first_seen_at,
                "story_id": story_id,
                "feed_url": story.feed_url,
                "detail": story.url or story.identity,
            },
        ]
        if story.status == "skipped":
            head.append(
                {
                    "kind": "skipped",
                    "at": story.first_seen_at,
                    "story_id": story_id,
                    "detail": story.reason,
                }
            )
        return head + trail

    def _seen_sql(self, ids: int, urls: int) -> str:
        key = (ids, urls)
        sql = self._seen_sql_cache.get(key)
        if sql is None:
            mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
            parts = []
            if ids:
                in_ids = ", ".join([mark] * ids)
                # Each half reads only its own unique index (a covering index): the table's
                # rows, with their JSON, are never touched, however large the table grows.
                parts.append(f"SELECT identity, NULL FROM stories WHERE identity IN ({in_ids})")
            if urls:
                in_urls = ", ".join([mark] * urls)
                parts.append(f"SELECT NULL, url FROM stories WHERE url IN ({in_urls})")
            sql = self._seen_sql_cache[key] = " UNION ALL ".join(parts)
        return sql
