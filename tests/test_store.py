"""The store suite: one set of tests, run on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from bot.models import DeliveryStatus, Post, PublishResult, Story
from bot.store import FeedUpdate, NewDelivery, Store
from bot.store.migrations import LATEST
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
def store(database_url: str) -> Store:
    s = Store.open(database_url)
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
        [feed] = upgraded.feed_rows()
        assert feed.url == "https://example.com/feed/" and feed.body_digest is None
        upgraded.feeds_polled([FeedUpdate(feed.id, None, None, None, 0.0, body_digest="d1")], 1.0)
        upgraded.feeds_polled([FeedUpdate(feed.id, '"e"', None, None, 0.0)], 2.0)  # a 304
        [feed] = upgraded.feed_rows()
        assert feed.body_digest == "d1" and feed.etag == '"e"'
    finally:
        upgraded.close()


def test_seen_by_identity_or_url(store: Store) -> None:
    assert store.add_story(story(1), NOW, status="queued") is not None
    candidates = [
        story(1, title="Edited title"),  # same guid
        story(2, url="https://example.com/story-1/"),  # other guid, same canonical URL
        story(3),
        story(3),  # twice in one batch
    ]
    fresh = store.unseen(candidates)
    assert [s.identity for s in fresh] == ["guid:3"]


def test_add_story_twice_returns_none(store: Store) -> None:
    assert store.add_story(story(1), NOW, status="queued") is not None
    assert store.add_story(story(1, title="again"), NOW, status="queued") is None
    assert (
        store.add_story(story(9, url="https://example.com/story-1/"), NOW, status="queued") is None
    )
    assert store.story_count() == 1


def test_delivery_lifecycle_and_audit_trail(store: Store) -> None:
    sid = store.add_story(
        story(1), NOW, status="queued", new_deliveries=[NewDelivery("twitter", post())]
    )
    [row] = store.claim_due("twitter", NOW, "w1", 60)
    assert row.post == post()
    assert store.claim_due("twitter", NOW, "w2", 60) == []  # leased
    store.mark_sending(row.id, NOW)
    store.save_recovery(row.id, {"container_id": "c1"}, NOW)
    store.finish(row, S.PUBLISHED, NOW + 1, result=PublishResult("123", "https://x.com/s/123"))
    done = store.delivery(row.id)
    assert (done.status, done.remote_id, done.attempts) == ("published", "123", 1)
    assert done.recovery == {"container_id": "c1"}
    kinds = [e["kind"] for e in store.story_events(sid)]
    assert kinds == ["fetched", "composed", "attempt", "published"]
    assert store.last_post_at("twitter") == NOW + 1


def test_one_delivery_per_story_and_platform(store: Store) -> None:
    d = NewDelivery("twitter", post())
    sid = store.add_story(story(1), NOW, status="queued", new_deliveries=[d])
    with pytest.raises(Exception):  # noqa: B017 - the unique constraint, whatever the driver
        store.add_delivery(sid, d, NOW)
    store.add_delivery(sid, d, NOW, seq=1)  # a forced manual re-post is a new sequence number
    assert len(store.deliveries_for_story(sid)) == 2


def test_deliveries_of_many_stories_in_chunked_queries(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.store import delivery_queue

    monkeypatch.setattr(delivery_queue, "IN_CHUNK", 2)  # 5 stories: three IN lists
    ids = []
    for n in range(1, 6):
        news = [NewDelivery("twitter", post(n=n)), NewDelivery("facebook", post("facebook", n))]
        ids.append(store.add_story(story(n), NOW, status="queued", new_deliveries=news))
    rows = store.deliveries_for_stories(ids)
    assert [(r.story_id, r.platform) for r in rows] == [
        (sid, platform) for sid in ids for platform in ("facebook", "twitter")
    ]
    assert store.deliveries_for_stories([]) == []


def test_expired_lease_can_be_claimed_by_another_worker(store: Store) -> None:
    store.add_story(story(1), NOW, status="queued", new_deliveries=[NewDelivery("twitter", post())])
    [row] = store.claim_due("twitter", NOW, "w1", 60)
    store.mark_sending(row.id, NOW)
    assert store.claim_stale_sending(NOW + 30, "w2", 60) == []
    [stale] = store.claim_stale_sending(NOW + 61, "w2", 60)
    assert stale.id == row.id and stale.status == "sending"


def test_lease_renewal_keeps_others_out(store: Store) -> None:
    store.add_story(story(1), NOW, status="queued", new_deliveries=[NewDelivery("twitter", post())])
    [row] = store.claim_due("twitter", NOW, "w1", 60)
    store.mark_sending(row.id, NOW)
    assert store.renew_lease(row.id, "w1", NOW + 120)
    assert not store.renew_lease(row.id, "w2", NOW + 500)
    assert store.claim_stale_sending(NOW + 61, "w2", 60) == []


def test_dead_local_owner_frees_its_leases(store: Store) -> None:
    import socket

    store.add_story(story(1), NOW, status="queued", new_deliveries=[NewDelivery("twitter", post())])
    dead = f"{socket.gethostname()}:999999999:abc"
    [row] = store.claim_due("twitter", NOW, dead, 3600)
    store.mark_sending(row.id, NOW)
    [stale] = store.claim_stale_sending(NOW + 1, "w2", 60)
    assert stale.id == row.id


def test_deferred_is_due_only_at_its_time(store: Store) -> None:
    store.add_story(story(1), NOW, status="queued", new_deliveries=[NewDelivery("twitter", post())])
    [row] = store.claim_due("twitter", NOW, "w1", 60)
    store.finish(row, S.DEFERRED, NOW, reason="429", next_attempt_at=NOW + 100)
    assert store.claim_due("twitter", NOW + 99, "w1", 60) == []
    assert len(store.claim_due("twitter", NOW + 100, "w1", 60)) == 1


def test_feed_claims_and_failures(store: Store) -> None:
    url = "https://example.com/feed/"
    store.ensure_feeds([url, url])
    [feed] = store.claim_feeds([url], NOW, "w1", 60)
    assert not feed.initialized
    assert store.claim_feeds([url], NOW, "w2", 60) == []
    assert store.feed_failed(feed.id, NOW, "HTTP 500", next_poll_at=NOW + 60) == 1
    assert store.claim_feeds([url], NOW + 59, "w1", 60) == []
    [feed] = store.claim_feeds([url], NOW + 60, "w1", 60)
    store.feed_polled(feed.id, NOW + 60, etag='"v1"', last_modified=None, current_url="https://n/")
    [feed] = store.claim_feeds([url], NOW + 61, "w1", 60)
    assert (feed.initialized, feed.etag, feed.current_url, feed.failures) == (
        True, '"v1"', "https://n/", 0,
    )  # fmt: skip


def test_platform_pause_resume_and_counts(store: Store) -> None:
    assert store.pause_platform("twitter", "401", NOW)
    assert not store.pause_platform("twitter", "401", NOW)  # loud line only once
    assert store.platform_states()["twitter"]["paused"]
    store.resume_platform("twitter", NOW)
    assert not store.platform_states()["twitter"]["paused"]
    store.add_story(story(1), NOW, status="queued", new_deliveries=[NewDelivery("twitter", post())])
    counts = store.delivery_counts(NOW - 86400)
    assert counts["twitter"]["queued"] == 1


def test_meta_round_trip(store: Store) -> None:
    store.set_meta("last_poll_at", "1.5")
    store.set_meta("last_poll_at", "2.5")
    assert store.get_meta("last_poll_at") == "2.5"
    assert store.get_meta("missing") is None


def test_recently_polled_feed_is_not_due_but_a_forced_poll_takes_it(store: Store) -> None:
    ok, bad = "https://example.com/ok/", "https://example.com/bad/"
    store.ensure_feeds([ok, bad])
    feeds = {f.url: f for f in store.claim_feeds([ok, bad], NOW, "w1", 60)}
    store.feed_polled(feeds[ok].id, NOW, etag=None, last_modified=None, next_poll_at=NOW + 480)
    store.feed_failed(feeds[bad].id, NOW, "HTTP 500", next_poll_at=NOW + 60)
    assert store.claim_feeds([ok, bad], NOW + 10, "w2", 60) == []  # another worker: nothing due
    forced = store.claim_feeds([ok, bad], NOW + 10, "w2", 60, force=True)
    assert [f.url for f in forced] == [ok]  # a person's poll, but backoff is still honoured
