"""The Deliverer's decisions, with a scripted adapter: what happens after each kind of answer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import pytest

from bot.delivery import Deliverer
from bot.errors import AuthError, NotReady, PublishError, Transient
from bot.models import Account, Limits, Post, PublishResult
from bot.pacing import Pacing
from bot.platforms.base import Checkpoint, Publisher
from bot.store import NewDelivery, Store
from tests.conftest import FakeClock
from tests.test_store import story

Step = PublishResult | PublishError | None


class ScriptedPublisher(Publisher):
    """Answers publish() and find() from scripts; records every call."""

    name = "twitter"
    limits = Limits(max_length=280)

    def __init__(self, publish: list[Step], find: list[Step] | None = None) -> None:
        self.publish_script = publish
        self.find_script = find or []
        self.calls: list[str] = []

    def verify(self) -> Account:
        self.calls.append("verify")
        return Account("twitter", "1", "@x")

    def _next(self, script: list[Step]) -> PublishResult | None:
        step = script.pop(0)
        if isinstance(step, PublishError):
            raise step
        return step

    def publish(
        self,
        post: Post,
        checkpoint: Checkpoint | None = None,
        recovery: Mapping[str, str] | None = None,
    ) -> PublishResult:
        self.calls.append("publish")
        result = self._next(self.publish_script)
        assert result is not None
        return result

    def find(
        self, post: Post, since: datetime, recovery: Mapping[str, str] | None = None
    ) -> PublishResult | None:
        self.calls.append("find")
        return self._next(self.find_script)


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Store:
    s = Store.open(f"sqlite:///{tmp_path / 'bot.db'}", db_clock=clock)
    yield s
    s.close()


def deliverer(store: Store, publisher: Publisher, clock: FakeClock, owner: str = "w1") -> Deliverer:
    return Deliverer(
        {"twitter": publisher}, deliveries=store.deliveries, platforms=store.platforms,
        spend=store.spend, media=store.media, owner=owner, pacing=Pacing(), retry_base=30,
        max_attempts=8, lease=60, clock=clock, rng=lambda: 0.5,
        credential_hint=lambda p: "TWITTER_ACCESS_TOKEN",
    )  # fmt: skip


def queue_one(store: Store, clock: FakeClock) -> int:
    post = Post("twitter", "hello", story_url="https://example.com/story-1/")
    sid = store.stories.add_story(story(1), clock(), status="queued",
                          new_deliveries=[NewDelivery("twitter", post)])  # fmt: skip
    return store.deliveries.deliveries_for_story(sid)[0].id


def test_after_a_transient_failure_the_platform_is_asked_before_resending(
    store: Store, clock: FakeClock
) -> None:
    pub = ScriptedPublisher([Transient("twitter", "read timed out")],
                            find=[PublishResult("42", "https://x.com/a/status/42")])  # fmt: skip
    d = deliverer(store, pub, clock)
    delivery_id = queue_one(store, clock)
    [first] = d.drain()
    assert first.status == "deferred" and store.deliveries.delivery(delivery_id).uncertain
    clock.advance(3600)
    [second] = d.drain()
    assert second.status == "published" and second.remote_id == "42"
    assert pub.calls == ["publish", "find"]  # found: never sent twice


def test_not_ready_is_due_again_soon_without_a_failure_or_a_wait(
    store: Store, clock: FakeClock
) -> None:
    """A container still processing: the attempt returns at once and is picked up again by the
    next drain after the re-check time; no failure counted, no doubt, no pause, no hold."""
    wait = NotReady("twitter", "container 17 is not ready yet (IN_PROGRESS)", retry_after=10)
    pub = ScriptedPublisher([wait, PublishResult("17", "https://x.com/a/status/17")])
    d = deliverer(store, pub, clock)
    delivery_id = queue_one(store, clock)
    [first] = d.drain()
    assert first.status == "deferred" and "not ready" in (first.error or "")
    assert first.next_attempt_at == clock() + 10
    row = store.deliveries.delivery(delivery_id)
    assert (row.failures, row.uncertain, row.status) == (0, False, "deferred")
    state = store.platforms.platform_states().get("twitter", {})
    assert not state.get("paused") and not state.get("hold_until") and not state.get("last_error")
    clock.advance(9)
    assert d.drain() == []  # not before its re-check time
    clock.advance(1)
    [second] = d.drain()
    assert second.status == "published" and pub.calls == ["publish", "publish"]


def test_a_not_ready_re_check_time_is_bounded(store: Store, clock: FakeClock) -> None:
    pub = ScriptedPublisher([NotReady("twitter", "still processing", retry_after=86400),
                             NotReady("twitter", "still processing", retry_after=0)])  # fmt: skip
    d = deliverer(store, pub, clock)
    queue_one(store, clock)
    [late] = d.drain()
    assert late.next_attempt_at == clock() + 120  # never a day, whatever the adapter asks
    clock.advance(120)
    [soon] = d.drain()
    assert soon.next_attempt_at == clock() + 1  # never a busy loop either


def test_uncertainty_survives_an_auth_error_in_between(store: Store, clock: FakeClock) -> None:
    pub = ScriptedPublisher(
        [Transient("twitter", "dropped"), AuthError("twitter", "Unauthorized")],
        find=[None, PublishResult("7")],
    )
    d = deliverer(store, pub, clock)
    delivery_id = queue_one(store, clock)
    d.drain()  # transient: uncertain
    clock.advance(3600)
    [paused] = d.drain()  # find: not there; publish: 401 -> paused, still uncertain
    assert paused.status == "queued" and "TWITTER_ACCESS_TOKEN" in (paused.error or "")
    assert store.deliveries.delivery(delivery_id).uncertain
    assert store.platforms.platform_states()["twitter"]["paused"]
    clock.advance(600)
    [done] = d.drain()  # verify ok -> resumed; find again first -> it was there after all
    assert done.status == "published" and done.remote_id == "7"
    assert pub.calls == ["publish", "find", "publish", "verify", "find"]


def test_stale_sending_is_reconciled_before_anything_is_sent(
    store: Store, clock: FakeClock
) -> None:
    delivery_id = queue_one(store, clock)
    [row] = store.deliveries.claim_due("twitter", clock(), "dead-worker", 60)
    store.deliveries.mark_sending(row, 60)  # ...and the worker died
    pub = ScriptedPublisher([PublishResult("9")], find=[Transient("twitter", "503"), None])
    d = deliverer(store, pub, clock, owner="w2")
    clock.advance(61)
    assert d.reconcile() == []  # the lease ran out, but a call may still land: wait
    assert pub.calls == []
    clock.advance(20)  # lease + HTTP_TIMEOUT
    [unsure] = d.reconcile()
    assert unsure.status == "unconfirmed"  # could not tell: not re-sent, waits for a look-up
    assert d.drain() == []  # not due again before its backoff
    assert pub.calls == ["find"]
    clock.advance(3600)
    [sent] = d.drain()  # looked up again: not there, so now it is sent
    assert sent.status == "published"
    assert pub.calls == ["find", "find", "publish"]
    assert store.deliveries.delivery(delivery_id).status == "published"


def test_an_adapter_bug_is_a_transient_failure_not_a_crash(store: Store, clock: FakeClock) -> None:
    class Broken(ScriptedPublisher):
        def publish(self, post: Post, checkpoint: Checkpoint | None = None,
                    recovery: Mapping[str, str] | None = None) -> PublishResult:  # fmt: skip
            raise KeyError("data")

    queue_one(store, clock)
    [row] = deliverer(store, Broken([]), clock).drain()
    assert row.status == "deferred" and "KeyError" in (row.error or "")


def test_a_refused_look_up_never_fails_nor_pauses_and_a_later_one_decides(
    store: Store, clock: FakeClock
) -> None:
    """Answer lost, then X refuses timeline reads (403 client-not-enrolled) three times."""
    refused = AuthError("twitter", "client-not-enrolled", code="403")
    pub = ScriptedPublisher(
        [Transient("twitter", "read timed out")],
        find=[refused, refused, refused, PublishResult("42", "https://x.com/a/status/42")],
    )
    d = deliverer(store, pub, clock)
    delivery_id = queue_one(store, clock)
    [first] = d.drain()
    assert first.status == "deferred"
    seen = []
    for _ in range(3):
        clock.advance(3600)
        [report] = d.drain()
        seen.append(report.status)
        assert "client-not-enrolled" in (report.error or "")
        assert report.next_attempt_at is not None
    assert seen == ["unconfirmed"] * 3
    assert not store.platforms.platform_states().get("twitter", {}).get("paused")
    clock.advance(3600)
    [done] = d.drain()
    assert (done.status, done.remote_id) == ("published", "42")
    assert pub.calls == ["publish", "find", "find", "find", "find"]  # never sent twice
    assert store.deliveries.delivery(delivery_id).status == "published"


def test_look_ups_failing_for_hours_ask_for_a_person_with_the_account_url(
    store: Store, clock: FakeClock
) -> None:
    class WithAccount(ScriptedPublisher):
        def account_url(self) -> str | None:
            return "https://x.com/jcktest"

    broken = Transient("twitter", "503 Service Unavailable")
    pub = WithAccount([Transient("twitter", "dropped")], find=[broken] * 8 + [None])
    pub.publish_script.append(PublishResult("77"))
    d = deliverer(store, pub, clock)
    delivery_id = queue_one(store, clock)
    d.drain()
    statuses = []
    for _ in range(8):
        clock.advance(3600)
        statuses.append(d.drain()[0].status)
    assert statuses[:6] == ["unconfirmed"] * 6  # many failures, but not yet over 6 hours
    assert statuses[6:] == ["needs_attention"] * 2
    row = store.deliveries.delivery(delivery_id)
    assert "https://x.com/jcktest" in (row.reason or "")
    assert f"resolve {delivery_id} --published URL" in (row.reason or "")
    assert "publish" not in pub.calls[1:]
    clock.advance(3600)
    [sent] = d.drain()  # still looked up; a look-up that works settles it
    assert sent.status == "published" and sent.remote_id == "77"
