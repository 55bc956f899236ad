"""A feed's own rules: which platforms, templates, hashtags, filters and schedule it posts with.

FEEDS_FILE gives each feed these rules; a feed of FEED_URLS takes the env file's values for all
of them. Either way every feed has one `Feed`, built once at start (and again on SIGHUP), so
the code that polls, plans and posts asks the story's feed and never the env file directly.

Pure values: no I/O, no clock. `describe_changes` says what a reload changed, for the log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import time
from pathlib import Path

from bot.settings_values import Backlog


@dataclass(frozen=True)
class Feed:
    """Everything that may differ from one feed to the next. `name` is what a person calls the
    feed (`status`, `post URL --feed NAME`, the log); without one in the file it is the URL."""

    url: str
    name: str
    platforms: tuple[str, ...]
    """The active platforms this feed posts to, in the order PLATFORMS gives them."""
    hashtags: tuple[str, ...] = ()
    """Added to this feed's posts before the category hashtags, within each platform's cap."""
    templates: Mapping[str, Path] = field(default_factory=dict)
    """Platform -> this feed's own template file; a platform not named uses TEMPLATE_DIR's."""
    include_keywords: tuple[str, ...] = ()
    exclude_keywords: tuple[str, ...] = ()
    include_categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    poll_interval: float = 600.0
    poll_cron: str | None = None
    backlog: Backlog = field(default_factory=lambda: Backlog("skip"))
    max_story_age: float | None = 2 * 86400.0
    utm_campaign: str | None = None
    """The links of this feed's posts carry utm_campaign=this (UTM_PARAMS' other pairs kept)."""
    approval: tuple[str, ...] = ()
    """Platforms whose posts from this feed wait for a person (APPROVAL)."""
    post_slots: Mapping[str, tuple[time, ...]] = field(default_factory=dict)
    """Platform -> posting times (POST_SLOTS_<PLATFORM>) for this feed's posts."""
    slot_size: int = 1
    from_file: bool = False
    """True for a feed of FEEDS_FILE, False for one of FEED_URLS (every rule a default)."""

    @property
    def schedule(self) -> str:
        """The feed's schedule as one key: feeds with the same key share one trigger."""
        return f"cron {self.poll_cron}" if self.poll_cron else f"every {self.poll_interval:g}s"

    @property
    def schedule_text(self) -> str:
        """The schedule as a person reads it ("every 5m", "cron 0 9,17 * * *")."""
        if self.poll_cron:
            return f"cron {self.poll_cron}"
        return "every " + duration_text(self.poll_interval)

    @property
    def has_own_composition(self) -> bool:
        """Whether posts of this feed are composed differently from the env file's defaults."""
        return bool(self.templates or self.hashtags or self.utm_campaign)

    def wants(self, platform: str) -> bool:
        """A feed of FEED_URLS posts wherever the bot publishes; a feed of the file, to its
        `platforms` (every active one when it names none)."""
        return not self.from_file or platform in self.platforms

    def needs_approval(self, platform: str) -> bool:
        return platform in self.approval


def duration_text(seconds: float) -> str:
    """90 -> "90s", 300 -> "5m", 7200 -> "2h", 86400 -> "1d"."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def find_feed(feeds: Sequence[Feed], key: str) -> Feed | None:
    """The feed a person named: by name (case-insensitive), else by its exact URL."""
    folded = key.strip().casefold()
    for feed in feeds:
        if feed.name.casefold() == folded:
            return feed
    return next((f for f in feeds if f.url == key.strip()), None)


def rules_by_url(feeds: Sequence[Feed]) -> dict[str, Feed]:
    return {feed.url: feed for feed in feeds}


def describe_changes(old: Sequence[Feed], new: Sequence[Feed]) -> list[str]:
    """What a reload changed, one line each: feeds added, removed, and each changed rule."""
    before, after = rules_by_url(old), rules_by_url(new)
    lines = [f"feed {f.name!r} added ({f.url})" for f in new if f.url not in before]
    lines += [f"feed {f.name!r} removed ({f.url})" for f in old if f.url not in after]
    for feed in new:
        previous = before.get(feed.url)
        if previous is None or previous == feed:
            continue
        for item in fields(Feed):
            was, now = getattr(previous, item.name), getattr(feed, item.name)
            if was != now:
                lines.append(f"feed {feed.name!r}: {item.name} {_shown(was)} -> {_shown(now)}")
    if [f.url for f in old if f.url in after] != [f.url for f in new if f.url in before]:
        lines.append("feeds reordered (the first feed listed decides a story two feeds carry)")
    return lines


def _shown(value: object) -> str:
    if isinstance(value, Backlog):
        return value.mode if value.mode != "latest" else f"latest:{value.count}"
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) + "}"
    if isinstance(value, time):
        return f"{value:%H:%M}"
    return str(value)
