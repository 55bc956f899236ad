"""Queue control: what a person can see and change beside a running worker.

`queue`, `cancel`, `retry`, `pause`, `resume` and `history` read and change only the store, so
they work from any machine sharing the database, while a worker runs. Every change is one
conditional update that a worker's claim has to get past too (see QueueStore.cancel_delivery):
a delivery a worker holds is never changed behind its back, and the person is told so.

Each function returns an Outcome: the lines to show, the JSON records for --json, and the exit
code (0 done, 1 could not be done as asked); unknown ids and names raise ConfigError (exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.errors import ConfigError
from bot.models import DeliveryStatus
from bot.platforms import registry
from bot.store.delivery_queue import DeliveryStore
from bot.store.platform_state import PAUSED_BY_HAND, PlatformStore
from bot.store.queue_hand import QueueStore
from bot.store.rows import DeliveryRow, HandChange, QueueEntry
from bot.store.story_log import StoryStore
from bot.wakeup import wake_workers

S = DeliveryStatus
PLATFORM_NAMES = registry.names()
MAYBE_OUT = ("unconfirmed", "needs_attention")
"""Statuses (from the exactly-once work) of a delivery whose earlier attempt may have gone out."""


class HandStores(Protocol):
    """The narrow stores queue control works with, and no other: what waits and what went out
    (`queue`), the deliveries and stories to find them by id or URL, and the platforms' pauses.
    `bot.store.Store` hands out all four."""

    queue: QueueStore
    deliveries: DeliveryStore
    stories: StoryStore
    platforms: PlatformStore


_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+")


@dataclass
class Outcome:
    """What a command shows and how it ends."""

    lines: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int = 0


# --- small helpers -----------------------------------------------------------------------------


def parse_platform(name: str) -> str:
    """A platform name as PLATFORMS spells it; anything else is a usage error naming it."""
    value = name.strip().lower()
    if value not in PLATFORM_NAMES:
        raise ConfigError(f"unknown platform {name!r}: use one of {', '.join(PLATFORM_NAMES)}")
    return value


def parse_id(value: str | int) -> int:
    text = str(value).strip()
    if not text.isdigit():
        raise ConfigError(f"{value!r} is not a delivery id: give the number `main.py queue` shows")
    return int(text)


def parse_limit(limit: int) -> int:
    if limit < 1:
        raise ConfigError(f"--limit {limit}: give a number of posts, 1 or more")
    return limit


def clean(text: str | None, width: int | None = None) -> str:
    """A stranger's string made safe for a terminal line: no control or direction characters
    (a title could otherwise move the cursor, clear the screen or reverse the text)."""
    value = " ".join(_UNSAFE.sub(" ", text or "").split())
    if width is not None and len(value) > width:
        value = value[: width - 1] + "…"
    return value


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def when(epoch: float, now: float) -> str:
    """A time for a person: relative, with the UTC clock time beside it."""
    clock = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
    delta = epoch - now
    if abs(delta) < 60:
        return f"now ({clock})"
    amount = abs(delta)
    if amount < 3600:
        span = f"{int(amount // 60)} min"
    elif amount < 86400 * 2:
        span = f"{int(amount // 3600)} h {int(amount % 3600 // 60)} min"
    else:
        span = f"{int(amount // 86400)} days"
    return f"in {span} ({clock})" if delta > 0 else f"{span} ago ({clock})"


def _label(row: DeliveryRow) -> str:
    return f"delivery {row.id} ({row.platform})"


# --- queue -------------------------------------------------------------------------------------


def show_queue(store: HandStores, now: float, platform: str | None = None) -> Outcome:
    """Every delivery not yet settled: queued, deferred, being sent, unconfirmed, needing you."""
    states = store.platforms.platform_states()
    entries = store.queue.pending_deliveries(now, platform)
    out = Outcome()
    for name, state in sorted(states.items()):
        if state.get("paused") and (platform is None or name == platform):
            out.lines.append(_paused_line(name, state))
    for entry in entries:
        state = states.get(entry.platform, {})
        due = _next_attempt(entry, state, now)
        out.records.append(
            {
                "id": entry.id,
                "platform": entry.platform,
                "status": entry.status,
                "title": entry.title,
                "story_url": entry.story_url,
                "next_attempt_at": iso(due),
                "attempts": entry.attempts,
                "reason": entry.reason,
                "being_sent": entry.claimed or entry.status == S.SENDING,
                "platform_paused": bool(state.get("paused")),
            }
        )
    if not entries:
        out.lines.append("the queue is empty" + (f" for {platform}" if platform else ""))
        return out
    out.lines.append(f"{'id':>6}  {'platform':<10} {'status':<16} {'next attempt':<32} title")
    for entry in entries:
        state = states.get(entry.platform, {})
        out.lines.append(
            f"{entry.id:>6}  {entry.platform:<10} {entry.status:<16} "
            f"{_next_text(entry, state, now):<32} {clean(entry.title, 60)}"
        )
        if entry.reason and entry.status != S.QUEUED:
            out.lines.append(f"{'':>8}{clean(entry.reason, 110)}")
    out.lines.append(f"{len(entries)} delivery(ies) waiting")
    return out


def _next_attempt(entry: QueueEntry, state: dict[str, Any], now: float) -> float | None:
    """When the worker will next try it: never while paused, not before a rate limit ends."""
    if state.get("paused") or entry.status == "needs_attention":
        return None
    if entry.status == S.SENDING or entry.claimed:
        return now
    return max(entry.next_attempt_at, state.get("hold_until") or 0.0)


def _next_text(entry: QueueEntry, state: dict[str, Any], now: float) -> str:
    if entry.status == S.SENDING or entry.claimed:
        return "being sent now"
    if entry.status == "needs_attention":
        return f"needs you: resolve {entry.id}"
    if entry.status == S.PENDING_APPROVAL:
        return f"waits for approval: approve {entry.id} (or reject {entry.id})"
    if state.get("paused"):
        return f"paused: resume {entry.platform}"
    due = _next_attempt(entry, state, now) or now
    if due <= now:
        return "due now"
    rate = " (rate limited)" if due == state.get("hold_until") else ""
    return when(due, now) + rate


def _paused_line(name: str, state: dict[str, Any]) -> str:
    if state.get("paused_by") == PAUSED_BY_HAND:
        return f"{name} is PAUSED by hand: nothing is sent there until `main.py resume {name}`"
    return (
        f"{name} is PAUSED: {clean(state.get('paused_reason'), 160)}; "
        f"it resumes by itself once fixed, or with `main.py resume {name}`"
    )


# --- cancel ------------------------------------------------------------------------------------


def cancel(store: HandStores, target: str, now: float, platform: str | None = None) -> Outcome:
    """Cancel a delivery by id, or every pending delivery of a story by its URL."""
    if target.strip().isdigit():
        row = _delivery(store, parse_id(target))
        if platform and row.platform != platform:
            raise ConfigError(
                f"delivery {row.id} is on {row.platform}, not {platform}: drop --platform "
                "or give the delivery id of that platform (see `main.py queue`)"
            )
        rows = [row]
    else:
        rows = _story_deliveries(store, target, platform)
    out = Outcome()
    for row in rows:
        change = store.queue.cancel_delivery(row.id, now)
        if change is None:  # deleted meanwhile: cannot happen today, but never crash on it
            raise ConfigError(f"unknown delivery id {row.id}: see `main.py queue`")
        _cancel_result(change, out)
    return out


def _story_deliveries(store: HandStores, url: str, platform: str | None) -> list[DeliveryRow]:
    from bot.feeds.normalize import canonical_url

    if not url.strip().lower().startswith(("http://", "https://")):
        raise ConfigError(
            f"{url!r} is neither a delivery id nor a story URL: give the id `main.py queue` "
            "shows, or the story's http(s) link"
        )
    known = store.stories.story_by_url(
        canonical_url(url, url) or url
    ) or store.stories.story_by_url(url)
    if known is None:
        raise ConfigError(f"no story with the URL {url} in the store: see `main.py queue`")
    rows = store.deliveries.deliveries_for_story(known[0])
    if platform:
        rows = [r for r in rows if r.platform == platform]
        if not rows:
            raise ConfigError(f"the story {url} has no delivery on {platform}")
    return rows


def _cancel_result(change: HandChange, out: Outcome) -> None:
    row = change.before
    story = clean(row.post.story_url or f"story {row.story_id}")
    record: dict[str, Any] = {"id": row.id, "platform": row.platform, "status": row.status}
    if change.done:
        record["status"] = S.CANCELLED.value
        out.lines.append(f"cancelled {_label(row)} of {story}: it will never be sent")
        if row.uncertain:
            out.lines.append(
                f"  note: an earlier attempt timed out and may have gone out: "
                f"check the {row.platform} account"
            )
    elif change.claimed or row.status == S.SENDING:
        out.exit_code = 1
        out.lines.append(
            f"NOT cancelled: {_label(row)} is being sent right now by a worker; it may go out. "
            "See `main.py history` in a minute, and delete the post there if it did"
        )
    elif row.status in MAYBE_OUT:
        out.exit_code = 1
        out.lines.append(
            f"NOT cancelled: {_label(row)} is {row.status}: an earlier attempt may have gone out. "
            f"Settle it first with `main.py resolve {row.id} --published URL` or "
            "`--not-published`"
        )
    elif row.status == S.PUBLISHED:
        out.exit_code = 1
        out.lines.append(
            f"NOT cancelled: {_label(row)} was already published: "
            f"{row.remote_url or row.remote_id}; delete it on {row.platform} if it must go"
        )
    elif row.status == S.CANCELLED:
        out.lines.append(f"{_label(row)} was already cancelled; it will never be sent")
    else:  # failed, skipped, dry_run: nothing will be sent
        out.lines.append(
            f"{_label(row)} is {row.status}: nothing will be sent (unless you `retry {row.id}`)"
        )
    record["cancelled"] = change.done
    out.records.append(record)


# --- retry -------------------------------------------------------------------------------------


def retry(store: HandStores, target: str | int, now: float) -> Outcome:
    """A failed or cancelled delivery queued again; a deferred one made due now."""
    delivery_id = parse_id(target)
    row = _delivery(store, delivery_id)
    out = Outcome()
    if row.status == S.DEFERRED:
        change = store.queue.hurry_delivery(delivery_id, now)
    else:
        change = store.queue.requeue_delivery(delivery_id, now)
    assert change is not None  # the row exists: rows are never deleted
    row = change.before
    # An announcement (`post --text`, no story URL) is posted again the way it was made.
    story = row.post.story_url or "--text TEXT"
    if change.done:
        was = "due now" if row.status == S.DEFERRED else "queued again"
        wake_workers(store.platforms, now)
        out.lines.append(
            f"{_label(row)} {was} (was {row.status}): a running worker sends it within seconds "
            "(or run `main.py poll`)"
        )
        if row.uncertain:
            out.lines.append(
                f"  an earlier attempt may have gone out: {row.platform} is searched for it "
                "before it is sent again"
            )
        paused = store.platforms.platform_states().get(row.platform, {})
        if paused.get("paused"):
            out.lines.append(
                f"  note: {row.platform} is paused, so it waits until "
                f"`main.py resume {row.platform}`"
            )
        return out
    out.exit_code = 1
    if change.claimed or row.status == S.SENDING:
        out.lines.append(f"{_label(row)} is being sent right now by a worker: nothing to retry")
    elif row.status == S.QUEUED:
        out.exit_code = 0
        out.lines.append(f"{_label(row)} is already queued: the worker sends it when due")
    elif row.status in MAYBE_OUT:
        out.lines.append(
            f"{_label(row)} is {row.status}: an earlier attempt may have gone out. Settle it with "
            f"`main.py resolve {row.id} --published URL` or `--not-published`"
        )
    elif row.status == S.PUBLISHED:
        out.lines.append(
            f"{_label(row)} was already published ({row.remote_url or row.remote_id}): to post "
            f"it again, `main.py post {story} --platform {row.platform} --force`"
        )
    else:  # skipped, dry_run
        why = f" ({clean(row.reason, 120)})" if row.reason else ""
        out.lines.append(
            f"{_label(row)} was {row.status}{why}, so there is no failure to retry: to post it "
            f"anyway, `main.py post {story} --platform {row.platform}`"
        )
    return out


# --- pause and resume --------------------------------------------------------------------------


def pause(store: HandStores, platform: str, now: float) -> Outcome:
    before = store.platforms.pause_by_hand(platform, now) or {}
    out = Outcome()
    if before.get("paused") and before.get("paused_by") == PAUSED_BY_HAND:
        since = when(before["paused_at"], now) if before.get("paused_at") else "earlier"
        out.lines.append(f"{platform} was already paused by hand (since {since})")
        return out
    waiting = store.queue.pending_deliveries(now, platform)
    out.lines.append(
        f"{platform} paused: nothing is sent there until `main.py resume {platform}`; "
        f"{sum(1 for e in waiting if not _in_flight(e))} delivery(ies) wait in the queue"
    )
    busy = [e for e in waiting if _in_flight(e)]
    if busy:
        ids = ", ".join(str(e.id) for e in busy)
        out.lines.append(
            f"  note: a worker is sending {len(busy)} right now (delivery {ids}); "
            "it may still go out: see `main.py history`"
        )
    if before.get("paused"):
        out.lines.append(
            f"  it was paused for: {clean(before.get('paused_reason'), 160)}; "
            "now only `resume` lifts the pause"
        )
    return out


def _in_flight(entry: QueueEntry) -> bool:
    return entry.claimed or entry.status == S.SENDING


def resume(store: HandStores, platform: str, now: float) -> Outcome:
    before = store.platforms.platform_states().get(platform, {})
    out = Outcome()
    if not store.platforms.resume_platform(platform, now, by_hand=True):
        out.lines.append(f"{platform} was not paused")
        return out
    waiting = len(store.queue.pending_deliveries(now, platform))
    wake_workers(store.platforms, now)
    out.lines.append(
        f"{platform} resumed: {waiting} delivery(ies) in the queue go out from the worker's "
        "next tick, within seconds"
    )
    if before.get("paused_by") != PAUSED_BY_HAND:
        out.lines.append(
            "  it was paused for refused credentials: if they are still refused, the next "
            "attempt pauses it again (check them with `main.py check`)"
        )
    return out


# --- history -----------------------------------------------------------------------------------


def history(store: HandStores, now: float, platform: str | None = None, limit: int = 20) -> Outcome:
    """What went out, newest first, with the link to each live post."""
    out = Outcome()
    for entry in store.queue.sent_history(platform=platform, limit=parse_limit(limit)):
        out.records.append(
            {
                "id": entry.id,
                "platform": entry.platform,
                "published_at": iso(entry.published_at),
                "title": entry.title,
                "story_url": entry.story_url,
                "remote_id": entry.remote_id,
                "remote_url": entry.remote_url,
            }
        )
        out.lines.append(
            f"{when(entry.published_at, now)}  {entry.platform:<10} {clean(entry.title, 70)}"
        )
        out.lines.append(f"    {clean(entry.remote_url or f'id {entry.remote_id}')}")
    if not out.records:
        out.lines.append("nothing has been published yet" + (f" on {platform}" if platform else ""))
    return out


def _delivery(store: HandStores, delivery_id: int) -> DeliveryRow:
    row = store.deliveries.find_delivery(delivery_id)
    if row is None:
        raise ConfigError(f"unknown delivery id {delivery_id}: see `main.py queue`")
    return row
