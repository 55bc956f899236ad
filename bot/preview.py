"""`preview`: the exact posts the bot would make, shown before anything is sent or marked seen.

Stories are taken in (bot.intake) and planned (bot.pipeline) by the very code the worker runs, so
what a preview shows is what goes out; the composition root (bot.app) hands in the parts. The
one step added here is the live run's own checks before sending (image type and size, quota),
which a preview makes through dry-run publishers without posting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.delivery import verdict
from bot.errors import ConfigError, FeedError, PublishError
from bot.feeds.article import fetch_article
from bot.feeds.fetch import FeedRequest, Fetcher
from bot.feeds.normalize import canonical_url
from bot.feeds.sandbox import parse_bounded
from bot.intake import Intake
from bot.models import DeliveryStatus, Story
from bot.pipeline import NO_IMAGE, Plan, Rules, plan
from bot.platforms import Publisher, registry
from bot.settings import Settings
from bot.store.story_log import StoryStore


@dataclass
class Preview:
    """The posts a preview shows, and the feeds it could not read (named, never hidden)."""

    rows: list[dict[str, Any]]
    feed_errors: list[FeedError] = field(default_factory=list)


def newest_stories(
    fetcher: Fetcher, feed_urls: Sequence[str], limit: int, now: float
) -> tuple[list[Story], list[FeedError]]:
    """The newest stories of every feed, and the error of each feed that could not be read.
    Each story names its configured feed; one two feeds carry is kept for the first feed
    listed, as the worker keeps it."""
    stories: list[Story] = []
    errors: list[FeedError] = []
    seen: set[str] = set()
    results = fetcher.fetch_many([FeedRequest(u) for u in feed_urls])
    for feed_url, result in zip(feed_urls, results, strict=True):
        if result.error:
            errors.append(result.error)
            continue
        if not result.body:
            continue
        try:
            parsed = parse_bounded(
                result.body,
                url=result.final_url,
                content_type=result.content_type,
                now=datetime.fromtimestamp(now, UTC),
            )
        except FeedError as exc:
            errors.append(exc)
            continue
        for story in parsed.stories:
            keys = {k for k in (story.identity, story.url) if k}
            if not keys & seen:
                seen.update(keys)
                stories.append(replace(story, feed_url=feed_url))
    return sorted(stories, key=lambda s: s.published, reverse=True)[:limit], errors


def story_for_url(
    stories: StoryStore, http: httpx.Client, url: str, now: float, *, max_bytes: int
) -> Story:
    """The story at `url`: as the store knows it, else from the article page (with `http`, a
    client that trusts the URL the user typed)."""
    known = stories.story_by_url(canonical_url(url, url) or url)
    if known:
        return known[1]
    try:
        return fetch_article(http, url, now=datetime.fromtimestamp(now, UTC), max_bytes=max_bytes)
    except FeedError as exc:
        raise ConfigError(f"cannot preview {url}: {exc.reason}") from None


def preview_platforms(settings: Settings, platforms: Sequence[str]) -> list[str]:
    """The platforms asked for, else the active ones, else all (a preview with no settings)."""
    return list(platforms) or list(settings.platforms) or list(registry.names())


def preview_rows(
    stories: Sequence[Story],
    rules_for: Callable[[str], Rules],
    intake: Intake,
    checkers: Mapping[str, Publisher],
    now: float,
) -> list[dict[str, Any]]:
    """Each story taken in and planned as the worker would (by its feed's rules, `rules_for`),
    then one row per platform."""
    rows: list[dict[str, Any]] = []
    needs_image = any(rules_for(story.feed_url).needs_image for story in stories)
    for story in intake.take_in(stories, needs_image=needs_image):
        rules = rules_for(story.feed_url)
        rows += _rows_for(plan(story, rules, now), rules, checkers)
    return rows


def _rows_for(
    planned: Plan, rules: Rules, checkers: Mapping[str, Publisher]
) -> list[dict[str, Any]]:
    """One row per platform: the post, and what a live run would do with it, from the same
    checks it makes before sending (a `dry_run` status means it would be posted)."""
    rows: list[dict[str, Any]] = []
    story = planned.story
    for delivery in planned.deliveries:
        name, post = delivery.platform, delivery.post
        limits = rules.limits[name]
        warnings = list(post.warnings)
        status = "dry_run"
        if planned.skip:
            warnings.append(f"the worker would skip this story: {planned.skip}")
            status = "skipped"
        elif delivery.status == DeliveryStatus.SKIPPED:
            if delivery.reason == NO_IMAGE:
                warnings.append(f"no image: {name} will skip this story")
            else:
                warnings.append(f"{name} will skip this story: {delivery.reason}")
            status = "skipped"
        else:
            try:
                checkers[name].preflight(post)
            except PublishError as exc:
                status = verdict(exc).value
                warnings.append(f"a live run would record this as {status}: {exc.message}")
        rows.append(
            {
                "platform": name,
                "title": story.title,
                "story_url": story.url,
                "text": post.text,
                "link": post.link,
                "image_url": post.image_url,
                "length": rules.composer.measure(name, post.text, limits),
                "limit": limits.max_length,
                "weighted": limits.weighted,
                "warnings": warnings,
                "status": status,
            }
        )
    return rows
