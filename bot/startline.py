"""The worker's first log line: what it runs with, so a glance at the log (or the journal after a
restart) tells which platforms, which mode, how many feeds, which store and which schedule."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bot import __version__
from bot.feedsfile import rules_of
from bot.settings import Settings


def masked_url(url: str) -> str:
    """The URL with its password replaced by ***, for a log line or a message."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def duration_text(seconds: float) -> str:
    """600 -> "10m", 5400 -> "1h30m", 90 -> "90s": as the settings are written."""
    whole = round(seconds)
    if whole % 60 or whole < 60:
        return f"{seconds:g}s"
    hours, minutes = divmod(whole // 60, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "d"), (hours, "h"), (minutes, "m")]
    return "".join(f"{n}{unit}" for n, unit in parts if n)


def schedule_text(settings: Settings) -> str:
    schedules: dict[str, list[str]] = {}
    for feed in rules_of(settings):
        schedules.setdefault(feed.schedule_text, []).append(feed.name)
    if len(schedules) > 1:  # FEEDS_FILE feeds with schedules of their own
        return "polls " + "; ".join(f"{when} ({', '.join(n)})" for when, n in schedules.items())
    if settings.poll_cron:
        return f"polls on cron '{settings.poll_cron}' ({settings.timezone})"
    return f"polls every {duration_text(settings.poll_interval)}"


def start_line(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The message and its fields (for LOG_FORMAT=json)."""
    platforms = ", ".join(settings.platforms) or "none (no credentials set)"
    mode = "DRY RUN: nothing is posted" if settings.dry_run else "live: posts are published"
    feeds = len(settings.feed_urls)
    store = masked_url(settings.database_url)
    message = (
        f"feedbot {__version__} starting: platforms {platforms}; {mode}; "
        f"{feeds} feed{'s' if feeds != 1 else ''}; store {store}; {schedule_text(settings)}"
        + (f"; feeds file {settings.feeds_file}" if settings.feeds_file else "")
        + ("; the demo" if settings.demo else "")
    )
    fields = {
        "platforms": list(settings.platforms),
        "dry_run": settings.dry_run,
        "feeds": feeds,
        "store": store,
        "schedule": settings.poll_cron or duration_text(settings.poll_interval),
        "timezone": settings.timezone,
    }
    return message, fields
