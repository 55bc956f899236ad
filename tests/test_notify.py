"""Notifications through Apprise's json:// to a local webhook: one per event, quiet periods,
NOTIFY_LEVEL, a failing notifier survived, URLs masked."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import health
from bot.errors import ConfigError
from bot.health import Reason
from bot.models import DeliveryStatus, Post, TokenInfo
from bot.notify import AppriseSender, Notifier, find_events, token_events
from bot.settings import Settings
from bot.settings_values import notify_url_label, parse_notify_urls
from bot.store import NewDelivery, Store
from tests.conftest import FakeClock
from tests.fakes.webhook import Webhook
from tests.test_store import story

S = DeliveryStatus
FEED = "https://news.example.com/feed/"
SETTINGS = Settings(feed_urls=(FEED,), platforms=("twitter", "facebook"))


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with Webhook() as h:
        yield h


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'bot.db'}")
    s.feeds.ensure_feeds([FEED])
    yield s
    s.close()


def notifier(store: Store, hook: Webhook, clock: FakeClock, **kw: Any) -> Notifier:
    return Notifier(store, AppriseSender([hook.url()]), clock=clock, **kw)


def failed_delivery(store: Store, clock: FakeClock, n: int = 1, status: str = "failed") -> int:
    store.stories.add_story(story(n), clock.now, status="queued",
                    new_deliveries=[NewDelivery("twitter", Post("twitter", f"t{n}"))])  # fmt: skip
    [row] = store.deliveries.claim_due("twitter", clock.now, "w1", 60)
    store.deliveries.finish(row, S.FAILED, clock.now, reason="(#100) Invalid image")
    if status != "failed":
        with store.engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE deliveries SET status = '{status}' WHERE id = {row.id}")
    return row.id


def test_each_event_is_sent_once_through_apprise_json(
    store: Store, hook: Webhook, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = notifier(store, hook, clock, level="info")
    store.platforms.pause_platform(
        "facebook", "Invalid OAuth access token (fix FACEBOOK_PAGE_ACCESS_TOKEN)", clock.now
    )
    delivery = failed_delivery(store, clock)
    attention = failed_delivery(store, clock, 2, status="needs_attention")
    [feed] = store.feeds.feed_rows()
    store.feeds.feed_failed(feed, clock.now, "HTTP 410 Gone", next_poll_at=clock.now, disabled=True)
    monkeypatch.setattr(health, "EXTRA_CHECKS", [
        lambda *_: [Reason("budget", "twitter: X_MONTHLY_BUDGET of $5 reached", platform="twitter")]
    ])  # fmt: skip
    for _ in range(3):  # three cycles see the same state: one message per event
        n.cycle(SETTINGS)
        clock.advance(60)
    titles = hook.titles()
    assert sorted(titles) == sorted([
        "feedbot: facebook paused",
        "feedbot: a twitter post failed",
        "feedbot: a twitter post needs attention",
        "feedbot: a feed is disabled",
        "feedbot: budget reached",
    ])  # fmt: skip
    bodies = {r["title"]: r for r in hook.received}
    assert "FACEBOOK_PAGE_ACCESS_TOKEN" in bodies["feedbot: facebook paused"]["message"]
    assert bodies["feedbot: facebook paused"]["type"] == "failure"
    assert f"retry {delivery}" in bodies["feedbot: a twitter post failed"]["message"]
    assert f"resolve {attention}" in bodies["feedbot: a twitter post needs attention"]["message"]
    assert "HTTP 410 Gone" in bodies["feedbot: a feed is disabled"]["message"]
    # The platform comes back: one "resumed", once.
    store.platforms.resume_platform("facebook", clock.now)
    for _ in range(2):
        n.cycle(SETTINGS)
    assert hook.titles().count("feedbot: facebook resumed") == 1
    assert len(hook.received) == 6
    # Paused again later: a new pause is a new event.
    clock.advance(2 * 3600)
    store.platforms.pause_platform("facebook", "token expired", clock.now)
    n.cycle(SETTINGS)
    assert hook.titles().count("feedbot: facebook paused") == 2


def test_a_feed_failing_for_hours(store: Store, hook: Webhook, clock: FakeClock) -> None:
    n = notifier(store, hook, clock)
    [feed] = store.feeds.feed_rows()
    store.feeds.feed_failed(feed, clock.now, "HTTP 503", next_poll_at=clock.now)
    clock.advance(2 * 3600)
    store.feeds.feed_failed(feed, clock.now, "HTTP 503", next_poll_at=clock.now)
    n.cycle(SETTINGS)
    assert hook.received == []  # two hours: not yet
    clock.advance(3600)
    store.feeds.feed_failed(feed, clock.now, "HTTP 503", next_poll_at=clock.now)
    n.cycle(SETTINGS)
    n.cycle(SETTINGS)
    [message] = hook.received
    assert message["title"] == "feedbot: a feed keeps failing"
    assert "failing for 3 h (3 tries): HTTP 503" in message["message"]


def test_quiet_period_holds_back_a_flapping_topic_and_counts_it_later(
    store: Store, hook: Webhook, clock: FakeClock
) -> None:
    n = notifier(store, hook, clock)
    failed_delivery(store, clock, 1)
    n.cycle(SETTINGS)
    clock.advance(600)
    failed_delivery(store, clock, 2)
    failed_delivery(store, clock, 3)
    n.cycle(SETTINGS)
    assert len(hook.received) == 1  # within the hour: held back
    clock.advance(3600)
    failed_delivery(store, clock, 4)
    n.cycle(SETTINGS)
    assert len(hook.received) == 2
    assert "(2 similar notifications held back before.)" in hook.received[1]["message"]
    statuses = sorted(r["status"] for r in store.notices.notifications())
    assert statuses == ["reported", "reported", "sent", "sent"]


def test_notify_level_chooses_which_events(store: Store, hook: Webhook, clock: FakeClock) -> None:
    n = notifier(store, hook, clock, level="error")
    store.platforms.pause_platform("facebook", "refused", clock.now)
    n.cycle(SETTINGS)
    store.platforms.resume_platform("facebook", clock.now)
    n.cycle(SETTINGS)  # "resumed" is info: not sent at level error
    info = TokenInfo("facebook", "FACEBOOK_PAGE_ACCESS_TOKEN", True, "PAGE", (),
                     clock.now + 3 * 86400, None)  # fmt: skip
    n.notify(token_events(info, clock.now))  # a warning: not sent at level error
    assert hook.titles() == ["feedbot: facebook paused"]


def test_token_expiring_within_14_days(clock: FakeClock) -> None:
    soon = TokenInfo("instagram", "INSTAGRAM_ACCESS_TOKEN", True, "PAGE", (),
                     None, clock.now + 10 * 86400)  # fmt: skip
    [event] = token_events(soon, clock.now)
    assert event.level == "warning" and "data access" in event.title
    assert "INSTAGRAM_ACCESS_TOKEN" in event.message and "in 10 days" in event.message
    later = TokenInfo("facebook", "FACEBOOK_PAGE_ACCESS_TOKEN", True, "PAGE", (),
                      clock.now + 15 * 86400, None)  # fmt: skip
    assert token_events(later, clock.now) == []
    never = TokenInfo("facebook", "FACEBOOK_PAGE_ACCESS_TOKEN", True, "PAGE", (), None, None)
    assert token_events(never, clock.now) == []


def test_a_token_two_platforms_share_is_warned_about_once(
    store: Store, hook: Webhook, clock: FakeClock
) -> None:
    from bot.notify import notify_expiry

    n = notifier(store, hook, clock)
    ends = clock.now + 5 * 86400
    page = TokenInfo("facebook", "FACEBOOK_PAGE_ACCESS_TOKEN", True, "PAGE", (), ends, None)
    # Instagram without INSTAGRAM_ACCESS_TOKEN posts with the Page's token: the same one.
    shared = TokenInfo("instagram", "FACEBOOK_PAGE_ACCESS_TOKEN", True, "PAGE", (), ends, None)
    own = TokenInfo("threads", "THREADS_ACCESS_TOKEN", True, "USER", (), ends, None)
    notify_expiry(n, [page, shared, own], clock.now)
    assert hook.titles() == [
        "feedbot: the facebook and instagram token expires in 5 days",
        "feedbot: the threads token expires in 5 days",
    ]
    notify_expiry(n, [page, shared, own], clock.now + 3600)  # the next day's look: sent once
    assert len(hook.titles()) == 2


def test_a_failing_notifier_is_survived_retried_and_masked(
    store: Store, hook: Webhook, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    n = notifier(store, hook, clock)
    hook.fail_with = 500
    store.platforms.pause_platform("facebook", "refused", clock.now)
    assert n.cycle(SETTINGS) == 0  # no exception reaches the worker
    assert hook.received == []
    lines = [r.getMessage() for r in caplog.records if "notification failed" in r.getMessage()]
    assert len(lines) == 1 and "json://127.0.0.1:" in lines[0] and "/***" in lines[0]
    assert "hook-secret-token" not in caplog.text
    hook.fail_with = None
    [row] = store.notices.notifications()
    assert store.notices.claim_retry(row["key"]) is True  # another worker takes the retry first...
    assert n.cycle(SETTINGS) == 0 and hook.received == []  # ...so this one does not send it
    with store.engine.begin() as conn:  # (that worker gave it back)
        conn.exec_driver_sql("UPDATE notifications SET status = 'retry'")
    assert n.cycle(SETTINGS) == 1  # retried at the next cycle
    assert hook.titles() == ["feedbot: facebook paused"]
    n.cycle(SETTINGS)
    assert len(hook.received) == 1


def test_an_unreachable_notifier_gives_up_after_three_tries(
    store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    n = Notifier(store, AppriseSender(["json://127.0.0.1:9/hook"]), clock=clock)
    store.platforms.pause_platform("facebook", "refused", clock.now)
    for _ in range(5):
        assert n.cycle(SETTINGS) == 0
    [row] = store.notices.notifications()
    assert (row["status"], row["attempts"]) == ("failed", 3)


def test_a_store_failure_while_notifying_is_survived(clock: FakeClock, hook: Webhook) -> None:
    class Broken:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("the store is down")

    n = Notifier(Broken(), AppriseSender([hook.url()]), clock=clock)  # type: ignore[arg-type]
    assert n.cycle(SETTINGS) == 0


def test_notify_urls_are_checked_and_never_shown(hook: Webhook) -> None:
    assert parse_notify_urls("NOTIFY_URLS", f"{hook.url()}, json://b.example/x") == (
        hook.url(), "json://b.example/x",
    )  # fmt: skip
    with pytest.raises(ConfigError, match="entry 2") as bad:
        parse_notify_urls("NOTIFY_URLS", "json://a.example/x not-a-url-secret")
    assert "not-a-url-secret" not in str(bad.value)
    with pytest.raises(ConfigError, match=r"entry 1 \(nosuchservice://host\.example/\*\*\*\)"):
        AppriseSender(["nosuchservice://host.example/secret-path"])
    assert notify_url_label("slack://TokenA/TokenB/TokenC") == "slack://***"
    assert notify_url_label("tgram://123456:ABCdef/987") == "tgram://***"
    assert notify_url_label("json://user:pw@hooks.example/x") == "json://hooks.example/***"


def test_find_events_ignores_feeds_no_longer_configured(store: Store, clock: FakeClock) -> None:
    store.feeds.ensure_feeds(["https://old.example/feed"])
    for row in store.feeds.feed_rows():
        store.feeds.feed_failed(row, clock.now, "gone", next_poll_at=clock.now, disabled=True)
    events = find_events(store, SETTINGS, clock.now)
    assert [e.key.split(":")[0] for e in events] == ["feed_disabled"]
    assert FEED in events[0].message


def test_a_notification_left_claimed_by_a_dead_worker_is_sent_later(
    store: Store, hook: Webhook, clock: FakeClock
) -> None:
    store.platforms.pause_platform("facebook", "refused", clock.now)
    [event] = find_events(store, SETTINGS, clock.now)
    # A worker claimed it and died before sending: nothing went out.
    assert store.notices.claim_notification(event.key, event.topic, event.level, event.title,
                                    event.message, clock.now)  # fmt: skip
    n = notifier(store, hook, clock)
    clock.advance(60)
    assert n.cycle(SETTINGS) == 0  # it may still be sending: not yet
    clock.advance(600)
    assert n.cycle(SETTINGS) == 1 and hook.titles() == ["feedbot: facebook paused"]
    n.cycle(SETTINGS)
    assert len(hook.received) == 1


def test_a_post_waiting_for_approval_is_notified_once(
    store: Store, hook: Webhook, clock: FakeClock
) -> None:
    """APPROVAL (issue 18): each post that waits for a person is said once, with its id."""
    from dataclasses import replace

    from bot.settings_web import WebSettings

    settings = replace(
        SETTINGS, web=WebSettings(approval=("twitter",), public_url="https://bot.example.com")
    )
    store.stories.add_story(story(7), clock.now, status="queued", new_deliveries=[
        NewDelivery("twitter", Post("twitter", "t7"), status="pending_approval"),
    ])  # fmt: skip
    [waiting] = store.review.list_deliveries(["pending_approval"])
    n = notifier(store, hook, clock)
    for _ in range(3):
        n.cycle(settings)
        clock.advance(60)
    assert hook.titles() == ["feedbot: a twitter post waits for approval"]
    message = hook.received[0]["message"]
    assert f"approve {waiting.row.id}" in message and f"reject {waiting.row.id}" in message
    assert "https://bot.example.com/queue" in message
    store.review.approve_delivery(waiting.row.id, clock.now)
    n.cycle(settings)
    assert len(hook.received) == 1  # approved: nothing more to say
