"""The store suite: one set of tests, run on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from bot.models import DeliveryStatus, Post, PublishResult, Story
from bot.store import FeedUpdate, NewDelivery, Store, worker_id
from bot.store.migrations import LATEST
from bot.store.rows import owner_is_dead
from tests.conftest import FakeClock
from tests.store_at import store_at

S = DeliveryStatus
NOW = 1_800_000_000.0


def story(n: int, **changes: object) -> Story:
    base = dict(
        identity=f"guid:{n}",
        url=f"https://example.com/story-{n}/",
        title=f"Story {n}",
        summary="Summary",
        published=datetime(2026, 11, 1, tzinfo=UTC),
        feed_url="https://example.com/feed/",
    )
    base.update(changes)
    return Story(**base)  # type: ignore[arg-type]


def post(platform: str = "twitter", n: int = 1) -> Post:
    return Post(platform, f"text {n}", story_url=f"https://example.com/story-{n}/")


@pytest.fixture
def db_clock() -> FakeClock:
    """The database's clock, injected: leases are timed by it, never by a worker's `now`."""
    return FakeClock(NOW)


@pytest.fixture
def store(database_url: str, db_clock: FakeClock) -> Store:
    s = Store.open(database_url, db_clock=db_clock)
    yield s
    s.close()


def test_migrations_are_recorded_and_idempotent(store: Store) -> None:
    assert store.migrate() == LATEST
    with store.engine.connect() as conn:
        versions = conn.execute(text("SELECT version FROM schema_version")).scalars().all()
    assert versions == list(range(1, LATEST + 1))


def test_v2_adds_the_body_digest_to_a_v1_database(database_url: str) -> None:
    """A database made before v0.1.0 (version 1, no feeds.body_digest) is upgraded in place."""
    store_at(database_url, 1)
    engine = create_engine(database_url)
    with engine.begin() as conn:  # what the releases before v0.1.0 left behind
        conn.execute(text("ALTER TABLE feeds DROP COLUMN body_digest"))
        conn.execute(
            text("INSERT INTO feeds (url, current_url) VALUES (:u, :u)"),
            {"u": "https://example.com/feed/"},
        )
    engine.dispose()
    upgraded = Store.open(database_url)
    try:
        [feed] = upgraded.feeds.feed_rows()
        assert feed.url == "https://example.com/feed/" and feed.body_digest is None
        upgraded.feeds.feeds_polled(
            [FeedUpdate(feed.id, None, None, None, 0.0, body_digest="d1")], 1.0
        )
        upgraded.feeds.feeds_polled([FeedUpdate(feed.id, '"e"', None, None, 0.0)], 2.0)  # a 304
        [feed] = upgraded.feeds.feed_rows()
        assert feed.body_digest == "d1" and feed.etag == '"e"'
    finally:
        upgraded.close()


def test_seen_by_identity_or_url(store: Store) -> None:
    assert store.stories.add_story(story(1), NOW, status="queued") is not None
    candidates = [
        story(1, title="Edited title"),  # same guid
        story(2, url="https://example.com/story-1/"),  # other guid, same canonical URL
        story(3),
        story(3),  # twice in one batch
    ]
    fresh = store.stories.unseen(candidates)
    assert [s.identity for s in fresh] == ["guid:3"]


def test_add_story_twice_returns_none(store: Store) -> None:
    assert store.stories.add_story(story(1), NOW, status="queued") is not None
    assert store.stories.add_story(story(1, title="again"), NOW, status="queued") is None
    assert (
        store.stories.add_story(story(9, url="https://example.com/story-1/"), NOW, status="queued")
        is None
    )
    assert store.stories.story_count() == 1


def test_delivery_lifecycle_and_audit_trail(store: Store) -> None:
    sid = store.stories.add_story(
        story(1), NOW, status="queued", new_deliveries=[NewDelivery("twitter", post())]
    )
    [row] = store.deliveries.claim_due("twitter", NOW, "w1", 60)
    assert row.post == post()
    assert store.deliveries.claim_due("twitter", NOW, "w2", 60) == []  # leased
    assert store.deliveries.mark_sending(row, 60)
    assert store.deliveries.save_recovery(row, {"container_id": "c1"}, NOW, 60)
    assert store.deliveries.finish(
        row, S.PUBLISHED, NOW + 1, result=PublishResult("123", "https://x.com/s/123")
    )
    done = store.deliveries.delivery(row.id)
    assert (done.status, done.remote_id, done.attempts) == ("published", "123", 1)
    assert done.recovery == {"container_id": "c1"}
    kinds = [e["kind"] for e in store.stories.story_events(sid)]
    assert kinds == ["fetched", "composed", "attempt", "published"]
    assert store.platforms.last_post_at("twitter") == NOW + 1


def test_one_delivery_per_story_and_platform(store: Store) -> None:
    d = NewDelivery("twitter", post())
    sid = store.stories.add_story(story(1), NOW, status="queued", new_deliveries=[d])
    with pytest.raises(Exception):  # noqa: B017 - the unique constraint, whatever the driver
        store.deliveries.add_delivery(sid, d, NOW)
    store.deliveries.add_delivery(
        sid, d, NOW, seq=1
    )  # a forced manual re-post is a new sequence number
    assert len(store.deliveries.deliveries_for_story(sid)) == 2


def test_deliveries_of_many_stories_in_chunked_queries(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.store import delivery_queue

    monkeypatch.setattr(delivery_queue, "IN_CHUNK", 2)  # 5 stories: three IN lists
    ids = []
    for n in range(1, 6):
        news = [NewDelivery("twitter", post(n=n)), NewDelivery("facebook", post("facebook", n))]
        ids.append(store.stories.add_story(story(n), NOW, status="queued", new_deliveries=news))
    rows = store.deliveries.deliveries_for_stories(ids)
    assert [(r.story_id, r.platform) for r in rows] == [
        (sid, platform) for sid in ids for platform in ("facebook", "twitter")
    ]
    assert store.deliveries.deliveries_for_stories([]) == []


def test_expired_lease_can_be_claimed_by_another_worker(store: Store, db_clock: FakeClock) -> None:
    store.stories.add_story(
        story(1), NOW, status="queued", new_deliveries=[NewDelivery("twitter", post())]
    )
    [row] = store.deliveries.claim_due("twitter", NOW, "w1", 60)
    store.deliveries.mark_sending(row, 60)
    db_clock.advance(30)
    assert store.deliveries.claim_stale_sending(NOW + 30, "w2", 60) == []
    db_clock.advance(31)
    [stale] = store.deliveries.claim_stale_sending(NOW + 61, "w2", 60)
    assert stale.id == row.id and stale.status == "sending"
    assert stale.lease_token == row.lease_token + 1


def test_lease_renewal_keeps_others_out(store: Store, db_clock: FakeClock) -> None:
    store.stories.add_story(
        story(1), NOW, status="queued", new_deliveries=[NewDelivery("twitter", post())]
    )
    [row] = store.deliveries.claim_due("twitter", NOW, "w1", 60)
    store.deliveries.mark_sending(row, 60)
    db_clock.advance(50)
    assert store.deliveries.renew_lease(row, 120)
    assert not store.deliveries.renew_lease(dataclasses.replace(row, lease_owner="w2"), 500)
    db_clock.advance(61)
    assert store.deliveries.claim_stale_sending(NOW + 111, "w2", 60) == []


def test_a_worker_clock_far_ahead_does_not_expire_anyone_s_lease(
    store: Store, db_clock: FakeClock
) -> None:
    """Leases are timed by the database: `now` ten minutes ahead (a skewed worker) is ignored."""
    store.stories.add_story(
        story(1), NOW, status="queued", new_deliveries=[NewDelivery("twitter", post())]
    )
    [row] = store.deliveries.claim_due("twitter", NOW, "w1", 60)
    store.deliveries.mark_sending(row, 60)
    assert store.deliveries.claim_stale_sending(NOW + 600, "skewed", 60) == []
    assert store.deliveries.claim_due("twitter", NOW + 600, "skewed", 60) == []


def test_every_change_is_fenced_by_the_claim_it_was_made_under(
    store: Store, db_clock: FakeClock
) -> None:
    """A paused worker comes back after its lease was taken over: none of its writes land."""
    store.stories.add_story(
        story(1), NOW, status="queued", new_deliveries=[NewDelivery("twitter", post())]
    )
    [old] = store.deliveries.claim_due("twitter", NOW, "w1", 60)
    assert store.deliveries.mark_sending(old, 60)
    db_clock.advance(61 + 20)  # lease and HTTP_TIMEOUT gone by
    assert (
        store.deliveries.claim_stale_sending(NOW, "w2", 60, grace=30) == []
    )  # not yet: 81 < 60 + 30
    db_clock.advance(10)
    [new] = store.deliveries.claim_stale_sending(NOW, "w2", 60, grace=30)
    assert not store.deliveries.renew_lease(old, 60)
    assert not store.deliveries.mark_sending(old, 60)
    assert not store.deliveries.save_recovery(old, {"container_id": "c-old"}, NOW, 60)
    assert not store.deliveries.finish(old, S.PUBLISHED, NOW, result=PublishResult("1"))
    assert store.deliveries.delivery(old.id).status == "sending"  # untouched by the old owner
    assert store.deliveries.finish(
        new, S.QUEUED, NOW, reason="looked up: not there", uncertain=False
    )
    # Even the same owner, claiming the row again, fences off its own earlier claim.
    [again] = store.deliveries.claim_due("twitter", NOW, "w2", 60)
    assert not store.deliveries.finish(new, S.FAILED, NOW)
    assert store.deliveries.finish(again, S.PUBLISHED, NOW, result=PublishResult("2"))
    assert store.deliveries.delivery(old.id).remote_id == "2"


def test_an_expired_lease_cannot_be_renewed_nor_used_to_send(
    store: Store, db_clock: FakeClock
) -> None:
    store.stories.add_story(
        story(1), NOW, status="queued", new_deliveries=[NewDelivery("twitter", post())]
    )
    [row] = store.deliveries.claim_due("twitter", NOW, "w1", 60)
    db_clock.advance(61)  # paused past the lease: nobody took it yet, but it is gone
    assert not store.deliveries.mark_sending(row, 60)
    assert not store.deliveries.renew_lease(row, 60)


def test_lease_times_come_from_the_database_clock(database_url: str) -> None:
    real = Store.open(database_url)  # no injected clock: now() on PostgreSQL
    try:
        before = time.time()
        assert abs(real.db_now() - before) < 5
        real.stories.add_story(story(1), NOW, status="queued",
                       new_deliveries=[NewDelivery("twitter", post())])  # fmt: skip
        [row] = real.deliveries.claim_due(
            "twitter", NOW + 10**6, "w1", 60
        )  # a worker clock way off
        with real.engine.connect() as conn:
            until = conn.execute(text("SELECT lease_until FROM deliveries")).scalar()
        assert before + 55 < until < time.time() + 65
        assert real.deliveries.mark_sending(row, 60)
        sent = real.deliveries.delivery(row.id)
        assert sent.sending_since is not None and abs(sent.sending_since - before) < 5
    finally:
        real.close()


def test_dead_local_owner_frees_its_leases(store: Store) -> None:
    store.stories.add_story(
        story(1), NOW, status="queued", new_deliveries=[NewDelivery("twitter", post())]
    )
    host, _, rand, space = worker_id().split(":")
    dead = f"{host}:999999999:{rand}:{space}"
    [row] = store.deliveries.claim_due("twitter", NOW, dead, 3600)
    store.deliveries.mark_sending(row, 3600)
    [stale] = store.deliveries.claim_stale_sending(NOW + 1, "w2", 60)
    assert stale.id == row.id


def test_owner_is_dead_never_guesses_across_pid_spaces() -> None:
    me = worker_id()
    host, pid, rand, space = me.split(":")
    assert int(pid) == os.getpid() and len(rand) == 16
    assert worker_id() != me  # a new identity at every start, even in the same process
    assert owner_is_dead(f"{host}:999999999:{rand}:{space}")
    # Another container with the same host name: its pid means nothing here.
    assert not owner_is_dead(f"{host}:999999999:{rand}:0123456789ab")
    assert not owner_is_dead(f"{host}:999999999:abc")  # an older version's id: wait the lease
    assert not owner_is_dead(me)


def test_deferred_is_due_only_at_its_time(store: Store) -> None:
    store.stories.add_story(
        story(1), NOW, status="queued", new_deliveries=[NewDelivery("twitter", post())]
    )
    [row] = store.deliveries.claim_due("twitter", NOW, "w1", 60)
    store.deliveries.finish(row, S.DEFERRED, NOW, reason="429", next_attempt_at=NOW + 100)
    assert store.deliveries.claim_due("twitter", NOW + 99, "w1", 60) == []
    assert len(store.deliveries.claim_due("twitter", NOW + 100, "w1", 60)) == 1


def test_feed_claims_and_failures(store: Store) -> None:
    url = "https://example.com/feed/"
    store.feeds.ensure_feeds([url, url])
    [feed] = store.feeds.claim_feeds([url], NOW, "w1", 60)
    assert not feed.initialized
    assert store.feeds.claim_feeds([url], NOW, "w2", 60) == []
    assert store.feeds.feed_failed(feed, NOW, "HTTP 500", next_poll_at=NOW + 60) == 1
    assert store.feeds.claim_feeds([url], NOW + 59, "w1", 60) == []
    [feed] = store.feeds.claim_feeds([url], NOW + 60, "w1", 60)
    store.feeds.feed_polled(
        feed, NOW + 60, etag='"v1"', last_modified=None, current_url="https://n/"
    )
    [feed] = store.feeds.claim_feeds([url], NOW + 61, "w1", 60)
    assert (feed.initialized, feed.etag, feed.current_url, feed.failures) == (
        True, '"v1"', "https://n/", 0,
    )  # fmt: skip


def test_platform_pause_resume_and_counts(store: Store) -> None:
    assert store.platforms.pause_platform("twitter", "401", NOW)
    assert not store.platforms.pause_platform("twitter", "401", NOW)  # loud line only once
    assert store.platforms.platform_states()["twitter"]["paused"]
    store.platforms.resume_platform("twitter", NOW)
    assert not store.platforms.platform_states()["twitter"]["paused"]
    store.stories.add_story(
        story(1), NOW, status="queued", new_deliveries=[NewDelivery("twitter", post())]
    )
    counts = store.platforms.delivery_counts(NOW - 86400)
    assert counts["twitter"]["queued"] == 1


def test_meta_round_trip(store: Store) -> None:
    store.platforms.set_meta("last_poll_at", "1.5")
    store.platforms.set_meta("last_poll_at", "2.5")
    assert store.platforms.get_meta("last_poll_at") == "2.5"
    assert store.platforms.get_meta("missing") is None


def test_recently_polled_feed_is_not_due_but_a_forced_poll_takes_it(store: Store) -> None:
    ok, bad = "https://example.com/ok/", "https://example.com/bad/"
    store.feeds.ensure_feeds([ok, bad])
    feeds = {f.url: f for f in store.feeds.claim_feeds([ok, bad], NOW, "w1", 60)}
    store.feeds.feed_polled(feeds[ok], NOW, etag=None, last_modified=None, next_poll_at=NOW + 480)
    store.feeds.feed_failed(feeds[bad], NOW, "HTTP 500", next_poll_at=NOW + 60)
    assert (
        store.feeds.claim_feeds([ok, bad], NOW + 10, "w2", 60) == []
    )  # another worker: nothing due
    forced = store.feeds.claim_feeds([ok, bad], NOW + 10, "w2", 60, force=True)
    assert [f.url for f in forced] == [ok]  # a person's poll, but backoff is still honoured


def test_a_feed_write_back_is_fenced_by_its_claim(store: Store, db_clock: FakeClock) -> None:
    url = "https://example.com/feed/"
    store.feeds.ensure_feeds([url])
    [old] = store.feeds.claim_feeds([url], NOW, "w1", 60)
    db_clock.advance(61)
    [new] = store.feeds.claim_feeds([url], NOW + 61, "w2", 60)
    stale = FeedUpdate(old.id, '"old"', None, None, NOW + 600,
                       lease_owner=old.lease_owner, lease_token=old.lease_token)  # fmt: skip
    assert store.feeds.feeds_polled([stale], NOW + 62) == 0
    store.feeds.feed_failed(old, NOW + 62, "late failure", next_poll_at=NOW + 9999)
    [feed] = store.feeds.feed_rows()
    assert (feed.etag, feed.last_error, feed.failures) == (None, None, 0)
    fresh = FeedUpdate(new.id, '"new"', None, None, NOW + 600,
                       lease_owner=new.lease_owner, lease_token=new.lease_token)  # fmt: skip
    assert store.feeds.feeds_polled([fresh], NOW + 62) == 1
    assert store.feeds.feed_rows()[0].etag == '"new"'


def test_migration_8_gives_rows_left_in_sending_a_lease_token(database_url: str) -> None:
    """A store from before fenced leases (version 7), with a delivery an older worker left in
    `sending` and one queued, is upgraded in place."""
    store_at(database_url, 7)
    engine = create_engine(database_url)
    with engine.begin() as conn:  # what an older release left behind
        for n, status, owner in ((1, "sending", "old-host:1:abc"), (2, "queued", None)):
            story_id = conn.execute(
                text(
                    "INSERT INTO stories (identity, url, feed_url, title, published_at, "
                    "first_seen_at, status, data) VALUES (:i, :u, 'f', 't', 0, 0, 'queued', "
                    ":d) RETURNING id"
                ),
                {"i": f"guid:{n}", "u": f"https://example.com/story-{n}/", "d": "{}"},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO deliveries (story_id, platform, status, post, lease_owner, "
                    "lease_until, created_at, updated_at) VALUES (:s, 'twitter', :st, :p, :o, "
                    ":lu, 0, 0)"
                ),
                {
                    "s": story_id,
                    "st": status,
                    "p": '{"platform": "twitter", "text": "t"}',
                    "o": owner,
                    "lu": 1.0 if owner else None,
                },
            )
    engine.dispose()
    upgraded = Store.open(database_url, db_clock=FakeClock(NOW))
    try:
        rows = sorted((r.story_id, r.status, r.lease_token) for r in _all(upgraded))
        assert [(status, token) for _, status, token in rows] == [("sending", 1), ("queued", 0)]
        [stale] = upgraded.deliveries.claim_stale_sending(NOW, "w2", 60)
        assert stale.lease_token == 2  # the takeover fences off the old release's worker
    finally:
        upgraded.close()


def _all(store: Store) -> list:
    with store.engine.connect() as conn:
        ids = conn.execute(text("SELECT story_id FROM deliveries")).scalars().all()
    return store.deliveries.deliveries_for_stories(list(ids))
