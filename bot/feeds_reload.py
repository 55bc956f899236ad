"""SIGHUP: a running worker reads FEEDS_FILE again and runs with its new rules.

Only the feeds file is read again (the env file is settings, read once at start: a change there
needs a restart). The new file is checked exactly as at start; a bad one changes nothing, and the
caller logs why. Applied between two jobs (on the scheduler's one executor thread), so no poll
ever sees half of the old rules and half of the new.
"""

from __future__ import annotations

from dataclasses import replace

from bot.engine import Engine
from bot.errors import ConfigError
from bot.feed_book import build_feed_book
from bot.feed_rules import describe_changes
from bot.feedsfile import VARIABLE, defaults_of, load_feeds
from bot.platforms import registry
from bot.settings import Settings


def reload_feeds(engine: Engine, settings: Settings) -> tuple[Settings, list[str]]:
    """The settings with the file's new feeds, and what changed (one line each); the engine
    runs with them from its next tick. Raises ConfigError (nothing changed) for a bad file."""
    path = settings.feeds_file
    if path is None:
        raise ConfigError(
            "no FEEDS_FILE to read again (the feeds come from FEED_URLS); "
            "restart the worker to read a changed env file",
            VARIABLE,
        )
    env_urls = tuple(f.url for f in settings.feeds if not f.from_file)
    feeds = load_feeds(
        path,
        defaults_of(settings),
        env_urls=env_urls,
        known_platforms=registry.names(),
    )
    fresh = replace(settings, feeds=feeds, feed_urls=tuple(f.url for f in feeds))
    book = build_feed_book(fresh, engine.book.rules.default)  # templates read and checked again
    changes = describe_changes(settings.feeds, feeds)
    engine.settings = engine.poller.settings = fresh
    engine.use(book)
    return fresh, changes
