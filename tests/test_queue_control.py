"""Queue control in the store and in bot.queue_control: cancel, retry, pause, resume, queue,
history. Run on SQLite and on a real PostgreSQL server (the `store` fixture); the same commands
against a worker in another process are in tests/test_cli_queue.py."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import update

from bot import queue_control as qc
from bot.delivery import Deliverer
from bot.errors import AuthError, ConfigError
from bot.models import DeliveryStatus, Post, PublishResult
from bot.pacing import Pacing
from bot.store import NewDelivery, Store, worker_id
from bot.store.schema import deliveries
from tests.conftest import FakeClock
from tests.test_deliverer import ScriptedPublisher
from tests.test_store import NOW, story

S = DeliveryStatus


@pytest.fixture
def store(database_url: str) -> Store:
    s = Store.open(database_url, db_clock=FakeClock(NOW))  # leases: the database's clock
    yield s
    s.close()


def add(store: Store, n: int, platforms: tuple[str, ...] = ("twitter",), **story_kw: object) -> int:
    """Story n with one queued delivery per platform; returns the story id."""
    news = [
        NewDelivery(p, Post(p, f"text {n} {p}", story_url=f"https://example.com/story-{n}/"))
        for p in platforms
    ]
    sid = store.stories.add_story(story(n, **story_kw), NOW, status="queued", new_deliveries=news)
    assert sid is not None
    return sid


def delivery_id(store: Store, sid: int, platform: str = "twitter") -> int:
    return next(d.id for d in store.deliveries.deliveries_for_story(sid) if d.platform == platform)


def set_status(store: Store, did: int, status: str, **values: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            update(deliveries).where(deliveries.c.id == did).values(status=status, **values)
        )


def events(store: Store, sid: int) -> list[tuple[str, str | None, float]]:
    return [(e["kind"], e["detail"], e["at"]) for e in store.stories.story_events(sid)]


# --- cancel ------------------------------------------------------------------------------------


def test_a_cancelled_delivery_is_never_claimed_and_the_cancel_is_recorded(store: Store) -> None:
    sid = add(store, 1, ("twitter", "facebook"))
    did = delivery_id(store, sid)
    out = qc.cancel(store, str(did), now=NOW + 5)
    assert out.exit_code == 0
    assert out.lines == [
        f"cancelled delivery {did} (twitter) of https://example.com/story-1/: it will never be sent"
    ]
    assert store.deliveries.delivery(did).status == "cancelled"
    assert ("cancelled", "by hand (was queued)", NOW + 5) in events(store, sid)
    assert store.deliveries.claim_due("twitter", NOW + 10**6, "w1", 60) == []  # never, however late
    assert [r.platform for r in store.deliveries.claim_due("facebook", NOW + 10, "w1", 60)] == [
        "facebook"
    ]


def test_cancel_leaves_a_claimed_delivery_alone_and_says_so(store: Store) -> None:
    did = delivery_id(store, add(store, 1))
    [row] = store.deliveries.claim_due("twitter", NOW, "worker-a", 60)  # claimed, not yet `sending`
    out = qc.cancel(store, str(did), now=NOW + 1)
    assert out.exit_code == 1 and out.lines[0].startswith("NOT cancelled")
    assert "being sent right now" in out.lines[0]
    assert store.deliveries.delivery(did).status == "queued"  # the worker's claim stands
    store.deliveries.mark_sending(row, 60)
    out = qc.cancel(store, str(did), now=NOW + 2)
    assert out.exit_code == 1 and "being sent right now" in out.lines[0]
    assert store.deliveries.delivery(did).status == "sending"


def test_cancel_refuses_what_may_already_be_out(store: Store) -> None:
    sid = add(store, 1, ("twitter", "facebook", "instagram"))
    set_status(store, delivery_id(store, sid, "twitter"), "published", remote_url="https://x/1")
    set_status(store, delivery_id(store, sid, "facebook"), "unconfirmed")
    set_status(store, delivery_id(store, sid, "instagram"), "needs_attention")
    out = qc.cancel(store, "https://example.com/story-1/", now=NOW)
    assert out.exit_code == 1
    text = "\n".join(out.lines)
    assert "already published: https://x/1" in text
    assert "is unconfirmed" in text and "resolve" in text and "is needs_attention" in text
    assert {d.status for d in store.deliveries.deliveries_for_story(sid)} == {
        "published", "unconfirmed", "needs_attention",
    }  # fmt: skip


def test_cancel_by_url_takes_every_platform_or_only_the_one_named(store: Store) -> None:
    sid = add(store, 1, ("twitter", "facebook", "instagram"))
    # The URL as a reader copied it: tracking parameters and fragment are not part of the key.
    url = "https://example.com/story-1/?utm_source=x#comments"
    assert qc.cancel(store, url, now=NOW, platform="facebook").exit_code == 0
    states = {d.platform: d.status for d in store.deliveries.deliveries_for_story(sid)}
    assert states == {"twitter": "queued", "facebook": "cancelled", "instagram": "queued"}
    out = qc.cancel(store, url, now=NOW)
    assert out.exit_code == 0
    assert any("already cancelled" in line for line in out.lines)
    assert {d.status for d in store.deliveries.deliveries_for_story(sid)} == {"cancelled"}


def test_cancel_of_a_deferred_retry_warns_when_an_attempt_may_have_gone_out(
    store: Store,
) -> None:
    did = delivery_id(store, add(store, 1))
    [row] = store.deliveries.claim_due("twitter", NOW, "w1", 60)
    store.deliveries.finish(row, S.DEFERRED, NOW, reason="read timed out", next_attempt_at=NOW + 60,
                 uncertain=True)  # fmt: skip
    out = qc.cancel(store, str(did), now=NOW + 1)
    assert out.exit_code == 0 and store.deliveries.delivery(did).status == "cancelled"
    assert "may have gone out" in out.lines[1]


def test_cancel_frees_the_claim_of_a_worker_that_was_killed(store: Store) -> None:
    did = delivery_id(store, add(store, 1))
    host, _, rand, space = worker_id().split(":")
    store.deliveries.claim_due("twitter", NOW, f"{host}:999999999:{rand}:{space}", 3600)  # pid gone
    assert qc.cancel(store, str(did), now=NOW + 1).exit_code == 0
    assert store.deliveries.delivery(did).status == "cancelled"


@pytest.mark.parametrize(
    ("target", "platform", "message"),
    [
        ("999", None, "unknown delivery id 999"),
        (
            "https://example.com/nowhere/",
            None,
            "no story with the URL https://example.com/nowhere/",
        ),
        ("story-1", None, "'story-1' is neither a delivery id nor a story URL"),
        ("https://example.com/story-1/", "instagram", "has no delivery on instagram"),
        ("1", "facebook", "is on twitter, not facebook"),
    ],
)
def test_cancel_names_what_it_cannot_find(
    store: Store, target: str, platform: str | None, message: str
) -> None:
    add(store, 1)
    with pytest.raises(ConfigError, match=message):
        qc.cancel(store, target, now=NOW, platform=platform)


def race(store: Store, did: int) -> tuple[bool, bool]:
    """A worker's claim and a person's cancel of one delivery, started together."""
    barrier = threading.Barrier(2)
    got: dict[str, object] = {}

    def claim() -> None:
        barrier.wait()
        got["claimed"] = [r.id for r in store.deliveries.claim_due("twitter", NOW, "w1", 60)]

    def cancel() -> None:
        barrier.wait()
        change = store.queue.cancel_delivery(did, NOW)
        got["cancelled"] = change is not None and change.done

    threads = [threading.Thread(target=claim), threading.Thread(target=cancel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return did in got["claimed"], bool(got["cancelled"])  # type: ignore[operator]


def test_a_claim_and_a_cancel_racing_never_both_win(store: Store) -> None:
    """Either the worker has the delivery (and the cancel says so) or it is cancelled (and was
    never claimed): never both, never neither."""
    for n in range(1, 31):
        did = delivery_id(store, add(store, n))
        claimed, cancelled = race(store, did)
        assert claimed != cancelled
        assert store.deliveries.delivery(did).status == ("queued" if claimed else "cancelled")
        if claimed:
            store.deliveries.release([store.deliveries.delivery(did)])
            set_status(store, did, "published")


# --- retry -------------------------------------------------------------------------------------


def test_retry_queues_a_failed_delivery_again_keeping_its_uncertainty(store: Store) -> None:
    sid = add(store, 1)
    did = delivery_id(store, sid)
    [row] = store.deliveries.claim_due("twitter", NOW, "w1", 60)
    store.deliveries.finish(
        row, S.FAILED, NOW, reason="gave up", count_failure=True, uncertain=True
    )
    out = qc.retry(store, str(did), now=NOW + 100)
    assert out.exit_code == 0 and "queued again (was failed)" in out.lines[0]
    assert "searched for it" in out.lines[1]
    again = store.deliveries.delivery(did)
    assert (again.status, again.failures, again.reason, again.uncertain) == (
        "queued", 0, None, True,
    )  # fmt: skip
    assert again.next_attempt_at == NOW + 100
    assert ("retried", "by hand (was failed)", NOW + 100) in events(store, sid)
    assert [r.id for r in store.deliveries.claim_due("twitter", NOW + 100, "w1", 60)] == [did]


def test_retry_of_a_cancelled_and_of_a_deferred_delivery(store: Store) -> None:
    did = delivery_id(store, add(store, 1))
    qc.cancel(store, str(did), now=NOW)
    assert qc.retry(store, did, now=NOW + 1).exit_code == 0
    assert store.deliveries.delivery(did).status == "queued"
    [row] = store.deliveries.claim_due("twitter", NOW + 1, "w1", 60)
    store.deliveries.finish(row, S.DEFERRED, NOW + 1, reason="503", next_attempt_at=NOW + 3600)
    out = qc.retry(store, str(did), now=NOW + 2)
    assert out.exit_code == 0 and "due now (was deferred)" in out.lines[0]
    assert [r.id for r in store.deliveries.claim_due("twitter", NOW + 2, "w1", 60)] == [did]


@pytest.mark.parametrize(
    ("status", "exit_code", "message"),
    [
        ("published", 1, "post https://example.com/story-1/ --platform twitter --force"),
        ("skipped", 1, "post https://example.com/story-1/ --platform twitter`"),
        ("sending", 1, "being sent right now"),
        ("unconfirmed", 1, "resolve"),
        ("queued", 0, "already queued"),
    ],
)
def test_retry_explains_what_it_will_not_do(
    store: Store, status: str, exit_code: int, message: str
) -> None:
    did = delivery_id(store, add(store, 1))
    set_status(store, did, status)
    out = qc.retry(store, str(did), now=NOW)
    assert out.exit_code == exit_code and message in out.lines[0]
    assert store.deliveries.delivery(did).status == status


def test_retry_of_an_unknown_or_malformed_id_is_a_usage_error(store: Store) -> None:
    with pytest.raises(ConfigError, match="unknown delivery id 5"):
        qc.retry(store, "5", now=NOW)
    with pytest.raises(ConfigError, match="'x5' is not a delivery id"):
        qc.retry(store, "x5", now=NOW)


# --- pause and resume --------------------------------------------------------------------------


def test_a_platform_paused_by_hand_has_nothing_claimed_until_resumed(store: Store) -> None:
    add(store, 1, ("twitter", "facebook"))
    out = qc.pause(store, "twitter", now=NOW)
    assert out.exit_code == 0 and "1 delivery(ies) wait" in out.lines[0]
    state = store.platforms.platform_states()["twitter"]
    assert (state["paused"], state["paused_by"], state["paused_at"]) == (True, "hand", NOW)
    assert store.deliveries.claim_due("twitter", NOW, "w1", 60) == []
    assert len(store.deliveries.claim_due("facebook", NOW, "w1", 60)) == 1  # the others go on
    assert "already paused by hand" in qc.pause(store, "twitter", now=NOW + 60).lines[0]
    out = qc.resume(store, "twitter", now=NOW + 120)
    assert out.lines == ["twitter resumed: 1 delivery(ies) in the queue go out from the "
                         "worker's next tick, within seconds"]  # fmt: skip
    assert not store.platforms.platform_states()["twitter"]["paused"]
    assert len(store.deliveries.claim_due("twitter", NOW + 120, "w1", 60)) == 1
    assert qc.resume(store, "twitter", now=NOW).lines == ["twitter was not paused"]


def test_pause_tells_of_a_post_being_sent_right_now(store: Store) -> None:
    did = delivery_id(store, add(store, 1))
    add(store, 2)
    [row] = store.deliveries.claim_due("twitter", NOW, "w1", 60)
    store.deliveries.mark_sending(row, 60)
    out = qc.pause(store, "twitter", now=NOW + 1)
    assert "1 delivery(ies) wait" in out.lines[0]
    assert f"a worker is sending 1 right now (delivery {did})" in out.lines[1]


def test_resume_lifts_a_pause_for_refused_credentials_too(store: Store) -> None:
    store.platforms.pause_platform("facebook", "Error validating access token (fix X)", NOW)
    out = qc.resume(store, "facebook", now=NOW + 1)
    assert out.exit_code == 0 and "facebook resumed" in out.lines[0]
    assert "refused credentials" in out.lines[1]
    assert not store.platforms.platform_states()["facebook"]["paused"]


def test_a_refused_token_does_not_turn_a_pause_by_hand_into_one_the_worker_lifts(
    store: Store,
) -> None:
    qc.pause(store, "twitter", now=NOW)
    assert not store.platforms.pause_platform("twitter", "401 (fix TWITTER_ACCESS_TOKEN)", NOW + 1)
    state = store.platforms.platform_states()["twitter"]
    assert (state["paused_by"], state["paused_reason"]) == ("hand", "paused by hand")
    assert state["last_error"] == "401 (fix TWITTER_ACCESS_TOKEN)"
    # ...and a pause by hand over a credentials pause makes it the person's.
    store.platforms.pause_platform("facebook", "token refused", NOW)
    out = qc.pause(store, "facebook", now=NOW + 1)
    assert "it was paused for: token refused" in out.lines[-1]
    assert store.platforms.platform_states()["facebook"]["paused_by"] == "hand"


def deliverer_for(store: Store, publisher: ScriptedPublisher, clock: FakeClock) -> Deliverer:
    return Deliverer(
        {"twitter": publisher}, deliveries=store.deliveries, platforms=store.platforms,
        spend=store.spend, media=store.media, owner="w1", pacing=Pacing(), retry_base=30,
        max_attempts=8, lease=60, clock=clock, rng=lambda: 0.5,
        credential_hint=lambda p: "TWITTER_ACCESS_TOKEN",
    )  # fmt: skip


def test_the_worker_never_lifts_a_pause_by_hand(store: Store, clock: FakeClock) -> None:
    pub = ScriptedPublisher([PublishResult("1", "https://x.com/a/status/1")])
    d = deliverer_for(store, pub, clock)
    add(store, 1)
    qc.pause(store, "twitter", now=clock())
    assert d.drain() == []
    assert pub.calls == []  # not even a credentials check: the person decided
    qc.resume(store, "twitter", now=clock())
    [done] = d.drain()
    assert done.status == "published" and pub.calls == ["publish"]


def test_the_worker_still_lifts_a_pause_for_credentials_once_they_work(
    store: Store, clock: FakeClock
) -> None:
    pub = ScriptedPublisher([AuthError("twitter", "Unauthorized"), PublishResult("2")])
    d = deliverer_for(store, pub, clock)
    add(store, 1)
    [paused] = d.drain()
    assert paused.status == "queued" and store.platforms.platform_states()["twitter"][
        "paused_by"
    ] == ("credentials")
    [done] = d.drain()
    assert done.status == "published" and pub.calls == ["publish", "verify", "publish"]


def test_a_platform_name_must_be_one_platforms_takes() -> None:
    assert qc.parse_platform(" Twitter ") == "twitter"
    with pytest.raises(ConfigError, match=r"unknown platform 'x': use one of twitter, facebook"):
        qc.parse_platform("x")


# --- queue and history ------------------------------------------------------------------------


def test_queue_lists_what_is_not_settled_next_first(store: Store) -> None:
    ids = {}
    for n, status in enumerate(
        ["queued", "deferred", "sending", "unconfirmed", "needs_attention", "published",
         "failed", "cancelled", "skipped", "dry_run"], start=1,
    ):  # fmt: skip
        ids[status] = delivery_id(store, add(store, n))
        set_status(store, ids[status], status, next_attempt_at=NOW + 1000 - n)
    store.platforms.hold_platform("twitter", NOW + 5000, "429", NOW)  # rate limited past every time
    out = qc.show_queue(store, now=NOW)
    listed = [(r["id"], r["status"]) for r in out.records]
    assert listed == [
        (ids[s], s) for s in ("needs_attention", "unconfirmed", "sending", "deferred", "queued")
    ]
    by_status = {r["status"]: r for r in out.records}
    assert by_status["queued"]["title"] == "Story 1"
    assert by_status["queued"]["next_attempt_at"] == qc.iso(NOW + 5000)  # not before the hold
    assert by_status["sending"]["being_sent"] is True
    assert by_status["needs_attention"]["next_attempt_at"] is None
    text = "\n".join(out.lines)
    assert "(rate limited)" in text and "being sent now" in text
    assert f"needs you: resolve {ids['needs_attention']}" in text
    assert out.lines[-1] == "5 delivery(ies) waiting"


def test_queue_shows_paused_platforms_and_filters_by_platform(store: Store) -> None:
    add(store, 1, ("twitter", "facebook"))
    qc.pause(store, "facebook", now=NOW)
    out = qc.show_queue(store, now=NOW)
    assert out.lines[0].startswith("facebook is PAUSED by hand")
    assert {r["platform"]: r["platform_paused"] for r in out.records} == {
        "twitter": False, "facebook": True,
    }  # fmt: skip
    only = qc.show_queue(store, now=NOW, platform="twitter")
    assert [r["platform"] for r in only.records] == ["twitter"]
    assert not any("PAUSED" in line for line in only.lines)


def test_an_empty_queue_says_so(store: Store) -> None:
    out = qc.show_queue(store, now=NOW)
    assert out.lines == ["the queue is empty"] and out.records == []


def test_a_hostile_title_cannot_drive_the_terminal(store: Store) -> None:
    add(store, 1, title="Bad\x1b[2J\x1b]0;pwned\x07 title\u202eevil\nnext line")
    out = qc.show_queue(store, now=NOW)
    row = out.lines[1]
    assert "\x1b" not in row and "\x07" not in row and "\u202e" not in row and "\n" not in row
    assert "Bad [2J ]0;pwned title evil next line" in row
    assert out.records[0]["title"].startswith("Bad\x1b")  # JSON keeps the data as it is


def test_history_lists_what_went_out_newest_first_with_links(store: Store) -> None:
    for n, platform in enumerate(["twitter", "facebook", "twitter", "twitter"], start=1):
        did = delivery_id(store, add(store, n, (platform,)), platform)
        [row] = store.deliveries.claim_due(platform, NOW, "w1", 60)
        assert row.id == did
        if n == 4:
            store.deliveries.finish_dry_run([(row, PublishResult("dry-1"))], NOW + n)
        else:
            result = PublishResult(str(n), f"https://x.com/jck/status/{n}")
            store.deliveries.finish(row, S.PUBLISHED, NOW + n * 60, result=result)
    out = qc.history(store, now=NOW + 3600)
    assert [(r["platform"], r["remote_url"]) for r in out.records] == [
        ("twitter", "https://x.com/jck/status/3"),
        ("facebook", "https://x.com/jck/status/2"),
        ("twitter", "https://x.com/jck/status/1"),
    ]  # dry runs never went out
    assert out.records[0]["published_at"] == qc.iso(NOW + 180)
    assert out.records[0]["title"] == "Story 3"
    assert out.lines[0].startswith("57 min ago (") and "Story 3" in out.lines[0]
    assert out.lines[1] == "    https://x.com/jck/status/3"
    only = qc.history(store, now=NOW, platform="twitter", limit=1)
    assert [r["remote_url"] for r in only.records] == ["https://x.com/jck/status/3"]
    with pytest.raises(ConfigError, match="--limit 0"):
        qc.history(store, now=NOW, limit=0)


def test_history_of_nothing_says_so(store: Store) -> None:
    assert qc.history(store, now=NOW, platform="facebook").lines == [
        "nothing has been published yet on facebook"
    ]


def test_migration_3_marks_a_pause_of_an_older_store_as_one_for_credentials(
    database_url: str,
) -> None:
    """Before `pause` existed every pause was for refused credentials: the worker may lift it."""
    from sqlalchemy import create_engine, text

    from tests.store_at import store_at

    store_at(database_url, 2)  # a store as v0.1.0 left it
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO platform_state (platform, paused, paused_reason) VALUES (:p, :b, :r)"
            ),
            [
                {"p": "facebook", "b": True, "r": "Error validating access token"},
                {"p": "twitter", "b": False, "r": None},
            ],
        )
    engine.dispose()
    store = Store.open(database_url)
    try:
        states = store.platforms.platform_states()
        assert states["facebook"]["paused_by"] == "credentials"
        assert states["twitter"]["paused_by"] is None
    finally:
        store.close()


def test_retry_of_a_published_announcement_says_how_to_post_it_again(store: Store) -> None:
    news = [NewDelivery("twitter", Post("twitter", "We are hiring", story_url=None))]
    sid = store.stories.add_story(story(1, identity="announce:1", url=None), NOW, status="queued",
                          new_deliveries=news)  # fmt: skip
    did = delivery_id(store, sid)
    set_status(store, did, "published", remote_url="https://x.com/jck/status/9")
    out = qc.retry(store, str(did), now=NOW)
    assert out.exit_code == 1
    assert "`main.py post --text TEXT --platform twitter --force`" in out.lines[0]
