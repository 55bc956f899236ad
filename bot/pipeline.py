"""One pipeline: what a story becomes, decided in one place.

`plan(story, rules, now)` is the only code that turns a story into posts. The worker's poll (and
a WebSub push, and a platform added later), `preview` and `post` all call it, so "preview shows
exactly what goes out" holds by construction rather than by two copies kept in step.

It is pure: the story arrives with its image already found and vetted (bot.intake does that I/O
when the story is taken in), the rules arrive as a value, and nothing is read, fetched or stored
here. Feed-level decisions that depend on the other stories of a poll (BACKLOG on a feed's first
poll, MAX_NEW_PER_FEED) stay with the engine; everything about one story is here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo

from bot.compose import Composer
from bot.errors import Unsuitable
from bot.feeds.filters import StoryFilter, age_reason
from bot.models import DeliveryStatus, Limits, Post, Story
from bot.store import NewDelivery

NO_IMAGE = "no image"
"""The skip reason of a platform that posts nothing without a picture, when there is none."""


@dataclass(frozen=True)
class Rules:
    """Everything that decides what a story becomes, as one value: today the env file's rules
    for every feed; with a feeds file (issue 21) each feed hands in its own.

    `limits` names the platforms, in the order their posts are planned, with what each accepts
    (the publishers' own limits, which some settings lift, e.g. title cards)."""

    composer: Composer
    """Templates, hashtags and their caps, handles, UTM: the text of each platform's post."""
    limits: Mapping[str, Limits]
    story_filter: StoryFilter = field(default_factory=StoryFilter)
    """INCLUDE_/EXCLUDE_KEYWORDS and _CATEGORIES."""
    max_story_age: float | None = None
    """MAX_STORY_AGE in seconds; None or 0: no limit."""
    tz: tzinfo = UTC
    """TIMEZONE: the day a post is made, for UTM_PARAMS' {date}."""

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(self.limits)

    @property
    def needs_image(self) -> bool:
        """Whether a platform here posts nothing without a picture: then a story the feed gave
        none is worth its article page's og:image when it is taken in."""
        return any(limits.requires_image for limits in self.limits.values())

    def only(self, platforms: Sequence[str]) -> Rules:
        """The same rules for some of the platforms (`post --platform`, `preview --platform`)."""
        return replace(self, limits={name: self.limits[name] for name in platforms})


@dataclass(frozen=True)
class FeedRules:
    """Which rules a story follows, by the feed it came from: a feed's own where it has them
    (a feeds file, issue 21), else `default` (the env file's). Called with a feed's URL."""

    default: Rules
    feeds: Mapping[str, Rules] = field(default_factory=dict)

    def __call__(self, feed_url: str) -> Rules:
        return self.feeds.get(feed_url, self.default)


@dataclass(frozen=True)
class Plan:
    """What one story becomes.

    `skip` is why the story is not posted at all (None: it is). `deliveries` hold one post per
    platform of the rules, each queued or skipped with its platform's reason (no image, no valid
    post possible); they are planned for a skipped story too, so `preview` can show what the
    filters hold back."""

    story: Story
    skip: str | None
    deliveries: tuple[NewDelivery, ...]

    def delivery(self, platform: str) -> NewDelivery:
        return next(d for d in self.deliveries if d.platform == platform)


def skip_reason(story: Story, rules: Rules, now: float) -> str | None:
    """Why the story is not posted anywhere (MAX_STORY_AGE, then the filters), or None."""
    return age_reason(story, now, rules.max_story_age) or rules.story_filter.reason(story)


def plan(story: Story, rules: Rules, now: float) -> Plan:
    """The one decision: is the story posted, and what does each platform get? `now` is the
    epoch time of the decision (the age limit and UTM's {date} read it)."""
    deliveries = tuple(delivery_for(story, rules, name, now) for name in rules.limits)
    return Plan(story, skip_reason(story, rules, now), deliveries)


def delivery_for(story: Story, rules: Rules, platform: str, now: float) -> NewDelivery:
    """One platform's post of the story, queued, or skipped with the reason no post can be
    made there (a URL over the limit, no picture where one is required)."""
    limits = rules.limits[platform]
    day = datetime.fromtimestamp(now, rules.tz).date()
    try:
        post = rules.composer.compose(story, platform, limits, day=day)
    except Unsuitable as exc:  # no valid post can exist (e.g. a URL over the limit)
        empty = Post(platform, "", story_url=story.url, image_url=story.image_url)
        return NewDelivery(platform, empty, DeliveryStatus.SKIPPED.value, exc.message)
    if limits.requires_image and not post.image_url:
        return NewDelivery(platform, post, DeliveryStatus.SKIPPED.value, NO_IMAGE)
    return NewDelivery(platform, post)
