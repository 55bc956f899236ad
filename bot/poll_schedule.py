"""When the feeds are polled: POLL_INTERVAL or POLL_CRON as the scheduler's trigger, and the
period between two polls that the engine (when a polled feed is due again) and `status` (when a
worker is late) both reason with.

The scheduler's own knowledge, kept apart from the worker (bot.scheduler) so that `status` and
the composition root can ask for the period without importing the worker, its engine and its
notifier. APScheduler is imported only for a cron schedule or a running worker: `status` stays
light.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from itertools import pairwise
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

MIN_CRON_PERIOD = 60.0
CRON_RUNS = 24
"""How many of a crontab's next runs its shortest gap is looked for in."""


def trigger(interval: float, cron: str | None, tz: tzinfo) -> CronTrigger | IntervalTrigger:
    """The trigger of a schedule: the cron expression when given, else every `interval` s."""
    if cron:
        from apscheduler.triggers.cron import CronTrigger

        return CronTrigger.from_crontab(cron, timezone=tz)
    from apscheduler.triggers.interval import IntervalTrigger

    return IntervalTrigger(seconds=interval, timezone=tz)


def period(interval: float, cron: str | None, tz: tzinfo) -> float:
    """Seconds between two polls: the interval, or for cron the shortest gap between its next
    runs (at least a minute): polled at 09:00 and 17:00, a feed must be due again by 17:00, so
    the 8 hours count, not the 16 that may come first."""
    if not cron:
        return interval
    schedule = trigger(interval, cron, tz)
    runs: list[datetime] = []
    when = schedule.get_next_fire_time(None, datetime.now(tz))
    while when is not None and len(runs) < CRON_RUNS:
        runs.append(when)
        when = schedule.get_next_fire_time(when, when + timedelta(seconds=1))
    gaps = [(b - a).total_seconds() for a, b in pairwise(runs)]
    return max(MIN_CRON_PERIOD, min(gaps)) if gaps else interval


def make_trigger(settings: Settings) -> CronTrigger | IntervalTrigger:
    """The worker's poll trigger, from POLL_INTERVAL or POLL_CRON."""
    return trigger(settings.poll_interval, settings.poll_cron, settings.tz)


def poll_period(settings: Settings) -> float:
    """Seconds between two polls of the worker, from POLL_INTERVAL or POLL_CRON."""
    return period(settings.poll_interval, settings.poll_cron, settings.tz)
