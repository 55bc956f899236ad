"""`status`: what the bot has done and is waiting for, per platform and per feed, and whether
it is healthy (`bot.health` says why not).

It reads only the store, so it answers the same from any machine sharing the database, and it is
cheap enough to be a platform's health check: `status` exits 1 whenever a reason is listed. JSON
times are ISO 8601 in UTC ("2026-12-05T11:20:00Z"); the text gives relative times ("3 min ago").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot import health
from bot.feed_rules import Feed
from bot.feeds.filters import FLOOD_PREFIX
from bot.feedsfile import rules_of
from bot.health import (
    RECENT,
    Reason,
    feed_reasons,
    platform_reasons,
    poll_reasons,
    relative,
)
from bot.poll_schedule import period as schedule_period
from bot.poll_schedule import poll_period
from bot.settings import Settings
from bot.spend_status import format_spend, spend_status
from bot.store import FeedRow, Store

HEARTBEAT_EVERY = 30.0  # as bot.scheduler writes it (not imported: status must stay light)
GONE_AFTER = 3 * HEARTBEAT_EVERY
WORKERS_SHOWN = 7 * 86400.0


def _iso(epoch: float | None) -> str | None:
    if not epoch:
        return None
    when = datetime.fromtimestamp(float(epoch), UTC)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def _epoch(iso: str | None) -> float | None:
    """An ISO 8601 time as written by older workers (any offset) back to epoch seconds."""
    if not iso:
        return None
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def feed_periods(settings: Settings) -> dict[str, float]:
    """Each feed's seconds between polls (FEEDS_FILE feeds have schedules of their own)."""
    periods: dict[str, float] = {}
    for rules in rules_of(settings):
        if rules.schedule not in periods:
            periods[rules.schedule] = schedule_period(
                rules.poll_interval, rules.poll_cron, settings.tz
            )
    return {rules.url: periods[rules.schedule] for rules in rules_of(settings)}


def gather_status(store: Store, settings: Settings, now: float) -> dict[str, Any]:
    """Everything `status` shows, JSON-ready, with `healthy` and the `reasons` when not."""
    periods = feed_periods(settings)
    # The worker polls as often as its most frequent feed: a longer gap means it stopped.
    period = min(periods.values(), default=poll_period(settings))
    counts = store.platforms.delivery_counts(now - RECENT)
    made = store.health.made_since(now - RECENT)
    troubles = store.health.recent_troubles(now - RECENT)
    states = store.platforms.platform_states()
    reasons: list[Reason] = []
    platforms: dict[str, Any] = {}
    for name in sorted(set(settings.platforms) | set(counts) | set(states)):
        c = counts.get(name, {})
        s = states.get(name, {})
        active = name in settings.platforms
        if active:
            reasons += platform_reasons(name, s, troubles.get(name, {}))
        platforms[name] = {
            "configured": active,
            "active": active,
            "published_24h": c.get("published_24h", 0),
            "published_total": c.get("published", 0),
            "dry_run_24h": made.get(name, {}).get("dry_run", 0),
            "dry_run_total": c.get("dry_run", 0),
            "queued": c.get("queued", 0),
            "sending": c.get("sending", 0),
            "deferred": c.get("deferred", 0),
            "next_deferred_at": _iso(c.get("next_deferred_at")),
            "failed": c.get("failed", 0),
            "failed_24h": troubles.get(name, {}).get("failed", {}).get("count", 0),
            "needs_attention": c.get("needs_attention", 0),
            "pending_approval": c.get("pending_approval", 0),  # APPROVAL: waits for a person
            "skipped": c.get("skipped", 0),
            "paused": bool(s.get("paused")),
            "paused_reason": s.get("paused_reason") if s.get("paused") else None,
            "paused_by": s.get("paused_by") if s.get("paused") else None,  # "hand"|"credentials"
            "paused_at": _iso(s.get("paused_at")) if s.get("paused") else None,
            "cancelled": c.get("cancelled", 0),
            "rate_limited_until": _iso(s.get("hold_until"))
            if (s.get("hold_until") or 0) > now
            else None,
            "last_success_at": _iso(s.get("last_success_at")),
            "last_error": s.get("last_error"),
            "last_error_at": _iso(s.get("last_error_at")),
            **_uncertain(store, name, c),
        }
    rows = {f.url: f for f in store.feeds.feed_rows()}
    feeds = []
    by_feed = store.stories.deliveries_by_feed()
    for rules in rules_of(settings):
        url = rules.url
        row = rows.get(url)
        feeds.append(_feed_status(url, row, now) | _feed_rules(rules, row, by_feed, settings))
        if row is not None:
            reasons += feed_reasons(
                url,
                disabled=row.disabled,
                failures=row.failures,
                failing_since=_failing_since(row),
                last_error=row.last_error,
                now=now,
                period=periods.get(url, period),
            )
    flooded = store.stories.skipped_by_feed(FLOOD_PREFIX)
    for feed in feeds:
        urls = {feed["url"], feed["current_url"]}
        feed["skipped_over_cap"] = sum(n for u, n in flooded.items() if u in urls)
    last_poll = store.platforms.get_meta("last_poll_at")
    last_poll_at = float(last_poll) if last_poll else None
    reasons += poll_reasons(last_poll_at, now, period)
    workers = [_worker_status(w, now) for w in store.notices.workers(now - WORKERS_SHOWN)]
    running = [w for w in workers if w["state"] == "running"]
    next_polls = [w["next_poll_at"] for w in running if w["next_poll_at"]]
    for check in health.EXTRA_CHECKS:
        reasons += check(store, settings, now)
    return {
        "healthy": not reasons,
        "reasons": [r.as_dict() for r in reasons],
        "now": _iso(now),
        "dry_run": settings.dry_run,
        "active_platforms": list(settings.platforms),
        "schema_version": store.schema_version(),
        "last_poll_at": _iso(last_poll_at),
        # Only a running worker polls: a stopped one's plan is not shown as "next poll".
        "next_poll_at": min(next_polls) if next_polls else None,
        "worker": "running" if running else ("stopped" if workers else "none"),
        "workers": workers,
        "poll_period_seconds": period,
        "stale_after_seconds": 3 * period,
        "platforms": platforms,
        "spend": spend_status(store.spend, settings, now),
        "feeds": feeds,
        "unconfirmed_deliveries": [
            {
                "delivery_id": row.id,
                "platform": row.platform,
                "status": row.status,
                "story_url": row.post.story_url,
                "reason": row.reason,
                "next_lookup_at": _iso(row.next_attempt_at),
            }
            for row in store.deliveries.deliveries_unconfirmed()
        ],
    }


def _uncertain(store: Store, name: str, counts: dict[str, Any]) -> dict[str, Any]:
    """Deliveries whose outcome is not known yet, and how a platform added later was started."""
    added = store.platforms.platform_admission(name)
    if added is not None:
        added = {**added, "at": _iso(added.get("at"))}
    return {
        "unconfirmed": counts.get("unconfirmed", 0),
        "needs_attention": counts.get("needs_attention", 0),
        "added_to_store": added,
    }


def _worker_status(w: dict[str, Any], now: float) -> dict[str, Any]:
    """running (a recent heartbeat), stopped (said so), or gone (heartbeats stopped: killed or
    hung)."""
    if w["stopped_at"] is not None:
        state = "stopped"
    elif now - w["heartbeat_at"] <= GONE_AFTER:
        state = "running"
    else:
        state = "gone"
    return {
        "id": w["owner"],
        "state": state,
        "started_at": _iso(w["started_at"]),
        "last_seen_at": _iso(w["heartbeat_at"]),
        "stopped_at": _iso(w["stopped_at"]),
        "next_poll_at": _iso(w["next_poll_at"]) if state == "running" else None,
        "dry_run": bool(w["dry_run"]),
    }


def _failing_since(row: FeedRow) -> float | None:
    """When the feed's current run of failures began (kept by the store since schema 3; for a
    run that began before the upgrade, its last success is the best bound there is)."""
    if row.failures <= 0:
        return None
    return row.failing_since if row.failing_since is not None else row.last_success_at


def _feed_status(url: str, f: FeedRow | None, now: float) -> dict[str, Any]:
    """A configured feed, polled or not yet (then listed as never polled)."""
    if f is None:
        never = dict.fromkeys(("last_poll_at", "last_success_at", "last_error", "backoff_until"))
        return {
            "url": url,
            "current_url": url,
            **never,
            "failures": 0,
            "failing_since": None,
            "disabled": False,
        }
    waiting = f.next_poll_at if f.next_poll_at > now and not f.disabled else None
    return {
        "url": f.url,
        "current_url": f.current_url,
        "last_poll_at": _iso(f.last_polled_at),
        "last_success_at": _iso(f.last_success_at),
        "last_error": f.last_error,
        "failures": f.failures,
        "failing_since": _iso(_failing_since(f)),
        # A healthy feed simply waits for the next poll; only a failing one backs off.
        "backoff_until": _iso(waiting) if f.failures > 0 else None,
        "disabled": f.disabled,
    }


def _feed_rules(
    rules: Feed,
    row: FeedRow | None,
    by_feed: dict[str, dict[str, dict[str, int]]],
    settings: Settings,
) -> dict[str, Any]:
    """A feed's own name, platforms and schedule, and its stories' deliveries per platform."""
    counts: dict[str, dict[str, int]] = {}
    for url in {rules.url, row.current_url if row else rules.url}:
        for platform, statuses in by_feed.get(url, {}).items():
            mine = counts.setdefault(platform, {})
            for status, n in statuses.items():
                mine[status] = mine.get(status, 0) + n
    platforms = rules.platforms if rules.from_file else settings.platforms
    return {
        "name": rules.name,
        "from_feeds_file": rules.from_file,
        "platforms": list(platforms),
        "schedule": rules.schedule_text,
        "deliveries": counts,
    }


def format_status(status: dict[str, Any]) -> str:
    """The text form: health and its reasons first, then the mode, the platforms, the feeds."""
    now = _epoch(status["now"]) or 0.0

    def when(iso: str | None, none: str = "never") -> str:
        epoch = _epoch(iso)
        if epoch is None:
            return none
        return f"{relative(epoch, now)} ({iso})"

    lines = [f"health: {'ok' if status['healthy'] else 'UNHEALTHY'}"]
    lines += [f"  - {r['message']}" for r in status["reasons"]]
    mode = "DRY RUN: nothing is posted" if status["dry_run"] else "live"
    lines.append(f"mode: {mode}")
    active = ", ".join(status["active_platforms"]) or "none (no credentials set)"
    lines.append(f"active platforms: {active}")
    lines.append(f"last poll: {when(status['last_poll_at'])}")
    if status["next_poll_at"]:
        lines.append(f"next poll: {when(status['next_poll_at'])}")
    else:
        lines.append("next poll: none scheduled, no worker is running (start one with `run`)")
    for w in status["workers"]:
        if w["state"] == "running":
            seen = f"running since {when(w['started_at'])}, last seen {when(w['last_seen_at'])}"
        elif w["state"] == "stopped":
            seen = f"STOPPED {when(w['stopped_at'])}"
        else:
            seen = f"GONE: not seen since {when(w['last_seen_at'])} (killed or hung?)"
        lines.append(f"worker {w['id']}: {seen}")
    lines += ["", "platform   24h  total dry-run queued deferred failed skipped  state"]
    for name, p in status["platforms"].items():
        state = "ok" if p["active"] else "not active"
        if p["paused"] and p["paused_by"] == "hand":
            since = f" since {p['paused_at']} ({relative(_epoch(p['paused_at']), now)})"
            state = f"PAUSED by hand{since if p['paused_at'] else ''}"
            state += f" (resume: main.py resume {name})"
        elif p["paused"]:
            state = f"PAUSED: {p['paused_reason'] or 'no reason recorded'}"
            if p["paused_at"]:
                state += f"; since {when(p['paused_at'])}"
        elif p["rate_limited_until"]:
            state = f"rate limited: next try {when(p['rate_limited_until'])}"
        lines.append(
            f"{name:<10}{p['published_24h']:>4}{p['published_total']:>7}{p['dry_run_total']:>8}"
            f"{p['queued']:>7}{p['deferred']:>9}{p['failed']:>7}{p['skipped']:>8}  {state}"
        )
        if p["needs_attention"]:
            lines.append(f"{'':<10}needing attention: {p['needs_attention']}")
        if p.get("pending_approval"):
            lines.append(
                f"{'':<10}waiting for approval: {p['pending_approval']} "
                "(approve ID / reject ID, or the web face's queue)"
            )
        if p["next_deferred_at"]:
            lines.append(f"{'':<10}next deferred attempt: {when(p['next_deferred_at'])}")
        if p["last_error"] and not (p["paused"] and p["last_error"] == p["paused_reason"]):
            lines.append(f"{'':<10}last error {when(p['last_error_at'])}: {p['last_error']}")
        if p["last_success_at"]:
            lines.append(f"{'':<10}last success: {when(p['last_success_at'])}")
        lines += _uncertain_lines(p)
    for item in status.get("unconfirmed_deliveries", []):
        head = "NEEDS ATTENTION" if item["status"] == "needs_attention" else "unconfirmed"
        lines.append(
            f"{head}: delivery {item['delivery_id']} ({item['platform']}, {item['story_url']}): "
            f"{item['reason']}; next look-up {item['next_lookup_at']}; settle it by hand with "
            f"`resolve {item['delivery_id']} --published URL` or `--not-published`"
        )
    spend = format_spend(status["spend"]) if status.get("spend") else []
    lines += ["", *spend] if spend else []
    lines += ["", "feeds:"]
    for f in status["feeds"]:
        state = "DISABLED" if f["disabled"] else ("error" if f["last_error"] else "ok")
        named = f"{f['name']}  {f['url']}" if f.get("name", f["url"]) != f["url"] else f["url"]
        lines.append(f"  {named}  [{state}] last poll {when(f['last_poll_at'])}")
        if "schedule" in f:
            platforms = ", ".join(f["platforms"]) or "none"
            lines.append(f"    polls {f['schedule']}; posts to {platforms}")
        for platform, counts in f.get("deliveries", {}).items():
            shown = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(counts.items()))
            lines.append(f"    {platform}: {shown}")
        if f["last_error"]:
            lines.append(f"    last error: {f['last_error']} (failures: {f['failures']})")
        if f["backoff_until"]:
            lines.append(f"    backing off: next try {when(f['backoff_until'])}")
        if f.get("skipped_over_cap"):
            lines.append(
                f"    {f['skipped_over_cap']} stories skipped: over MAX_NEW_PER_FEED in one poll"
            )
    lines += ["", f"store: schema version {status['schema_version']}"]
    return "\n".join(lines)


def _uncertain_lines(p: dict[str, Any]) -> list[str]:
    lines = []
    if p.get("unconfirmed") or p.get("needs_attention"):
        lines.append(
            f"{'':<10}unconfirmed: {p['unconfirmed']} (looked up again on the retry backoff), "
            f"needs attention: {p['needs_attention']}"
        )
    added = p.get("added_to_store")
    if added:
        lines.append(
            f"{'':<10}added to this store {added['at']}: NEW_PLATFORM_BACKLOG={added['backlog']} "
            f"({added['queued']} earlier stories to post, {added['skipped']} skipped)"
        )
    return lines
