"""The poll of the feeds: claim a share of the due feeds, fetch them concurrently, parse each as
it arrives, sort the unseen stories (BACKLOG on a feed's first poll, the plan's age and filters,
MAX_NEW_PER_FEED), take the wanted ones in and plan them, and write the share back in bulk.

A WebSub push goes through the same steps, so a story pushed and polled is stored once. What a
story becomes is bot.pipeline's decision; this module only decides which stories are new and
wanted, and records them.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from bot.delivery import DeliveryReport
from bot.errors import FeedError
from bot.feed_book import FeedBook, SlotHolder
from bot.feeds.backoff import feed_backoff
from bot.feeds.fetch import FeedRequest, Fetcher, FetchResult, content_digest
from bot.feeds.filters import flood_reason
from bot.feeds.parse import ParsedFeed
from bot.feeds.parse_pool import ParsePool
from bot.intake import Intake
from bot.models import DeliveryStatus, Story
from bot.pipeline import plan, skip_reason
from bot.progress import Progress
from bot.settings import Settings
from bot.store import FeedRow, FeedUpdate, NewDelivery
from bot.store.feed_state import FeedStore
from bot.store.platform_state import PlatformStore
from bot.store.story_log import StoryStore

log = logging.getLogger("bot.engine")
FRESH_SHARE = 0.8  # a polled feed is not due again for this share of the poll period
S = DeliveryStatus


@dataclass
class FeedReport:
    url: str
    status: str  # "ok" | "not_modified" | "error" | "gone"
    new_stories: int = 0
    error: str | None = None


@dataclass
class CycleReport:
    """What one cycle did; `failed` drives the exit code of `poll`."""

    feeds: list[FeedReport] = field(default_factory=list)
    deliveries: list[DeliveryReport] = field(default_factory=list)
    new_story_ids: list[int] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(f.status in ("error", "gone") for f in self.feeds) or any(
            d.status in (S.FAILED, S.NEEDS_ATTENTION) for d in self.deliveries
        )

    def merge(self, reports: Sequence[DeliveryReport]) -> None:
        """Keep one record per delivery: its latest state in this cycle."""
        index = {d.delivery_id: i for i, d in enumerate(self.deliveries) if d.delivery_id}
        for report in reports:
            if report.delivery_id in index:
                self.deliveries[index[report.delivery_id]] = report
            else:
                index[report.delivery_id] = len(self.deliveries)
                self.deliveries.append(report)


class Poller:
    """Polls the feeds for the engine, with the parts the composition root built."""

    def __init__(
        self,
        settings: Settings,
        fetcher: Fetcher,
        parser: ParsePool,
        intake: Intake,
        *,
        feeds: FeedStore,
        stories: StoryStore,
        meta: PlatformStore,
        book: FeedBook,
        clock: Callable[[], float],
        owner: str,
        stop: threading.Event,
        poll_period: float,
    ) -> None:
        """Only the stores a poll writes: `feeds` (claims, validators, backoff), `stories`
        (seen and new), `meta` (when the last poll ran). `book`: every feed with its rules
        (bot.feed_book); `book.rules(feed_url)` plans that feed's stories."""
        self.settings = settings
        self.feeds = feeds
        self.stories = stories
        self.meta = meta
        self.fetcher = fetcher
        self.parser = parser
        self.intake = intake
        self.book = book
        self.clock = clock
        self.owner = owner
        self.stop_event = stop
        self.poll_period = poll_period
        self.on_pending: Callable[[int], None] | None = None
        """Told how many new posts wait for approval (a notifier may hook in here)."""
        self.progress: Progress = Progress()
        """Told of each feed fetched and story queued (`poll` on a terminal draws a line)."""

    def poll(
        self, report: CycleReport, *, force: bool = False, feeds: Sequence[str] | None = None
    ) -> None:
        """Poll the due feeds (of `feeds`, else all), a share at a time: each share is claimed,
        fetched concurrently, and written back in bulk, so several workers split a large feed
        list and a worker that dies holds only one share's claims."""
        urls = tuple(self.book.urls if feeds is None else feeds)
        self.feeds.ensure_feeds(urls)
        self.progress.start(len(urls))
        share = max(64, self.settings.feed_concurrency * 16)
        started = self.clock()
        while not self.stop_event.is_set():
            now = self.clock()
            rows = self.feeds.claim_feeds(
                urls,
                now,
                self.owner,
                self.settings.lease_seconds,
                force=force,
                limit=share,
                not_polled_since=started,
            )
            if not rows:
                break
            requests = [FeedRequest(r.current_url, r.etag, r.last_modified) for r in rows]
            batch = _PollBatch(in_pool=self.parser.wants_pool(len(rows)))
            # Each feed is parsed as soon as it arrives, while the others are still in flight.
            for index, result in self.fetcher.fetch_iter(requests):
                report.feeds.append(self._handle_fetch(rows[index], result, report, batch))
                self.progress.fetched()
            self._collect(batch, now)
            self._sort_share(batch, now)
            self._compose_share(batch, now)
            # Stories first, validators last: a crash in between only re-fetches.
            self.stories.add_skipped(batch.skipped, now)
            self._queue(batch, report, now)
            written = self.feeds.feeds_polled(batch.updates, now)
            if written < len(batch.updates):  # the stories are in; only validators are lost
                log.warning(
                    "feed lease lost during the poll: another worker polled some of these feeds",
                    extra={"feeds": len(batch.updates) - written},
                )
            if len(rows) < share:
                break
        finished = self.clock()
        self.meta.set_meta("last_poll_at", repr(finished))
        self.meta.set_meta("last_poll_seconds", repr(max(0.0, finished - started)))

    def _handle_fetch(
        self, row: FeedRow, result: FetchResult, report: CycleReport, batch: _PollBatch
    ) -> FeedReport:
        now = self.clock()
        if result.error is not None:
            return self._feed_failed(row, result.error, now)
        if result.permanent_url and result.permanent_url != row.current_url:
            log.warning(
                "feed moved permanently: using the new address from now on",
                extra={"feed": row.url, "new_url": result.permanent_url},
            )
        polled = FeedUpdate(
            row.id,
            result.etag,
            result.last_modified,
            result.permanent_url,
            self._next_due(now, row.url),
            initialized=row.initialized,
            lease_owner=row.lease_owner,
            lease_token=row.lease_token,
        )
        body = result.body or b""
        digest = None if result.not_modified else content_digest(body)
        if result.not_modified or (row.initialized and digest == row.body_digest):
            batch.updates.append(polled)  # a 304, or the very body already processed in full
            return FeedReport(row.url, "not_modified")
        feed_report = FeedReport(row.url, "ok")
        future = self.parser.submit(
            body,
            url=result.final_url,
            now=datetime.fromtimestamp(now, UTC),
            content_type=result.content_type,
            in_pool=batch.in_pool,
        )
        done = replace(polled, initialized=True, body_digest=digest)  # written once stored
        batch.pending.append((row, future, feed_report, done))
        return feed_report

    def _collect(self, batch: _PollBatch, now: float) -> None:
        """The share's parse results, in the order the feeds arrived."""
        self.parser.finish()
        for row, future, feed_report, polled in batch.pending:
            try:
                parsed = future.result()
            except FeedError as exc:
                failed = self._feed_failed(row, exc, now)
            except BrokenProcessPool:  # the helper died: parse inline from now on
                self.parser.mark_broken()
                failed = self._feed_failed(row, FeedError(row.url, "parser process died"), now)
            except Exception as exc:  # a parser bug must not stop the other feeds
                log.error("feed could not be parsed", exc_info=exc, extra={"feed": row.url})
                failed = self._feed_failed(row, FeedError(row.url, f"unparseable: {exc}"), now)
            else:
                if parsed.warning:
                    log.info(
                        "feed parsed with a warning",
                        extra={"feed": row.url, "warning": parsed.warning},
                    )
                batch.parsed.append((row, parsed.stories, feed_report))
                batch.updates.append(polled)
                continue
            feed_report.status, feed_report.error = failed.status, failed.error

    def _sort_share(self, batch: _PollBatch, now: float) -> None:
        """One seen-lookup for the whole share (a few queries instead of one per feed), then
        each feed's unseen stories are queued or skipped. A story in two feeds of the share
        follows the first feed listed (FEEDS_FILE's order, then FEED_URLS'): the others drop it."""
        candidates = [story for _, stories, _ in batch.parsed for story in stories]
        fresh = {id(story) for story in self.stories.unseen(candidates)}
        taken: set[str] = set()
        for row, stories, feed_report in sorted(
            batch.parsed, key=lambda p: self.book.order(p[0].url)
        ):
            unseen = [story for story in stories if id(story) in fresh]
            mine = [
                s for s in unseen if s.identity not in taken and (s.url or s.identity) not in taken
            ]
            taken.update(key for s in mine for key in (s.identity, s.url) if key)
            self._ingest(row, mine, now, feed_report, batch)

    def _next_due(self, now: float, url: str) -> float:
        cron = self.book.next_due(url, now, self.settings.tz)
        if cron is not None:
            return cron
        return now + FRESH_SHARE * self.book.period(url, self.poll_period)

    def _feed_failed(self, row: FeedRow, error: FeedError, now: float) -> FeedReport:
        failures = row.failures + 1
        delay = feed_backoff(failures, retry_after=error.retry_after)
        self.feeds.feed_failed(
            row, now, error.reason, next_poll_at=now + delay, disabled=error.gone
        )
        if error.gone:
            log.error(
                "FEED DISABLED: the server says it is gone for good (410); "
                "remove it from FEED_URLS or fix the address",
                extra={"feed": row.url},
            )
            return FeedReport(row.url, "gone", error=error.reason)
        log.warning(
            "feed failed; will retry later",
            extra={"feed": row.url, "reason": error.reason, "retry_in_s": round(delay)},
        )
        return FeedReport(row.url, "error", error=error.reason)

    # --- queueing ----------------------------------------------------------------------------

    def _ingest(
        self,
        row: FeedRow,
        fresh: Sequence[Story],
        now: float,
        feed_report: FeedReport,
        batch: _PollBatch,
    ) -> None:
        """Sort one feed's unseen stories into the batch: queued per platform, or skipped and
        why (BACKLOG on the feed's first poll, MAX_STORY_AGE, filters), by the feed's rules;
        each story records the feed whose rules it follows as its `feed_url`."""
        backlog = self.book.feed(row.url).backlog
        fresh = [s if s.feed_url == row.url else replace(s, feed_url=row.url) for s in fresh]
        keep: set[str] = {s.identity for s in fresh}
        if not row.initialized and backlog.mode != "all":
            newest = sorted(fresh, key=lambda s: s.published, reverse=True)
            allowed = newest[: backlog.count] if backlog.mode == "latest" else []
            keep = {s.identity for s in allowed}
        skipped: Counter[str] = Counter()
        wanted: list[Story] = []
        for story in sorted(fresh, key=lambda s: (s.published, s.identity)):
            if story.identity not in keep:
                reason: str | None = f"backlog: first poll of this feed (BACKLOG={backlog})"
            else:  # the plan's own verdict, before any article page is fetched for it
                reason = skip_reason(story, self.book.rules(row.url), now)
            if reason is not None:
                batch.skipped.append((story, reason))
                skipped[reason] += 1
                log.debug("story skipped", extra={"story": story.url, "reason": reason})
                continue
            wanted.append(story)
        cap = self.settings.max_new_per_feed
        if cap and len(wanted) > cap:
            # A flood (a feed that reset its ids, a hijacked blog): the newest `cap` go out,
            # the rest are recorded as skipped, so they are never posted later either.
            reason = flood_reason(cap)
            flood = wanted[: len(wanted) - cap]
            wanted = wanted[len(wanted) - cap :]
            batch.skipped.extend((story, reason) for story in flood)
            log.warning(
                "too many new stories in one poll: the newest are queued, the rest skipped; "
                "raise MAX_NEW_PER_FEED if this feed really publishes that much",
                extra={"feed": row.url, "queued": cap, "skipped": len(flood)},
            )
        batch.wanted.extend((story, feed_report) for story in wanted)
        for reason, count in skipped.items():
            log.info("stories skipped", extra={"feed": row.url, "count": count, "reason": reason})

    def _queue(self, batch: _PollBatch, report: CycleReport, now: float) -> None:
        """Write the share's new stories and their deliveries in one transaction."""
        items = [(story, deliveries) for story, deliveries, _ in batch.queued]
        ids = self.stories.add_stories(items, now)
        waiting = 0
        for (story, deliveries, feed_report), story_id in zip(batch.queued, ids, strict=True):
            if story_id is None:
                continue  # another worker recorded it first
            waiting += sum(1 for d in deliveries if d.status == S.PENDING_APPROVAL)
            feed_report.new_stories += 1
            self.progress.stories(1)
            report.new_story_ids.append(story_id)
            log.info(
                "story queued",
                extra={"feed": story.feed_url, "story": story.url, "title": story.title},
            )
        if waiting:
            self.announce_approvals(waiting)

    # --- approval (APPROVAL, or a feed's `approval`: FeedBook.for_review) ---------------------

    def announce_approvals(self, count: int) -> None:
        """Say that posts wait for a person (the log line is the notification for now)."""
        log.warning(
            f"{count} new post(s) wait for approval: approve or reject them in the web face "
            "(queue page) or with `approve ID` / `reject ID`",
            extra={"pending_approval": count},
        )
        if self.on_pending is not None:
            self.on_pending(count)

    # --- WebSub pushes -----------------------------------------------------------------------

    def ingest_pushed(self, feed_url: str, body: bytes, content_type: str | None) -> list[int]:
        """A hub's push goes through the poll's own steps (parse, seen-lookup, backlog, age and
        filters, compose, one transaction), so a story pushed and polled is stored once: the
        store refuses a second row with the same identity or URL. Returns the new story ids;
        the caller drains. The feed's validators and schedule are left alone: polling goes on."""
        row = next((r for r in self.feeds.feed_rows() if r.url == feed_url), None)
        if row is None or row.disabled:
            return []
        now = self.clock()
        future = self.parser.submit(
            body,
            url=row.current_url,
            now=datetime.fromtimestamp(now, UTC),
            content_type=content_type,
            in_pool=False,
        )
        try:
            parsed = future.result()
        except FeedError as exc:
            log.warning(
                "pushed content could not be parsed; polling will read the feed",
                extra={"feed": feed_url, "error": exc.reason},
            )
            return []
        report = CycleReport()
        batch = _PollBatch()
        feed_report = FeedReport(row.url, "ok")
        self._ingest(row, self.stories.unseen(parsed.stories), now, feed_report, batch)
        self._compose_share(batch, now)
        self.stories.add_skipped(batch.skipped, now)
        self._queue(batch, report, now)
        return report.new_story_ids

    def _compose_share(self, batch: _PollBatch, now: float) -> None:
        """Plan the share's new stories: first taken in (the article pages some need for an
        og:image fetched all at once, within one budget for the whole poll), then each planned
        by its feed's rules."""
        rules = [self.book.rules(story.feed_url) for story, _ in batch.wanted]
        stories = self.intake.take_in(
            [story for story, _ in batch.wanted], needs_image=any(r.needs_image for r in rules)
        )
        slots = SlotHolder(self.book, self.settings, self.stories.feed_slot_counts, now)
        for story, rule, (_, feed_report) in zip(stories, rules, batch.wanted, strict=True):
            planned = plan(story, rule, now)
            if planned.skip is not None:
                batch.skipped.append((story, planned.skip))
                continue
            deliveries = self.book.for_review(story, list(planned.deliveries))
            batch.queued.append((story, slots.hold(story, deliveries), feed_report))
        batch.wanted.clear()


@dataclass
class _PollBatch:
    """What a poll cycle writes in bulk once every feed is handled."""

    in_pool: bool = False
    pending: list[tuple[FeedRow, Future[ParsedFeed], FeedReport, FeedUpdate]] = field(
        default_factory=list
    )
    parsed: list[tuple[FeedRow, list[Story], FeedReport]] = field(default_factory=list)
    skipped: list[tuple[Story, str]] = field(default_factory=list)
    wanted: list[tuple[Story, FeedReport]] = field(default_factory=list)
    """Stories to queue, composed once the share's article pages are fetched."""
    queued: list[tuple[Story, list[NewDelivery], FeedReport]] = field(default_factory=list)
    updates: list[FeedUpdate] = field(default_factory=list)
