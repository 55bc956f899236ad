"""Notifications: tell a person when the bot needs one, through Apprise (NOTIFY_URLS).

Events are found by looking at the store after each cycle (so a pause made by `pause` in another
process, or a post failed by `post`, is noticed too) and each one has a key: the store records the
key before sending, so every event is sent once however many workers look. A quiet period per
topic (one platform's pauses, one feed's troubles) keeps a flapping feed from flooding a phone:
what falls inside it is recorded as held back and counted in the next message. A failing notifier
is logged in one line (its URL masked) and retried a few times at later cycles; it never stops the
bot. Apprise is imported only when a notification is due or the URLs are checked at start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.errors import ConfigError
from bot.health import duration
from bot.settings_values import notify_url_label

if TYPE_CHECKING:
    from bot.models import TokenInfo
    from bot.platforms.base import Publisher
    from bot.settings import Settings
    from bot.store import Store

log = logging.getLogger("bot.notify")

LEVELS = {"error": 0, "warning": 1, "info": 2}
QUIET_PERIOD = 3600.0
"""Per topic: after a notification, the next one of the same topic waits this long."""
FEED_FAILING_AFTER = 3 * 3600.0
"""A feed failing this long is worth a message (status turns red sooner, after 3 intervals)."""
TOKEN_WARNING = 14 * 86400.0
MAX_ATTEMPTS = 3
STALE_CLAIM = 600.0
"""A notification claimed this long ago and not settled: its worker died while sending."""
RECENT = 24 * 3600.0


@dataclass(frozen=True)
class Event:
    """Something a person should hear about; `key` makes it once-only, `topic` rate-limits."""

    key: str
    topic: str
    level: str  # "error" | "warning" | "info"
    title: str
    message: str


class Sender(Protocol):
    def __call__(self, title: str, body: str, level: str) -> str | None:
        """Send one notification to every URL; None when it went out, else why not."""


class AppriseSender:
    """Sends through Apprise to every NOTIFY_URLS entry; each URL is checked when built."""

    def __init__(self, urls: Sequence[str]) -> None:
        import apprise

        apprise_log = logging.getLogger("apprise")
        if not apprise_log.isEnabledFor(logging.DEBUG):
            apprise_log.setLevel(logging.CRITICAL)  # it says in many lines what we say in one
        self._apprise = apprise
        self._client = apprise.Apprise()
        for index, url in enumerate(urls, start=1):
            if not self._client.add(url):
                raise ConfigError(
                    f"NOTIFY_URLS: entry {index} ({notify_url_label(url)}) is not a URL Apprise "
                    "can send to; check its scheme and parts against Apprise's list of services",
                    "NOTIFY_URLS",
                )
        self.labels = [notify_url_label(url) for url in urls]

    def __call__(self, title: str, body: str, level: str) -> str | None:
        kinds = self._apprise.NotifyType
        notify_type = {"error": kinds.FAILURE, "warning": kinds.WARNING}.get(level, kinds.INFO)
        try:
            ok = self._client.notify(title=title, body=body, notify_type=notify_type)
        except Exception as exc:  # a notifier's bug must not reach the worker
            return f"{type(exc).__name__}: {exc}"
        if ok:
            return None
        return f"not delivered to {', '.join(self.labels)} (refused or unreachable)"


class Notifier:
    """Finds events in the store, records each once, and sends those NOTIFY_LEVEL asks for."""

    def __init__(
        self,
        store: Store,
        send: Sender,
        *,
        level: str = "warning",
        quiet_period: float = QUIET_PERIOD,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.send = send
        self.level = LEVELS[level]
        self.quiet_period = quiet_period
        self.clock = clock

    @classmethod
    def from_settings(
        cls, settings: Settings, store: Store, clock: Callable[[], float]
    ) -> Notifier | None:
        """None without NOTIFY_URLS; raises ConfigError (exit 2) for a URL Apprise rejects."""
        if not settings.notify_urls:
            return None
        return cls(
            store, AppriseSender(settings.notify_urls), level=settings.notify_level, clock=clock
        )

    # --- sending -----------------------------------------------------------------------------

    def notify(self, events: Iterable[Event]) -> int:
        """Send the events not sent before; returns how many went out. Never raises."""
        sent = 0
        for event in events:
            if LEVELS[event.level] > self.level:
                continue
            try:
                sent += self._one(event)
            except Exception as exc:  # the store is down: the next cycle finds it again
                log.warning(f"notification not recorded: {type(exc).__name__}")
                log.debug("the notification's failure in full", exc_info=exc)
        return sent

    def _one(self, event: Event) -> int:
        now = self.clock()
        if not self.store.notices.claim_notification(
            event.key, event.topic, event.level, event.title, event.message, now
        ):
            return 0  # known already: sent, held back, or claimed by another worker
        last = self.store.notices.last_notified(event.topic, exclude=event.key)
        if last is not None and now - last < self.quiet_period:
            self.store.notices.settle_notification(event.key, "held", now)
            log.info("notification held back by the quiet period", extra={"topic": event.topic})
            return 0
        return self._send(event.key, event.topic, event.title, event.message, event.level, 0)

    def _send(self, key: str, topic: str, title: str, message: str, level: str, tries: int) -> int:
        now = self.clock()
        held = self.store.notices.held_since(topic, now - 30 * 86400, exclude=key)
        if held:
            message += f" ({held} similar notification{'s' if held > 1 else ''} held back before.)"
        error = self.send(title, message, level)
        if error is None:
            self.store.notices.settle_notification(
                key, "sent", now, held_topic=topic if held else None
            )
            log.info("notification sent", extra={"title": title})
            return 1
        status = "failed" if tries + 1 >= MAX_ATTEMPTS else "retry"
        self.store.notices.settle_notification(key, status, now, error=error)
        more = "gives up" if status == "failed" else "tries again next cycle"
        log.warning(f"notification failed: {error}; the bot goes on and {more}",
                    extra={"title": title})  # fmt: skip
        return 0

    def retry(self) -> int:
        """Send again what failed to go out at an earlier cycle (up to MAX_ATTEMPTS in all)."""
        sent = 0
        try:
            self.store.notices.release_stale_claims(self.clock() - STALE_CLAIM)
            rows = self.store.notices.notifications_to_retry()
            for row in rows:
                if LEVELS.get(row["level"], 2) <= self.level and self.store.notices.claim_retry(
                    row["key"]
                ):
                    sent += self._send(row["key"], row["topic"], row["title"], row["message"],
                                       row["level"], row["attempts"])  # fmt: skip
        except Exception as exc:
            log.warning(f"notifications not retried: {type(exc).__name__}")
            log.debug("the failure in full", exc_info=exc)
        return sent

    # --- finding events ----------------------------------------------------------------------

    def cycle(self, settings: Settings) -> int:
        """After a cycle: retry what failed, then send what is new. Never raises."""
        sent = self.retry()
        try:
            events = find_events(self.store, settings, self.clock())
        except Exception as exc:
            log.warning(f"notifications: could not read the store: {type(exc).__name__}")
            log.debug("the failure in full", exc_info=exc)
            return sent
        return sent + self.notify(events)


def find_events(store: Store, settings: Settings, now: float) -> list[Event]:
    """Every notifiable state the store shows now; the keys make old ones no-ops."""
    from bot import health
    from bot.status import _failing_since

    events: list[Event] = []
    for name, state in sorted(store.platforms.platform_states().items()):
        if name in settings.platforms:  # a platform no longer used may stay paused: no news
            events += platform_events(name, state, store.notices.last_pause_notified(name))
    for row in store.notices.trouble_deliveries(now - RECENT):
        events.append(delivery_event(row))
    for waiting in store.review.list_deliveries(["pending_approval"], limit=100):
        events.append(approval_event(waiting.row.id, waiting.row.platform, waiting.title, settings))
    for feed in store.feeds.feed_rows():
        if feed.url in settings.feed_urls:
            events += feed_events(feed.url, feed.disabled, feed.failures, _failing_since(feed),
                                  feed.last_polled_at, feed.last_error, now)  # fmt: skip
    for check in health.EXTRA_CHECKS:
        for reason in check(store, settings, now):
            if reason.kind == "budget":
                subject = reason.platform or "all"
                key, topic = f"budget:{subject}:{reason.message}", f"budget:{subject}"
                title = "feedbot: budget reached"
                events.append(Event(key, topic, "warning", title, reason.message))
    from bot.spend_status import budget_warnings  # issue 19: 80% of X_MONTHLY_BUDGET

    for key, message in budget_warnings(store.spend, settings, now):
        topic = key.rsplit(":", 1)[0]
        events.append(Event(key, topic, "warning", "feedbot: 80% of the budget spent", message))
    return events


def platform_events(name: str, state: dict[str, Any], last_pause: str | None) -> list[Event]:
    """A pause, once per pause (keyed by when it began); a resume, once after a notified pause."""
    if state.get("paused"):
        at = float(state.get("paused_at") or 0)
        reason = state.get("paused_reason") or "no reason recorded"
        if state.get("paused_by") == "hand":
            reason = f"paused by hand; nothing is sent there until `main.py resume {name}`"
        return [
            Event(
                f"paused:{name}:{at:.0f}",
                f"paused:{name}",
                "error",
                f"feedbot: {name} paused",
                f"{name} is paused: {reason}. Nothing is lost: its posts wait in the queue.",
            )
        ]
    if last_pause is None:
        return []
    # `last_pause` is the key of the latest pause notified: its resume is keyed after it.
    return [
        Event(
            last_pause.replace("paused:", "resumed:", 1),
            f"resumed:{name}",
            "info",
            f"feedbot: {name} resumed",
            f"{name} is posting again; its queued posts go out now.",
        )
    ]


def approval_event(delivery_id: int, platform: str, title: str, settings: Settings) -> Event:
    """A post waiting for approval (APPROVAL), once per post; several within the quiet period
    of their platform are counted in the next message instead of sent one by one."""
    where = (
        f"in the web face ({settings.web.public_url}/queue)"
        if settings.web.public_url
        else "in the web face's queue"
    )
    return Event(
        f"approval:{delivery_id}",
        f"approval:{platform}",
        "warning",
        f"feedbot: a {platform} post waits for approval",
        f"The {platform} post of {title!r} waits for approval: approve or edit it {where}, "
        f"or run `approve {delivery_id}` (or `reject {delivery_id}`).",
    )


def delivery_event(row: dict[str, Any]) -> Event:
    platform = row["platform"]
    what = row.get("title") or row.get("story_url") or f"delivery {row['id']}"
    link = f" ({row['story_url']})" if row.get("story_url") and row.get("title") else ""
    reason = row.get("reason") or "no reason recorded"
    if row["status"] == "needs_attention":
        return Event(
            f"needs_attention:{row['id']}:{float(row['updated_at']):.0f}",
            f"needs_attention:{platform}",
            "warning",
            f"feedbot: a {platform} post needs attention",
            f"The {platform} post of {what!r}{link} needs a person: {reason}. "
            f"See `queue` and settle it with `resolve {row['id']}`.",
        )
    return Event(
        f"failed:{row['id']}:{float(row['updated_at']):.0f}",
        f"failed:{platform}",
        "error",
        f"feedbot: a {platform} post failed",
        f"The {platform} post of {what!r}{link} failed for good: {reason}. "
        f"Fix the cause, then `retry {row['id']}` sends it again.",
    )


def feed_events(
    url: str,
    disabled: bool,
    failures: int,
    failing_since: float | None,
    last_polled_at: float | None,
    last_error: str | None,
    now: float,
) -> list[Event]:
    why = f": {last_error}" if last_error else ""
    if disabled:
        return [
            Event(
                f"feed_disabled:{url}:{float(last_polled_at or 0):.0f}",
                f"feed:{url}",
                "error",
                "feedbot: a feed is disabled",
                f"The feed {url} is disabled{why}. Fix its address or remove it from FEED_URLS.",
            )
        ]
    if failures > 0 and failing_since is not None and now - failing_since >= FEED_FAILING_AFTER:
        return [
            Event(
                f"feed_failing:{url}:{failing_since:.0f}",
                f"feed:{url}",
                "warning",
                "feedbot: a feed keeps failing",
                f"The feed {url} has been failing for {duration(now - failing_since)} "
                f"({failures} tries){why}. It is retried with a growing pause.",
            )
        ]
    return []


def token_events(info: TokenInfo, now: float, sharing: tuple[str, ...] = ()) -> list[Event]:
    """A token (or its data access) ending within 14 days. `sharing`: the other platforms
    that post with the very same token (same variable), named in the one warning it gets."""
    events = []
    who = " and ".join((info.platform, *sharing))
    for what, at in (("token", info.expires_at), ("data access", info.data_access_expires_at)):
        if not at or at - now > TOKEN_WARNING:
            continue
        day = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        left = f"in {duration(at - now)}" if at > now else "already"
        ended = "expires" if at > now else "has expired"
        events.append(
            Event(
                f"token_expiring:{info.platform}:{what}:{at:.0f}",
                f"token_expiring:{info.platform}:{what}",
                "warning",
                f"feedbot: the {who} {what} {ended} {left}",
                f"The {who} {what} of {info.variable} {ended} on {day} ({left}). "
                f"Renew the token and set {info.variable} before then, or {who} "
                f"{'pause' if sharing else 'pauses'} when it ends.",
            )
        )
    return events


def after_cycle(
    notifier: Notifier | None,
    settings: Settings,
    store: Store,
    publishers: Mapping[str, Publisher],
    now: float,
) -> None:
    """What follows every cycle of the worker and of `poll`: the daily token look (which
    notifies an expiry itself) and the notifications of what the cycle changed. Never raises:
    neither may stop the bot."""
    from bot.tokens import daily_token_check

    try:
        found = daily_token_check(publishers, store.platforms, now)
        if notifier is not None and found:
            notify_expiry(notifier, found, now)
    except Exception as exc:  # the store is down: the tick's own failure handling says so
        log.info(f"token expiry check skipped: {type(exc).__name__}")
        log.debug("the failure in full", exc_info=exc)
    if notifier is not None:
        notifier.cycle(settings)


def notify_expiry(notifier: Notifier, infos: Iterable[TokenInfo], now: float) -> int:
    """One warning per token, not per platform: Instagram posting with the Page's token
    (FACEBOOK_PAGE_ACCESS_TOKEN) has one token to renew with Facebook, so it is said once."""
    by_token: dict[str, list[TokenInfo]] = {}
    for info in infos:
        by_token.setdefault(info.variable, []).append(info)
    return notifier.notify(
        event
        for same in by_token.values()
        for event in token_events(same[0], now, tuple(i.platform for i in same[1:]))
    )
