"""One tick of the bot: poll due feeds, queue what is new, publish what is due.

The engine wires the pure pieces (parse, normalise, filter, compose) to the I/O pieces (fetcher,
store, publishers). It decides what a story becomes (queued per platform, or skipped and why);
the Deliverer decides what happens to each delivery.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import httpx

from bot.budget import Budget
from bot.compose import Composer
from bot.delivery import Deliverer, DeliveryReport, report_for
from bot.errors import FeedError, Unsuitable
from bot.feeds.article import with_og_image
from bot.feeds.backoff import feed_backoff
from bot.feeds.fetch import FeedRequest, Fetcher, FetchResult, content_digest
from bot.feeds.filters import StoryFilter, age_reason, flood_reason
from bot.feeds.parse import ParsedFeed
from bot.feeds.parse_pool import ParsePool
from bot.models import DeliveryStatus, Platform, Post, Story
from bot.netpolicy import NetworkPolicy
from bot.pacing import Pacing
from bot.platforms.base import Publisher
from bot.progress import Progress
from bot.settings import Settings, credential_variables
from bot.store import FeedRow, FeedUpdate, NewDelivery, Store, worker_id

log = logging.getLogger("bot.engine")
PAGE_FETCHES = 8
"""Article pages fetched at once in one poll (for stories a platform needs an image for)."""
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


class Engine:
    """Everything a tick needs, built once by the CLI (the composition root) and passed in."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        fetcher: Fetcher,
        composer: Composer,
        publishers: Mapping[str, Publisher],
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        owner: str | None = None,
        poll_period: float | None = None,
        parser: ParsePool | None = None,
        policy: NetworkPolicy | None = None,
    ) -> None:
        """`policy` decides which image URLs from feeds may be fetched or handed to a
        platform (the client `http` applies the same one to every request)."""
        self.settings = settings
        self.policy = policy or NetworkPolicy()
        self.poll_period = settings.poll_interval if poll_period is None else poll_period
        self.parser = parser or ParsePool(workers=0)
        self.store = store
        self.fetcher = fetcher
        self.composer = composer
        self.publishers = dict(publishers)
        self.http = http
        self.clock = clock
        self.owner = owner or worker_id()
        self.stop_event = threading.Event()
        self.progress: Progress = Progress()
        """Told of each feed fetched and story queued (`poll` on a terminal draws a line)."""
        self.on_pending: Callable[[int], None] | None = None
        """Told how many new posts wait for approval (a notifier hooks in here)."""
        self.filter = StoryFilter.from_settings(settings)
        self.deliverer = Deliverer(
            self.publishers,
            deliveries=store.deliveries,
            platforms=store.platforms,
            spend=store.spend,
            media=store.media,
            owner=self.owner,
            pacing=Pacing(
                settings.post_spacing,
                settings.max_posts_per_hour,
                settings.quiet_hours,
                settings.tz,
                settings.reach.slots,
                settings.reach.slot_size,
                hourly_caps={
                    name: p.limits.hourly_cap
                    for name, p in self.publishers.items()
                    if p.limits.hourly_cap
                },
            ),
            budgets=budgets_for(settings),
            retry_base=settings.retry_base_seconds,
            max_attempts=settings.max_attempts,
            lease=settings.lease_seconds,
            clock=clock,
            rng=rng,
            credential_hint=lambda p: " and ".join(credential_variables(p)) or p,
            stop=self.stop_event,
            http_timeout=settings.http_timeout,
        )

    def stop(self) -> None:
        """Ask a running tick to finish the delivery in hand and return."""
        self.stop_event.set()

    # --- the tick ----------------------------------------------------------------------------

    def tick(self, *, poll: bool = True, force: bool = False) -> CycleReport:
        """One cycle. `force` polls feeds even if another worker polled them this interval."""
        report = CycleReport()
        self.admit_new_platforms()
        report.merge(self.deliverer.reconcile())
        self.settle_approvals()
        if poll and not self.stop_event.is_set():
            self.poll(report, force=force)
        if not self.stop_event.is_set():
            report.merge(self.deliverer.drain())
        # Every delivery queued in this cycle is reported, including those still waiting.
        reported = {d.delivery_id for d in report.deliveries}
        for row in self.store.deliveries.deliveries_for_stories(report.new_story_ids):
            if row.id not in reported:
                report.deliveries.append(report_for(row))
        self.store.platforms.set_meta("last_tick_at", repr(self.clock()))
        return report

    def admit_new_platforms(self) -> None:
        """A platform configured for the first time on a store with stories gets its share of
        them by NEW_PLATFORM_BACKLOG (see bot.platform_backlog), once."""
        from bot.platform_backlog import admit_new_platforms

        admit_new_platforms(
            self.store.platforms,
            self.store.stories,
            self.publishers,
            backlog=self.settings.new_platform_backlog,
            max_age=self.settings.max_story_age,
            now=self.clock(),
            compose=self._compose_one,
        )

    # --- polling -----------------------------------------------------------------------------

    def poll(self, report: CycleReport, *, force: bool = False) -> None:
        """Poll the due feeds, a share at a time: each share is claimed, fetched concurrently,
        and written back in bulk, so several workers split a large feed list and a worker that
        dies holds only one share's claims."""
        self.store.feeds.ensure_feeds(self.settings.feed_urls)
        self.progress.start(len(self.settings.feed_urls))
        share = max(64, self.settings.feed_concurrency * 16)
        started = self.clock()
        while not self.stop_event.is_set():
            now = self.clock()
            rows = self.store.feeds.claim_feeds(
                self.settings.feed_urls,
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
            self._compose_share(batch)
            # Stories first, validators last: a crash in between only re-fetches.
            self.store.stories.add_skipped(batch.skipped, now)
            self._queue(batch, report, now)
            written = self.store.feeds.feeds_polled(batch.updates, now)
            if written < len(batch.updates):  # the stories are in; only validators are lost
                log.warning(
                    "feed lease lost during the poll: another worker polled some of these feeds",
                    extra={"feeds": len(batch.updates) - written},
                )
            if len(rows) < share:
                break
        finished = self.clock()
        self.store.platforms.set_meta("last_poll_at", repr(finished))
        self.store.platforms.set_meta("last_poll_seconds", repr(max(0.0, finished - started)))

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
            self._next_due(now),
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
        each feed's unseen stories are queued or skipped. A story in two feeds of the share is
        kept once, for the first feed."""
        candidates = [story for _, stories, _ in batch.parsed for story in stories]
        fresh = {id(story) for story in self.store.stories.unseen(candidates)}
        for row, stories, feed_report in batch.parsed:
            unseen = [story for story in stories if id(story) in fresh]
            self._ingest(row, unseen, now, feed_report, batch)

    def _next_due(self, now: float) -> float:
        return now + FRESH_SHARE * self.poll_period

    def _feed_failed(self, row: FeedRow, error: FeedError, now: float) -> FeedReport:
        failures = row.failures + 1
        delay = feed_backoff(failures, retry_after=error.retry_after)
        self.store.feeds.feed_failed(
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
        why (BACKLOG on the feed's first poll, MAX_STORY_AGE, filters)."""
        backlog = self.settings.backlog
        keep: set[str] = {s.identity for s in fresh}
        if not row.initialized and backlog.mode != "all":
            newest = sorted(fresh, key=lambda s: s.published, reverse=True)
            allowed = newest[: backlog.count] if backlog.mode == "latest" else []
            keep = {s.identity for s in allowed}
        skipped: Counter[str] = Counter()
        wanted: list[Story] = []
        for story in sorted(fresh, key=lambda s: (s.published, s.identity)):
            if story.identity not in keep:
                reason: str | None = (
                    f"backlog: first poll of this feed (BACKLOG={_backlog_text(backlog)})"
                )
            else:
                reason = age_reason(story, now, self.settings.max_story_age)
                reason = reason or self.filter.reason(story)
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
        ids = self.store.stories.add_stories(items, now)
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

    # --- approval (APPROVAL, APPROVAL_TIMEOUT, APPROVAL_DEFAULT) --------------------------------

    def _for_review(self, deliveries: list[NewDelivery]) -> list[NewDelivery]:
        """New deliveries on the platforms listed in APPROVAL wait for a person."""
        web = self.settings.web
        return [
            replace(d, status=S.PENDING_APPROVAL.value)
            if d.status == S.QUEUED and web.needs_approval(d.platform)
            else d
            for d in deliveries
        ]

    def announce_approvals(self, count: int) -> None:
        """Say that posts wait for a person (the log line is the notification for now)."""
        log.warning(
            f"{count} new post(s) wait for approval: approve or reject them in the web face "
            "(queue page) or with `approve ID` / `reject ID`",
            extra={"pending_approval": count},
        )
        if self.on_pending is not None:
            self.on_pending(count)

    def settle_approvals(self) -> list[int]:
        """APPROVAL_TIMEOUT: what nobody reviewed in time is posted or skipped by default."""
        web = self.settings.web
        if web.approval_timeout is None:
            return []
        now = self.clock()
        post = web.approval_default == "post"
        settled = self.store.review.settle_approvals(now - web.approval_timeout, post, now)
        if settled:
            log.info(
                "approval timed out: "
                + ("queued to post" if post else "skipped")
                + " (APPROVAL_DEFAULT)",
                extra={"deliveries": settled},
            )
        return settled

    # --- WebSub pushes -----------------------------------------------------------------------

    def ingest_pushed(self, feed_url: str, body: bytes, content_type: str | None) -> list[int]:
        """A hub's push goes through the poll's own steps (parse, seen-lookup, backlog, age and
        filters, compose, one transaction), so a story pushed and polled is stored once: the
        store refuses a second row with the same identity or URL. Returns the new story ids;
        the caller drains. The feed's validators and schedule are left alone: polling goes on."""
        row = next((r for r in self.store.feeds.feed_rows() if r.url == feed_url), None)
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
        self._ingest(row, self.store.stories.unseen(parsed.stories), now, feed_report, batch)
        self._compose_share(batch)
        self.store.stories.add_skipped(batch.skipped, now)
        self._queue(batch, report, now)
        return report.new_story_ids

    def _compose_share(self, batch: _PollBatch) -> None:
        """Compose the share's new stories; the article pages some need (og:image) are fetched
        first, all at once, within one budget for the whole poll."""
        stories = self._with_images([story for story, _ in batch.wanted])
        for story, (_, feed_report) in zip(stories, batch.wanted, strict=True):
            composed = self._for_review(self._compose_all(story, fetch_page=False))
            batch.queued.append((story, composed, feed_report))
        batch.wanted.clear()

    def _with_images(self, stories: list[Story]) -> list[Story]:
        """Each story that needs an image and has none, with its article page's og:image:
        up to PAGE_FETCHES pages at a time, and at most 2 x HTTP_TIMEOUT for all of them
        (each page is bounded by HTTP_TIMEOUT itself). A page not fetched in time leaves its
        story as it is, so a slow site delays one poll by seconds, never by minutes."""
        needs = any(p.limits.requires_image for p in self.publishers.values())
        todo = [i for i, s in enumerate(stories) if not s.image_url and s.url]
        if not needs or self.http is None or not todo:
            return stories
        http = self.http
        out = list(stories)
        budget = 2 * self.settings.http_timeout
        pool = ThreadPoolExecutor(max_workers=PAGE_FETCHES, thread_name_prefix="article-page")
        try:
            futures = {pool.submit(with_og_image, http, stories[i]): i for i in todo}
            done, late = wait(futures, timeout=budget)
            for future in done:
                out[futures[future]] = future.result()
            if late:
                log.info(
                    "no og:image for some stories: their article pages took longer than this "
                    "poll's budget",
                    extra={"stories": len(late), "budget_s": budget},
                )
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return out

    def compose_story(self, story: Story) -> list[NewDelivery]:
        """The deliveries one story becomes, one per configured platform (used by `post` too)."""
        return self._compose_all(story)

    def _compose_all(self, story: Story, *, fetch_page: bool = True) -> list[NewDelivery]:
        if fetch_page:
            story = self._with_image_if_needed(story)
        story = self._vetted_image(story)
        return [self._compose_for(story, name) for name in self.publishers]

    def _compose_one(self, story: Story, name: str) -> NewDelivery:
        return self._compose_for(self._vetted_image(self._with_image_if_needed(story)), name)

    def _compose_for(self, story: Story, name: str) -> NewDelivery:
        publisher = self.publishers[name]
        try:
            day = datetime.fromtimestamp(self.clock(), self.settings.tz).date()  # UTM's {date}
            post = self.composer.compose(story, name, publisher.limits, day=day)
        except Unsuitable as exc:  # no valid post can exist (e.g. a URL over the limit)
            empty = Post(name, "", story_url=story.url, image_url=story.image_url)
            return NewDelivery(name, empty, S.SKIPPED.value, exc.message)
        if publisher.limits.requires_image and not post.image_url:
            return NewDelivery(name, post, S.SKIPPED.value, "no image")
        return NewDelivery(name, post)

    def _vetted_image(self, story: Story) -> Story:
        """A story whose image the policy refuses goes on without it: no platform is handed a
        URL the bot itself would not fetch (Instagram and Facebook fetch what they are given)."""
        reason = self.policy.check(story.image_url)
        if reason is None:
            return story
        log.warning(
            "image refused: the story goes on without it",
            extra={"story": story.url, "image": story.image_url, "reason": reason},
        )
        return replace(story, image_url=None)

    def _with_image_if_needed(self, story: Story) -> Story:
        """Only when a platform needs an image and the feed gave none: the page's og:image."""
        needs = any(p.limits.requires_image for p in self.publishers.values())
        if not needs or self.http is None:
            return story
        return with_og_image(self.http, story)


def budgets_for(settings: Settings) -> dict[str, Budget]:
    """The platforms that charge per post: X, whose spend is always recorded (for `status`) and
    capped when X_MONTHLY_BUDGET is set."""
    spend = settings.reach.spend
    return {
        Platform.TWITTER.value: Budget(spend.price_post, spend.price_post_url, spend.monthly_budget)
    }


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


def _backlog_text(backlog: object) -> str:
    mode = getattr(backlog, "mode", "skip")
    return f"latest:{backlog.count}" if mode == "latest" else mode  # type: ignore[attr-defined]
