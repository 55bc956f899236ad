"""One tick of the bot: poll due feeds, queue what is new, publish what is due.

The engine runs the cycle with the parts the composition root (bot.app) built: the Poller
(bot.polling) takes the feeds' new stories in, bot.pipeline decides what each becomes (queued
per platform, or skipped and why), and the Deliverer decides what happens to each delivery.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from bot.compose import Composer
from bot.delivery import Deliverer, report_for
from bot.feed_book import FeedBook
from bot.feeds.fetch import Fetcher
from bot.feeds.parse_pool import ParsePool
from bot.intake import Intake
from bot.models import DeliveryStatus, Post, Story
from bot.pipeline import FeedRules, Plan, delivery_for, plan
from bot.platforms.base import Publisher
from bot.polling import CycleReport, FeedReport, Poller
from bot.progress import Progress
from bot.settings import Settings
from bot.store import NewDelivery, Store

__all__ = ["CycleReport", "Engine", "FeedReport"]
log = logging.getLogger("bot.engine")


class Engine:
    """Everything a tick needs, built by the composition root (bot.app) and passed in."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        publishers: Mapping[str, Publisher],
        *,
        rules: FeedRules,
        intake: Intake,
        poller: Poller,
        deliverer: Deliverer,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`rules` decide what each feed's stories become (bot.pipeline); `intake` does the I/O
        a story needs first (its og:image, the vetting of its image URL); `poller` takes the
        feeds' new stories in; `deliverer` sends. The deliverer's worker identity and stop
        signal are the engine's."""
        self.settings = settings
        self.store = store
        self.publishers = dict(publishers)
        self.rules_for = rules
        self.intake = intake
        self.poller = poller
        self.deliverer = deliverer
        self.clock = clock
        self.owner = deliverer.owner
        self.stop_event = deliverer.stop

    @property
    def parser(self) -> ParsePool:
        return self.poller.parser

    @property
    def fetcher(self) -> Fetcher:
        return self.poller.fetcher

    @property
    def progress(self) -> Progress:
        """Told of each feed fetched and story queued (`poll` on a terminal draws a line)."""
        return self.poller.progress

    @progress.setter
    def progress(self, progress: Progress) -> None:
        self.poller.progress = progress

    @property
    def book(self) -> FeedBook:
        """Every feed with its rules (FEEDS_FILE's, else the env file's for each)."""
        return self.poller.book

    def use(self, book: FeedBook) -> None:
        """Run with these feeds and rules from the next job on (a reload: SIGHUP)."""
        self.poller.book = book
        self.rules_for = book.rules

    @property
    def composer(self) -> Composer:
        """The env file's composer (the web face measures texts with it)."""
        return self.rules_for.default.composer

    def stop(self) -> None:
        """Ask a running tick to finish the delivery in hand and return."""
        self.stop_event.set()

    # --- the tick ----------------------------------------------------------------------------

    def tick(
        self, *, poll: bool = True, force: bool = False, feeds: Sequence[str] | None = None
    ) -> CycleReport:
        """One cycle. `force` polls feeds even if another worker polled them this interval;
        `feeds` (URLs) polls only those (the worker's trigger of one schedule), else every feed."""
        report = CycleReport()
        self.admit_new_platforms()
        report.merge(self.deliverer.reconcile())
        self.settle_approvals()
        if poll and not self.stop_event.is_set():
            self.poll(report, force=force, feeds=feeds)
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
            compose=self._admitted,
        )

    def _admitted(self, story: Story, platform: str) -> NewDelivery:
        """A stored story's post on a platform added later, planned as a new story's is (not
        for a feed that leaves the platform out)."""
        feed = self.book.feed(story.feed_url)
        if not feed.wants(platform):
            empty = Post(platform, "", story_url=story.url, image_url=story.image_url)
            why = f"feed {feed.name!r} does not post to {platform} (FEEDS_FILE)"
            return NewDelivery(platform, empty, DeliveryStatus.SKIPPED.value, why)
        rules = self.book.only(story.feed_url, [platform])
        [taken] = self.intake.take_in([story], needs_image=rules.needs_image)
        return delivery_for(taken, rules, platform, self.clock())

    # --- polling (bot.polling) ----------------------------------------------------------------

    def poll(
        self, report: CycleReport, *, force: bool = False, feeds: Sequence[str] | None = None
    ) -> None:
        """Poll the due feeds (of `feeds`, else all) and queue their new stories."""
        self.poller.poll(report, force=force, feeds=feeds)

    def ingest_pushed(self, feed_url: str, body: bytes, content_type: str | None) -> list[int]:
        """A WebSub push, taken in as a poll's stories are; returns the new story ids."""
        return self.poller.ingest_pushed(feed_url, body, content_type)

    # --- approval (APPROVAL, APPROVAL_TIMEOUT, APPROVAL_DEFAULT) --------------------------------

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

    # --- one story (`post`) -------------------------------------------------------------------

    def plan_story(self, story: Story, platforms: Sequence[str] | None = None) -> Plan:
        """A story taken in and planned as the poll would (`post` and `preview` use this)."""
        url = story.feed_url
        rules = self.rules_for(url) if platforms is None else self.book.only(url, platforms)
        [taken] = self.intake.take_in([story], needs_image=rules.needs_image)
        return plan(taken, rules, self.clock())
