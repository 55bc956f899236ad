"""Feeds: which are due, who polls them, their validators and backoff."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    Text,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)

from bot.store.base import StoreBase
from bot.store.rows import (
    FeedRow,
    FeedUpdate,
    feed_row,
)
from bot.store.schema import feeds


class FeedStore(StoreBase):
    """The feeds' side of the store."""

    def ensure_feeds(self, urls: Iterable[str]) -> None:
        """Add the configured feeds the store does not know yet (workers may race: fine)."""
        with self._read() as conn:
            known = set(conn.execute(select(feeds.c.url)).scalars())
        missing = [
            {"url": url, "current_url": url} for url in dict.fromkeys(urls) if url not in known
        ]
        if missing:
            with self._tx() as conn:
                conn.execute(self._insert_ignore(feeds), missing)

    def claim_feeds(
        self,
        urls: Sequence[str],
        now: float,
        owner: str,
        lease: float,
        *,
        force: bool = False,
        limit: int | None = None,
        not_polled_since: float | None = None,
    ) -> list[FeedRow]:
        """Claim the configured feeds that are due (the longest-waiting first).

        `force` (a person's `poll`) also takes feeds another worker polled recently, but never
        one that is backing off after failures: the publisher's server is owed that politeness.
        `limit` takes only a share, so several workers split hundreds of feeds between them;
        `not_polled_since` leaves out feeds already polled in this cycle.
        """

        def conditions(db_now: float) -> list[Any]:
            found = [
                feeds.c.url.in_(list(urls)),
                feeds.c.disabled.is_(False),
                self._lease_free(feeds, db_now),
            ]
            if not_polled_since is not None:
                found.append(
                    or_(
                        feeds.c.last_polled_at.is_(None),
                        feeds.c.last_polled_at < not_polled_since,
                    )
                )
            if force:
                found.append(or_(feeds.c.failures == 0, feeds.c.next_poll_at <= now))
            else:
                found.append(feeds.c.next_poll_at <= now)
            return found

        order = (feeds.c.next_poll_at, feeds.c.id)
        rows = self._claim_rows(feeds, conditions, order, owner, lease, limit)
        return [feed_row(r) for r in rows]

    def feed_polled(
        self,
        feed: FeedRow,
        now: float,
        *,
        etag: str | None,
        last_modified: str | None,
        current_url: str | None = None,
        initialized: bool = True,
        next_poll_at: float = 0.0,
    ) -> None:
        """Record one successful poll (see `feeds_polled`)."""
        update_ = FeedUpdate(
            feed.id,
            etag,
            last_modified,
            current_url,
            next_poll_at,
            initialized,
            lease_owner=feed.lease_owner,
            lease_token=feed.lease_token,
        )
        self.feeds_polled([update_], now)

    def feeds_polled(self, updates: Sequence[FeedUpdate], now: float) -> int:
        """Record a cycle's successful polls in one transaction: new validators, the new address
        after a permanent redirect, the digest of a body processed in full, and `next_poll_at`,
        which keeps other workers from polling the feed again within the same interval.

        Each write is fenced by the claim it was polled under; returns how many were written
        (a feed whose lease was lost keeps what its new owner writes).
        """
        if not updates:
            return 0
        statement = (
            update(feeds)
            .where(
                and_(
                    feeds.c.id == bindparam("b_id"),
                    feeds.c.lease_owner.is_not_distinct_from(bindparam("b_owner", type_=Text)),
                    feeds.c.lease_token == bindparam("b_token", type_=Integer),
                )
            )
            .values(
                etag=bindparam("b_etag"),
                last_modified=bindparam("b_lm"),
                current_url=func.coalesce(bindparam("b_url", type_=Text), feeds.c.current_url),
                body_digest=func.coalesce(bindparam("b_digest", type_=Text), feeds.c.body_digest),
                initialized_at=func.coalesce(
                    feeds.c.initialized_at, bindparam("b_init", type_=Float)
                ),
                last_polled_at=bindparam("b_now"),
                last_success_at=bindparam("b_now"),
                last_error=None,
                failures=0,
                failing_since=None,
                next_poll_at=bindparam("b_next"),
                lease_owner=None,
                lease_until=None,
            )
        )
        params = [
            {
                "b_id": u.feed_id,
                "b_etag": u.etag,
                "b_lm": u.last_modified,
                "b_url": u.current_url,
                "b_digest": u.body_digest,
                "b_init": now if u.initialized else None,
                "b_now": now,
                "b_next": u.next_poll_at,
                "b_owner": u.lease_owner,
                "b_token": u.lease_token,
            }
            for u in updates
        ]
        with self._tx() as conn:
            return int(conn.execute(statement, params).rowcount)

    def feed_failed(
        self, feed: FeedRow, now: float, error: str, *, next_poll_at: float, disabled: bool = False
    ) -> int:
        """Record a failure (fenced by the feed's claim); returns the consecutive-failure count."""
        feed_id = feed.id
        with self._tx() as conn:
            conn.execute(
                update(feeds)
                .where(self._held_by(feeds, feed.id, feed.lease_owner, feed.lease_token))
                .values(
                    last_polled_at=now,
                    last_error=error,
                    failures=feeds.c.failures + 1,
                    failing_since=func.coalesce(feeds.c.failing_since, now),
                    next_poll_at=next_poll_at,
                    disabled=disabled,
                    lease_owner=None,
                    lease_until=None,
                )
            )
            return int(conn.execute(select(feeds.c.failures).where(feeds.c.id == feed_id)).scalar())

    def feed_rows(self) -> list[FeedRow]:
        with self._read() as conn:
            return [feed_row(r) for r in conn.execute(select(feeds).order_by(feeds.c.id))]
