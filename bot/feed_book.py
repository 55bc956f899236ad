"""The feeds the bot runs with, each with its rules and its plan rules, in file order.

Built once by the composition root (bot.app) from the settings, and built again on SIGHUP; the
poll, `preview` and `post` ask it which rules a story follows: `rules_for(feed_url)` hands
bot.pipeline the feed's own `Rules` (its platforms, templates, hashtags, campaign, filters and
age limit), `feed(feed_url)` the rest of its rules (backlog, approval, slots, schedule). A feed
that composes like the env file shares the one default composer.

A story two feeds carry follows the first feed listed (`order`): the poll sorts each share's
feeds by it, and records the feed it chose as the story's `feed_url`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo

from bot.compose import Composer
from bot.compose.templates import load_template
from bot.errors import ConfigError
from bot.feed_rules import Feed, find_feed
from bot.feed_slots import next_slots
from bot.feeds.filters import StoryFilter
from bot.feedsfile import VARIABLE, defaults_of, rules_of
from bot.models import DeliveryStatus, Story
from bot.pipeline import FeedRules, Rules
from bot.poll_schedule import period
from bot.settings import Settings
from bot.store import NewDelivery
from bot.utm import UtmTemplate

WAITING = (DeliveryStatus.QUEUED.value, DeliveryStatus.PENDING_APPROVAL.value)
FRESH_SHARE = 0.8
"""A feed polled is not due again for this share of its period (other workers leave it)."""


@dataclass
class FeedBook:
    feeds: tuple[Feed, ...]
    defaults: Feed
    """The env file's rules: for a story of no configured feed (a page `post` fetched)."""
    rules: FeedRules
    """What bot.pipeline plans each feed's stories with: the feed's own `Rules` (its platforms,
    composer, filters, age limit), else (`rules.default`) the env file's, for every platform."""
    periods: dict[str, float] = field(default_factory=dict)
    """Feed URL -> seconds between two of its polls (a cron schedule's shortest gap)."""

    def __post_init__(self) -> None:
        self._order = {feed.url: index for index, feed in enumerate(self.feeds)}
        self._by_url = {feed.url: feed for feed in self.feeds}

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(feed.url for feed in self.feeds)

    def feed(self, url: str) -> Feed:
        """The rules of the feed at `url`; a URL no feed has (a story of a feed since removed,
        an article page `post` fetched) gets the env file's."""
        found = self._by_url.get(url)
        return found if found is not None else replace(self.defaults, url=url, name=url)

    def rules_for(self, url: str) -> Rules:
        """What bot.pipeline plans a story of the feed at `url` with."""
        return self.rules(url)

    def only(self, url: str, platforms: Sequence[str]) -> Rules:
        """The feed's plan rules for `platforms` (a person's `--platform`, which may name a
        platform the feed leaves out: asked for by name, it is planned like the others)."""
        every = self.rules.default.limits
        return replace(self.rules(url), limits={name: every[name] for name in platforms})

    def find(self, key: str) -> Feed | None:
        return find_feed(self.feeds, key)

    def order(self, url: str) -> int:
        """The feed's place in the list: a story two feeds carry follows the lower one."""
        return self._order.get(url, len(self._order))

    def period(self, url: str, default: float) -> float:
        return self.periods.get(url, default)

    def next_due(self, url: str, now: float, tz: tzinfo) -> float | None:
        """For a cron feed: just before its next run, so the run after a poll off the grid (the
        worker's first, a person's `poll`) still finds it due. None for an interval feed."""
        rules = self._by_url.get(url)
        if rules is None or not rules.poll_cron:
            return None
        from apscheduler.triggers.cron import CronTrigger

        trigger = CronTrigger.from_crontab(rules.poll_cron, timezone=tz)
        start = datetime.fromtimestamp(now, tz)
        when = trigger.get_next_fire_time(None, start + timedelta(seconds=1))
        if when is None:
            return None
        gap = when.timestamp() - now
        return now + max(0.0, gap - min(60.0, (1 - FRESH_SHARE) * gap))

    def for_review(self, story: Story, deliveries: list[NewDelivery]) -> list[NewDelivery]:
        """New deliveries on the platforms of the feed's `approval` (APPROVAL by default) wait
        for a person."""
        feed = self.feed(story.feed_url)
        return [
            replace(d, status=DeliveryStatus.PENDING_APPROVAL.value)
            if d.status == DeliveryStatus.QUEUED and feed.needs_approval(d.platform)
            else d
            for d in deliveries
        ]


class SlotHolder:
    """Holds the new posts of feeds with posting slots of their own until their slot (see
    bot.feed_slots); one per poll share, so the store is asked once per feed and platform."""

    def __init__(
        self,
        book: FeedBook,
        settings: Settings,
        counts: Callable[[str, str, float], dict[float, int]],
        now: float,
    ) -> None:
        self.book, self.settings, self.counts, self.now = book, settings, counts, now
        self.taken: dict[tuple[str, str], dict[float, int]] = {}

    def hold(self, story: Story, deliveries: list[NewDelivery]) -> list[NewDelivery]:
        rules = self.book.feed(story.feed_url)
        reach = self.settings.reach
        out = []
        for d in deliveries:
            times = rules.post_slots.get(d.platform)
            same = times == reach.slots.get(d.platform) and rules.slot_size == reach.slot_size
            if not times or same or d.status not in WAITING:
                out.append(d)  # no slots of its own: the platform's pacing decides alone
                continue
            key = (story.feed_url, d.platform)
            if key not in self.taken:
                self.taken[key] = dict(self.counts(story.feed_url, d.platform, self.now))
            taken = self.taken[key]
            at = next_slots(times, self.settings.tz, self.now, rules.slot_size, taken, 1)[0]
            taken[at] = taken.get(at, 0) + 1
            out.append(replace(d, next_attempt_at=at))
        return out


def build_feed_book(settings: Settings, rules: Rules) -> FeedBook:
    """Each feed's plan rules from the env file's `rules`: its platforms (of `rules.limits`),
    filters and age limit; its templates loaded and checked to fit their platform (a template
    that cannot stops the program at start, naming the feeds file, the feed and the key)."""
    feeds = rules_of(settings)
    plans: dict[str, Rules] = {}
    for feed in feeds:
        composer = rules.composer
        if feed.templates or feed.utm_campaign or feed.hashtags:
            composer = feed_composer(rules, feed, settings.feeds_file)
        plans[feed.url] = replace(
            rules,
            composer=composer,
            limits={n: limits for n, limits in rules.limits.items() if feed.wants(n)},
            story_filter=StoryFilter(
                feed.include_keywords,
                feed.exclude_keywords,
                feed.include_categories,
                feed.exclude_categories,
            ),
            max_story_age=feed.max_story_age,
        )
    periods = poll_periods(feeds, settings)
    return FeedBook(feeds, defaults_of(settings), FeedRules(rules, plans), periods)


def feed_composer(rules: Rules, feed: Feed, source: object) -> Composer:
    """The env file's composer with the feed's own templates, hashtags and campaign."""
    base = rules.composer
    own = copy.copy(base)
    own.templates = dict(base.templates)
    own.extra_hashtags = feed.hashtags
    for platform, path in feed.templates.items():
        try:  # unreadable, an unknown {field}, broken braces; then: can it fit its platform?
            own.templates[platform] = load_template(path)
            if platform in rules.limits:
                own.check(platform, rules.limits[platform])
        except ConfigError as exc:
            example = f'templates = {{ {platform} = "templates/{feed.name}-{platform}.txt" }}'
            raise ConfigError(
                f"{source}: feed {feed.name!r}, key templates: {platform}: {exc}; e.g. {example}",
                VARIABLE,
            ) from None
    if feed.utm_campaign:
        own.utm = with_campaign(base.utm, feed.utm_campaign)
    return own


def with_campaign(utm: UtmTemplate | None, campaign: str) -> UtmTemplate:
    """UTM_PARAMS with utm_campaign set to the feed's; without UTM_PARAMS, the usual trio."""
    if utm is None:
        return UtmTemplate(
            (("utm_source", "{platform}"), ("utm_medium", "social"), ("utm_campaign", campaign))
        )
    pairs = [(k, v) for k, v in utm.pairs if k.lower() != "utm_campaign"]
    return UtmTemplate((*pairs, ("utm_campaign", campaign)))


def poll_periods(feeds: Sequence[Feed], settings: Settings) -> dict[str, float]:
    """Each feed's seconds between polls: its interval, or its cron's shortest gap."""
    gaps: dict[str, float] = {}
    periods: dict[str, float] = {}
    for feed in feeds:
        if feed.poll_cron is None:
            periods[feed.url] = feed.poll_interval
            continue
        if feed.poll_cron not in gaps:
            gaps[feed.poll_cron] = period(feed.poll_interval, feed.poll_cron, settings.tz)
        periods[feed.url] = gaps[feed.poll_cron]
    return periods
