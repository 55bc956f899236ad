"""`status`: what the bot has done and is waiting for, per platform and per feed.

It reads only the store, so it answers the same from any machine sharing the database, and it is
cheap enough to be a platform's health check (`status --json` exits 1 when polling has stalled).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.settings import Settings
from bot.store import FeedRow, Store


def _iso(epoch: float | None) -> str | None:
    if not epoch:
        return None
    return datetime.fromtimestamp(float(epoch), UTC).isoformat().replace("+00:00", "Z")


def poll_period(settings: Settings) -> float:
    """Seconds between two polls: the interval, or for cron the gap between its next two runs."""
    if not settings.poll_cron:
        return settings.poll_interval
    from bot.scheduler import make_trigger

    trigger = make_trigger(settings)
    first = trigger.get_next_fire_time(None, datetime.now(settings.tz))
    second = trigger.get_next_fire_time(first, first) if first else None
    if first is None or second is None:
        return settings.poll_interval
    return max(60.0, (second - first).total_seconds())


def gather_status(store: Store, settings: Settings, now: float) -> dict[str, Any]:
    counts = store.delivery_counts(now - 86400)
    states = store.platform_states()
    platforms: dict[str, Any] = {}
    for name in sorted(set(settings.platforms) | set(counts) | set(states)):
        c = counts.get(name, {})
        s = states.get(name, {})
        platforms[name] = {
            "configured": name in settings.platforms,
            "published_24h": c.get("published_24h", 0),
            "published_total": c.get("published", 0),
            "dry_run_total": c.get("dry_run", 0),
            "queued": c.get("queued", 0),
            "sending": c.get("sending", 0),
            "deferred": c.get("deferred", 0),
            "next_deferred_at": _iso(c.get("next_deferred_at")),
            "failed": c.get("failed", 0),
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
        }
    rows = {f.url: f for f in store.feed_rows()}
    feeds = [_feed_status(url, rows.get(url), now) for url in settings.feed_urls]
    last_poll = store.get_meta("last_poll_at")
    last_poll_at = float(last_poll) if last_poll else None
    stale_after = 3 * poll_period(settings)
    healthy = last_poll_at is not None and now - last_poll_at <= stale_after
    return {
        "healthy": healthy,
        "schema_version": store.schema_version(),
        "last_poll_at": _iso(last_poll_at),
        "next_poll_at": store.get_meta("next_poll_at"),
        "stale_after_seconds": stale_after,
        "platforms": platforms,
        "feeds": feeds,
    }


def _feed_status(url: str, f: FeedRow | None, now: float) -> dict[str, Any]:
    """A configured feed, polled or not yet (then listed as never polled)."""
    if f is None:
        never = dict.fromkeys(("last_poll_at", "last_success_at", "last_error", "backoff_until"))
        return {"url": url, "current_url": url, **never, "failures": 0, "disabled": False}
    return {
        "url": f.url,
        "current_url": f.current_url,
        "last_poll_at": _iso(f.last_polled_at),
        "last_success_at": _iso(f.last_success_at),
        "last_error": f.last_error,
        "failures": f.failures,
        "backoff_until": _iso(f.next_poll_at) if f.next_poll_at > now else None,
        "disabled": f.disabled,
    }


def format_status(status: dict[str, Any]) -> str:
    lines = [
        f"health: {'ok' if status['healthy'] else 'STALE (no poll within 3 intervals)'}",
        f"last poll: {status['last_poll_at'] or 'never'}   next poll: "
        f"{status['next_poll_at'] or 'not scheduled (no worker running?)'}",
        "",
        "platform   24h  total queued deferred failed skipped  state",
    ]
    for name, p in status["platforms"].items():
        state = "PAUSED: " + (p["paused_reason"] or "") if p["paused"] else "ok"
        if p["paused_by"] == "hand":
            state = f"PAUSED by hand since {p['paused_at']} (resume: main.py resume {name})"
        if p["rate_limited_until"]:
            state = f"rate limited until {p['rate_limited_until']}"
        lines.append(
            f"{name:<10}{p['published_24h']:>4}{p['published_total']:>7}{p['queued']:>7}"
            f"{p['deferred']:>9}{p['failed']:>7}{p['skipped']:>8}  {state}"
        )
        if p["next_deferred_at"]:
            lines.append(f"{'':<10}next deferred attempt: {p['next_deferred_at']}")
        if p["last_error"]:
            lines.append(f"{'':<10}last error ({p['last_error_at']}): {p['last_error']}")
        if p["last_success_at"]:
            lines.append(f"{'':<10}last success: {p['last_success_at']}")
    lines += ["", "feeds:"]
    for f in status["feeds"]:
        state = "DISABLED" if f["disabled"] else ("error" if f["last_error"] else "ok")
        lines.append(f"  {f['url']}  [{state}] last poll {f['last_poll_at'] or 'never'}")
        if f["last_error"]:
            lines.append(f"    last error: {f['last_error']} (failures: {f['failures']})")
        if f["backoff_until"]:
            lines.append(f"    backing off until {f['backoff_until']}")
    lines += ["", f"store: schema version {status['schema_version']}"]
    return "\n".join(lines)
