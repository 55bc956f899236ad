"""`preview`: the exact posts the bot would make, shown before anything is sent or marked seen."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bot.app import make_fetcher, make_http, network_policy
from bot.compose import Composer
from bot.delivery import verdict
from bot.errors import ConfigError, FeedError, PublishError
from bot.feeds.article import fetch_article, with_og_image
from bot.feeds.fetch import FeedRequest
from bot.feeds.filters import StoryFilter, age_reason
from bot.feeds.normalize import canonical_url
from bot.feeds.sandbox import parse_bounded
from bot.models import Platform, Story
from bot.platforms import Publisher, build_publishers, limits_for
from bot.settings import Settings
from bot.store import Store


@dataclass
class Preview:
    """The posts a preview shows, and the feeds it could not read (named, never hidden)."""

    rows: list[dict[str, Any]]
    feed_errors: list[FeedError] = field(default_factory=list)


def newest_stories(
    settings: Settings, limit: int, now: float
) -> tuple[list[Story], list[FeedError]]:
    """The newest stories of every feed, and the error of each feed that could not be read."""
    fetcher = make_fetcher(settings)
    stories: list[Story] = []
    errors: list[FeedError] = []
    try:
        for result in fetcher.fetch_many([FeedRequest(u) for u in settings.feed_urls]):
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
            stories.extend(parsed.stories)
    finally:
        fetcher.close()
    return sorted(stories, key=lambda s: s.published, reverse=True)[:limit], errors


def story_for_url(settings: Settings, url: str, now: float) -> Story:
    store = Store.open(settings.database_url)
    try:
        known = store.stories.story_by_url(canonical_url(url, url) or url)
    finally:
        store.close()
    if known:
        return known[1]
    http = make_http(settings, network_policy(settings, also_trust=(url,)))
    try:
        return fetch_article(
            http, url, now=datetime.fromtimestamp(now, UTC), max_bytes=settings.max_feed_bytes
        )
    except FeedError as exc:
        raise ConfigError(f"cannot preview {url}: {exc.reason}") from None
    finally:
        http.close()


def _with_page_image(settings: Settings, story: Story) -> Story:
    """As the engine does before composing, so the preview shows the image Instagram gets."""
    http = make_http(settings)
    try:
        return with_og_image(http, story)
    finally:
        http.close()


def _skip_reason(settings: Settings, story: Story, now: float) -> str | None:
    """What the engine's filters would say, so a preview never promises a post it won't make."""
    reason = age_reason(story, now, settings.max_story_age)
    return reason or StoryFilter.from_settings(settings).reason(story)


def preview_platforms(settings: Settings, platforms: Sequence[str]) -> list[str]:
    """The platforms asked for, else the active ones, else all (a preview with no settings)."""
    return list(platforms) or list(settings.platforms) or [p.value for p in Platform]


def preview_posts(
    settings: Settings,
    composer: Composer,
    *,
    url: str | None,
    platforms: Sequence[str],
    limit: int,
    now: float | None = None,
) -> Preview:
    now = time.time() if now is None else now
    names = preview_platforms(settings, platforms)
    feed_errors: list[FeedError] = []
    if url:
        stories = [story_for_url(settings, url, now)]
    else:
        stories, feed_errors = newest_stories(settings, limit, now)
    if any(limits_for(name).requires_image for name in names):
        stories = [_with_page_image(settings, story) for story in stories]
    rows: list[dict[str, Any]] = []
    http = make_http(settings)
    checkers = build_publishers(replace(settings, platforms=tuple(names)), dry_run=True, http=http)
    try:
        for story in stories:
            rows += _rows_for(story, names, composer, checkers, _skip_reason(settings, story, now))
    finally:
        for checker in checkers.values():
            checker.close()
        http.close()
    return Preview(rows, feed_errors)


def _rows_for(
    story: Story,
    names: Sequence[str],
    composer: Composer,
    checkers: Mapping[str, Publisher],
    skip: str | None,
) -> list[dict[str, Any]]:
    """One row per platform: the post, and what a live run would do with it, from the same
    checks it makes before sending (a `dry_run` status means it would be posted)."""
    rows: list[dict[str, Any]] = []
    for name in names:
        limits = limits_for(name)
        post = composer.compose(story, name, limits)
        warnings = list(post.warnings)
        status = "dry_run"
        if skip:
            warnings.append(f"the worker would skip this story: {skip}")
            status = "skipped"
        elif limits.requires_image and not post.image_url:
            warnings.append(f"no image: {name} will skip this story")
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
                "length": composer.measure(name, post.text, limits),
                "limit": limits.max_length,
                "weighted": limits.weighted,
                "warnings": warnings,
                "status": status,
            }
        )
    return rows
