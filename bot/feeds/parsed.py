"""What every feed parser returns, and how the fast path declines a document.

Its own module so that the parsers (RSS and Atom through lxml, feedparser's fallback, JSON Feed)
and the dispatcher in bot.feeds.parse all import it from below, none of them from another.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import Story


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    stories: list[Story]
    warning: str | None = None
    """Set when the document was ill-formed and feedparser recovered what it could."""
    parser: str = "fast"
    """Which path produced it: "fast" (lxml), "feedparser" or "jsonfeed"."""


class Unsure(Exception):
    """The fast path declines this document; feedparser gets it instead."""
