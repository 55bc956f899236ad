"""When the feeds are polled: POLL_INTERVAL or POLL_CRON as the scheduler's trigger, and the
period between two polls that the engine (when a polled feed is due again) and `status` (when a
worker is late) both reason with.

The scheduler's own knowledge, kept apart from the worker (bot.scheduler) so that `status` and
the composition root can ask for the period without importing the worker, its engine and its
notifier. APScheduler is imported only for a cron schedule or a running worker: `status` stays
light.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

MIN_CRON_PERIOD = 60.0


def trigger(interval: float, cron: str | None, tz: tzinfo) -> CronTrigger | IntervalTrigger:
    """The trigger of a schedule: the cron expression when given, else every `interval` s."""
    if cron:
        from apscheduler.triggers.cron import CronTrigger

        return CronTrigger.from_crontab(cron, timezone=tz)
    from apscheduler.triggers.interval import IntervalTrigger

    return IntervalTrigger(seconds=interval, timezone=tz)


def period(interval: float, cron: str | None, tz: tzinfo) -> float:
    """Seconds between two polls: the interval, or for cron the gap between its next two runs
    (at least a minute)."""
    if not cron:
        return interval
    schedule = trigger(interval, cron, tz)
    first = schedule.get_next_fire_time(None, datetime.now(tz))
    second = schedule.get_next_fire_time(first, first) if first else None
    if first is None or second is None:
        return interval
    return max(MIN_CRON_PERIOD, (second - first).total_seconds())


def make_trigger(settings: Settings) -> CronTrigger | IntervalTrigger:
    """The worker's poll trigger, from POLL_INTERVAL or POLL_CRON."""
    return trigger(settings.poll_interval, settings.poll_cron, settings.tz)


def poll_period(settings: Settings) -> float:
    """Seconds between two polls of the worker, from POLL_INTERVAL or POLL_CRON."""
    return period(settings.poll_interval, settings.poll_cron, settings.tz)
