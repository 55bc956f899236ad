"""`preview`: the exact posts the bot would make, shown before anything is sent or marked seen."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.app import make_http
from bot.compose import Composer
from bot.errors import ConfigError, FeedError
from bot.feeds.article import fetch_article, find_og_image
from bot.feeds.fetch import FeedRequest, Fetcher
from bot.feeds.filters import StoryFilter
from bot.feeds.normalize import canonical_url
from bot.feeds.parse import parse_feed
from bot.models import Platform, Story
from bot.net import DownloadError, download
from bot.platforms import limits_for
from bot.settings import Settings
from bot.store import Store

_HTML = ("text/html", "application/xhtml")


def newest_stories(settings: Settings, limit: int, now: float) -> list[Story]:
    fetcher = Fetcher(
        timeout=settings.http_timeout,
        max_bytes=settings.max_feed_bytes,
        concurrency=settings.feed_concurrency,
    )
    stories: list[Story] = []
    try:
        for result in fetcher.fetch_many([FeedRequest(u) for u in settings.feed_urls]):
            if result.error or not result.body:
                continue
            try:
                parsed = parse_feed(
                    result.body,
                    url=result.final_url,
                    content_type=result.content_type,
                    now=datetime.fromtimestamp(now, UTC),
                )
            except FeedError:
                continue
            stories.extend(parsed.stories)
    finally:
        fetcher.close()
    return sorted(stories, key=lambda s: s.published, reverse=True)[:limit]


def story_for_url(settings: Settings, url: str, now: float) -> Story:
    store = Store.open(settings.database_url)
    try:
        known = store.story_by_url(canonical_url(url, url) or url)
    finally:
        store.close()
    if known:
        return known[1]
    http = make_http(settings)
    try:
        return fetch_article(
            http, url, now=datetime.fromtimestamp(now, UTC), max_bytes=settings.max_feed_bytes
        )
    except FeedError as exc:
        raise ConfigError(f"cannot preview {url}: {exc.reason}") from None
    finally:
        http.close()


def _with_page_image(settings: Settings, story: Story) -> Story:
    """As the engine does before composing: a story the feed gave no image gets the article
    page's og:image, so the preview shows the post Instagram would really get."""
    if story.image_url or not story.url:
        return story
    http = make_http(settings)
    try:
        page = download(http, story.url, max_bytes=2 * 1024 * 1024, accept=_HTML)
    except DownloadError:
        return story
    finally:
        http.close()
    image = find_og_image(page.body, page.final_url)
    return replace(story, image_url=image) if image else story


def _skip_reason(settings: Settings, story: Story, now: float) -> str | None:
    """What the engine's filters would say, so a preview never promises a post it won't make."""
    limit = settings.max_story_age
    if limit and story.dated and story.published.timestamp() < now - limit:
        return "older than MAX_STORY_AGE"
    return StoryFilter(
        include_keywords=settings.include_keywords,
        exclude_keywords=settings.exclude_keywords,
        include_categories=settings.include_categories,
        exclude_categories=settings.exclude_categories,
    ).reason(story)


def preview_posts(
    settings: Settings,
    composer: Composer,
    *,
    url: str | None,
    platforms: Sequence[str],
    limit: int,
    now: float | None = None,
) -> list[dict[str, Any]]:
    now = time.time() if now is None else now
    names = list(platforms) or list(settings.platforms) or [p.value for p in Platform]
    stories = [story_for_url(settings, url, now)] if url else newest_stories(settings, limit, now)
    if any(limits_for(name).requires_image for name in names):
        stories = [_with_page_image(settings, story) for story in stories]
    rows: list[dict[str, Any]] = []
    for story in stories:
        skip = _skip_reason(settings, story, now)
        for name in names:
            limits = limits_for(name)
            post = composer.compose(story, name, limits)
            warnings = list(post.warnings)
            if skip:
                warnings.append(f"the worker would skip this story: {skip}")
            if limits.requires_image and not post.image_url:
                warnings.append(f"no image: {name} will skip this story")
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
                }
            )
    return rows
