"""The background worker: APScheduler runs the tick at start, then on POLL_INTERVAL or POLL_CRON.

One scheduler, one poll job per schedule: feeds that share a schedule (every FEED_URLS feed, and
each FEEDS_FILE feed with the same poll_interval or poll_cron) share a trigger, and each job
polls only its own feeds. SIGHUP reads FEEDS_FILE again (see `reload_feeds`).

One executor thread means runs never overlap (and `coalesce` folds missed runs into one). A second,
cheap job drains due deliveries between polls, so POST_SPACING and retry times are honoured to
the quarter-minute instead of to the next poll. SIGTERM/SIGINT stop it within 10 seconds: the
tick in hand is asked to stop after the delivery it is sending, and because `sending` is
committed before every API call, even a hard stop leaves nothing that a restart cannot settle.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.engine import CycleReport, Engine
from bot.feed_rules import Feed
from bot.notify import Notifier, after_cycle
from bot.settings import Settings
from bot.tick_failures import TickFailures
from bot.wakeup import WAKE_CHECK_EVERY, WakeWatch

log = logging.getLogger("bot.scheduler")
DRAIN_EVERY = 15.0
STOP_GRACE = 8.0
HEARTBEAT_EVERY = 30.0
"""The worker writes its heartbeat this often; `status` calls it gone after three missed."""


@dataclass(frozen=True)
class PollJob:
    """One trigger and the feeds it polls."""

    id: str
    trigger: CronTrigger | IntervalTrigger
    urls: tuple[str, ...]
    schedule: str
    names: tuple[str, ...]


def poll_jobs(feeds: Sequence[Feed], tz: tzinfo, start: datetime | None = None) -> list[PollJob]:
    """One job per distinct schedule, in the order the schedules first appear. `start`: when
    an interval's count begins (now by default; tests give their own clock's time)."""
    groups: dict[str, list[Feed]] = {}
    for feed in feeds:
        groups.setdefault(feed.schedule, []).append(feed)
    jobs = []
    for key, members in groups.items():
        first = members[0]
        trigger: CronTrigger | IntervalTrigger
        if first.poll_cron:
            trigger = CronTrigger.from_crontab(first.poll_cron, timezone=tz)
        else:
            trigger = IntervalTrigger(seconds=first.poll_interval, timezone=tz, start_date=start)
        jobs.append(
            PollJob(
                "poll" if len(groups) == 1 else f"poll {key}",
                trigger,
                tuple(f.url for f in members),
                first.schedule_text,
                tuple(f.name for f in members),
            )
        )
    return jobs


def fire_times(
    trigger: CronTrigger | IntervalTrigger, after: datetime, until: datetime
) -> list[datetime]:
    """The times `trigger` fires after `after` and before `until` (the worker runs each poll
    job once at start too): what the scheduler will do, worked out without waiting for it."""
    times: list[datetime] = []
    when = trigger.get_next_fire_time(after, after)
    while when is not None and when < until:
        if when > after:
            times.append(when)
        when = trigger.get_next_fire_time(when, when)
    return times


class Worker:
    """Owns the scheduler and the stop signal; `run()` blocks until asked to stop."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        drain_every: float = DRAIN_EVERY,
        on_tick: Callable[[], None] | None = None,
        on_report: Callable[[CycleReport], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        notifier: Notifier | None = None,
        heartbeat_every: float = HEARTBEAT_EVERY,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.notifier = notifier
        self.heartbeat_every = heartbeat_every
        self.drain_every = drain_every
        self.on_tick = on_tick
        self.on_report = on_report
        """Given each tick's report: the demo prints the posts as readable blocks."""
        self.failures = TickFailures(settings.database_url, clock)
        self.poll_owed = False  # a poll skipped or failed during an outage runs at recovery
        self.stopping = threading.Event()
        self.idle = threading.Event()
        self.idle.set()
        self.reload_asked = threading.Event()
        """Set by SIGHUP; the main loop hands the reload to the executor thread."""
        self.poll_job_ids: list[str] = []
        self.scheduler = BackgroundScheduler(
            timezone=settings.tz,
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def _job(self, poll: bool, feeds: Sequence[str] | None = None) -> None:
        """A tick; `feeds`: the URLs of the poll job that fired (None: every feed)."""
        if self.stopping.is_set():
            return
        if not self.failures.ready():  # backing off after failed ticks
            self.poll_owed = self.poll_owed or poll
            return
        if self.poll_owed:
            poll, feeds = True, None  # an owed poll (after an outage) polls every feed
        self.idle.clear()
        try:
            report = self.engine.tick(poll=poll, feeds=feeds)
            if poll:
                failed = [f for f in report.feeds if f.error]
                sent = sum(1 for d in report.deliveries if d.status in ("published", "dry_run"))
                log.info(
                    "poll finished",
                    extra={
                        "feeds": len(report.feeds),
                        "feed_errors": len(failed),
                        "posts": sent,
                        "next_poll": self.next_poll(),
                    },
                )
            if self.on_report and report.deliveries:
                self.on_report(report)
            if poll:
                self.heartbeat()
            after_cycle(
                self.notifier,
                self.settings,
                self.engine.store,
                self.engine.publishers,
                self.engine.clock(),
            )
            if self.on_tick:
                self.on_tick()
        except Exception as exc:  # one bad tick must never stop the worker
            self.poll_owed = self.poll_owed or poll
            self.failures.failed(exc)
        else:
            self.poll_owed = self.poll_owed and not poll
            self.failures.succeeded()
        finally:
            self.idle.set()

    def kick(self) -> None:
        """Send what is due now (after an approval or a 'post now'), not at the next drain.
        Runs on the one executor thread, so it never overlaps a tick."""
        if not self.stopping.is_set() and self.scheduler.running:
            self.scheduler.add_job(self._job, args=[False])

    def push(self, feed_url: str, body: bytes, content_type: str | None) -> None:
        """A verified WebSub push: ingested and sent on the executor thread, at once."""
        if not self.stopping.is_set() and self.scheduler.running:
            self.scheduler.add_job(self._push_job, args=[feed_url, body, content_type])

    def _push_job(self, feed_url: str, body: bytes, content_type: str | None) -> None:
        if self.stopping.is_set():
            return
        self.idle.clear()
        try:
            new = self.engine.ingest_pushed(feed_url, body, content_type)
            log.info("push ingested", extra={"feed": feed_url, "new_stories": len(new)})
            if new:
                self.engine.tick(poll=False)
        except Exception:  # a bad push must never stop the worker; polling reads the feed
            log.exception("push could not be ingested; the next poll reads the feed")
        finally:
            self.idle.set()

    def _wake_watch(self) -> WakeWatch | None:
        try:
            return WakeWatch(self.engine.store.platforms)
        except Exception as exc:  # the store is down: the ticks report it; look again later
            log.debug(f"wake mark not read: {type(exc).__name__}")
            return None

    def _woken(self, watch: WakeWatch | None) -> WakeWatch | None:
        """Drain now when another process (`web`, `approve`, `retry`) asked for it."""
        if watch is None:
            return self._wake_watch()
        try:
            woken = watch.changed()
        except Exception as exc:
            log.debug(f"wake mark not read: {type(exc).__name__}")
            return watch
        if woken:
            log.info("drain asked for by another process")
            self.kick()
        return watch

    def _next_poll_time(self) -> datetime | None:
        jobs = [self.scheduler.get_job(job_id) for job_id in self.poll_job_ids]
        times = [job.next_run_time for job in jobs if job is not None and job.next_run_time]
        return min(times) if times else None

    def next_poll(self) -> str | None:
        when = self._next_poll_time()
        return when.isoformat() if when else None

    def schedule_polls(self, *, first_run: datetime | None = None) -> list[PollJob]:
        """One poll job per schedule (replacing those there were). A schedule that already had
        a job keeps its next run time; a new one runs at `first_run` (now, on a reload)."""
        before = {
            job_id: job.next_run_time
            for job_id in self.poll_job_ids
            if (job := self.scheduler.get_job(job_id)) is not None
        }
        for job_id in self.poll_job_ids:
            if job_id in before:
                self.scheduler.remove_job(job_id)
        jobs = poll_jobs(self.engine.book.feeds, self.settings.tz)
        for job in jobs:
            self.scheduler.add_job(
                self._job,
                job.trigger,
                args=[True, None if len(jobs) == 1 else job.urls],
                id=job.id,
                name=f"poll {job.schedule}: {', '.join(job.names)}",
                next_run_time=before.get(job.id) or first_run or datetime.now(self.settings.tz),
            )
        self.poll_job_ids = [job.id for job in jobs]
        return jobs

    def request_reload(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        """SIGHUP: only a flag here (a signal handler must not take the scheduler's lock)."""
        self.reload_asked.set()

    def _reload_job(self) -> None:
        """Read FEEDS_FILE again and run with it; a bad file keeps the rules in force."""
        from bot.errors import ConfigError
        from bot.feeds_reload import reload_feeds

        try:
            settings, changes = reload_feeds(self.engine, self.settings)
        except ConfigError as exc:
            log.error(f"feeds file not reloaded, the previous rules stay in force: {exc}")
            return
        except Exception as exc:  # a reload must never stop the worker
            log.error(f"feeds file not reloaded, the previous rules stay in force: {exc!r}")
            return
        self.settings = settings
        jobs = self.schedule_polls()
        log.info(
            "feeds file reloaded: " + ("; ".join(changes) if changes else "nothing changed"),
            extra={
                "feeds_file": str(settings.feeds_file),
                "feeds": len(settings.feeds),
                "schedules": ", ".join(job.schedule for job in jobs),
            },
        )

    def heartbeat(self, *, started: bool = False) -> None:
        """Tell the store this worker lives and when it polls next (`status` shows it). A store
        that is down is the tick's failure to report: here it is only skipped."""
        when = self._next_poll_time()
        try:
            self.engine.store.notices.worker_heartbeat(
                self.engine.owner,
                time.time(),
                next_poll_at=when.timestamp() if when else None,
                dry_run=self.settings.dry_run,
                started=started,
            )
        except Exception as exc:
            log.debug(f"heartbeat not written: {type(exc).__name__}")

    def request_stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        if signum is not None:
            log.info("stopping", extra={"signal": signal.Signals(signum).name})
        self.stopping.set()
        self.engine.stop()

    def run(self, *, install_signals: bool = True) -> int:
        if install_signals:
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
            signal.signal(signal.SIGHUP, self.request_reload)
        jobs = self.schedule_polls()
        self.scheduler.add_job(
            self._job, IntervalTrigger(seconds=self.drain_every), args=[False], id="drain"
        )
        if self.engine.parser.wants_pool(len(self.settings.feed_urls)):
            self.engine.parser.warm_up()  # a big feed group: keep the parse helper ready
        self.scheduler.start()
        self.heartbeat(started=True)
        log.info(
            "worker started",
            extra={
                "schedule": self.settings.poll_cron or f"every {self.settings.poll_interval:g}s",
                "timezone": self.settings.timezone,
                **({"schedules": ", ".join(j.schedule for j in jobs)} if len(jobs) > 1 else {}),
            },
        )
        beat = looked = time.monotonic()
        wake = self._wake_watch()
        while not self.stopping.wait(WAKE_CHECK_EVERY / 2):  # a reload asked for waits 0.5 s
            if self.reload_asked.is_set():
                self.reload_asked.clear()
                self.scheduler.add_job(self._reload_job)  # between two jobs, never during one
            now = time.monotonic()
            if now - beat >= self.heartbeat_every:
                beat = now
                self.heartbeat()
            if now - looked >= WAKE_CHECK_EVERY - 0.1:  # one read of the store a second
                looked = now
                wake = self._woken(wake)
        finished = self.idle.wait(STOP_GRACE)
        self.scheduler.shutdown(wait=False)
        try:
            self.engine.store.notices.worker_stopped(self.engine.owner, time.time())
        except Exception as exc:
            log.debug(f"stop not recorded: {type(exc).__name__}")
        log.info("worker stopped", extra={"clean": finished})
        if not finished:
            # The tick in hand is stuck in a network call; its state is committed, so leave now.
            logging.shutdown()
            sys.stderr.flush()
            os._exit(0)
        return 0
