"""Helpers to build feeds, environments and apps for engine-level tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from bot.settings import PROJECT_ROOT

BASE_TIME = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


@dataclass
class Item:
    n: int
    title: str | None = None
    link: str | None = None
    guid: str | None = None
    published: datetime | None = None
    categories: Sequence[str] = ("Diamonds",)
    image: bool = True
    summary: str | None = None
    image_url: str | None = None


def rss(items: Sequence[Item], *, image_base: str = "https://img.example.com") -> str:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">',
        "<channel><title>Test feed</title><link>https://news.example.com/</link>",
    ]
    for it in items:
        published = it.published or (BASE_TIME - timedelta(hours=it.n))
        link = it.link or f"https://news.example.com/story-{it.n}/"
        guid = it.guid or f"https://news.example.com/?p={it.n}"
        parts.append("<item>")
        parts.append(f"<title>{escape(it.title or f'Story number {it.n}')}</title>")
        parts.append(f"<link>{escape(link)}</link>")
        parts.append(f'<guid isPermaLink="false">{escape(guid)}</guid>')
        parts.append(f"<pubDate>{format_datetime(published)}</pubDate>")
        summary = it.summary or f"Summary of story {it.n} about the diamond trade."
        parts.append(f"<description>{escape(summary)}</description>")
        for c in it.categories:
            parts.append(f"<category>{escape(c)}</category>")
        if it.image:
            image = escape(it.image_url or f"{image_base}/{it.n}.jpg")
            parts.append(f'<media:content url="{image}" medium="image" type="image/jpeg"/>')
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts)


def write_feed(path: Path, items: Sequence[Item], **kw: str) -> str:
    path.write_text(rss(items, **kw), encoding="utf-8")
    return path.as_uri()


def bot_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A process environment for running main.py: nothing inherited but PATH and HOME."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "DATABASE_URL": f"sqlite:///{tmp / 'bot.db'}",
        "MAX_STORY_AGE": "0",
        "BACKLOG": "all",
        "TWITTER_HANDLE": "@jckmagazine",
        "FACEBOOK_HANDLE": "@jckmagazine",
        "INSTAGRAM_HANDLE": "@jckmagazine",
    }
    env.update(extra)
    return env


def run_main(
    args: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
