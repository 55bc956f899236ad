"""The values a feeds file's keys take: each parser returns the value or raises Bad, whose text
bot.feedsfile puts after the file, the feed and the key. TOML types are checked here too: a
number where a list belongs is named, not passed on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import time
from typing import Any

from bot.settings_reach import parse_slots
from bot.settings_values import (
    Backlog,
    parse_backlog,
    parse_cron,
    parse_duration,
    split_phrases,
)
from bot.utm import parse_utm


class Bad(Exception):
    """A problem with one key's value; turned into the one-line ConfigError by the loader."""


def examples(platforms: Sequence[str]) -> dict[str, str]:
    """A good value for each key, with the user's own platform names in it."""
    one = platforms[0] if platforms else "NAME"
    two = ", ".join(f'"{p}"' for p in (platforms[:2] or ["NAME"]))
    return {
        "url": 'url = "https://www.jckonline.com/feed/"',
        "name": 'name = "events"',
        "platforms": f"platforms = [{two}]",
        "hashtags": 'hashtags = ["#JCKLasVegas"]',
        "templates": f'templates = {{ {one} = "templates/events-{one}.txt" }}',
        "include_keywords": 'include_keywords = ["lab-grown", "bridal"]',
        "exclude_keywords": 'exclude_keywords = ["sponsored"]',
        "include_categories": 'include_categories = ["Retail"]',
        "exclude_categories": 'exclude_categories = ["Obituaries"]',
        "poll_interval": 'poll_interval = "15m"',
        "poll_cron": 'poll_cron = "0 9,17 * * *"',
        "backlog": 'backlog = "latest:3"',
        "max_story_age": 'max_story_age = "2d"',
        "utm_campaign": 'utm_campaign = "events"',
        "approval": f"approval = [{two}]",
        "post_slots": f'post_slots = {{ {one} = ["09:00", "17:00"] }}',
        "slot_size": "slot_size = 2",
        "feeds": '[[feeds]] tables, e.g.\n[[feeds]]\nurl = "https://www.jckonline.com/feed/"',
    }


def strings(key: str) -> Callable[[Any], tuple[str, ...]]:
    def parse(raw: Any) -> tuple[str, ...]:
        if isinstance(raw, str):
            return split_phrases(raw)
        if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            return tuple(item.strip() for item in raw if item.strip())
        raise Bad("must be a list of strings")

    return parse


def name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise Bad("must be a non-empty string")
    name = " ".join(raw.split())
    if len(name) > 80 or any(not ch.isprintable() for ch in name):
        raise Bad(f"{raw!r} is not a short printable name")
    return name


def hashtags(raw: Any) -> tuple[str, ...]:
    """Written with or without `#`; each made a tag when composed ("Trade Show" becomes
    #TradeShow), so here only a tag that could never be one is refused."""
    tags: list[str] = []
    for item in strings("hashtags")(raw):
        text = item.strip().lstrip("#").strip()
        if not any(ch.isalpha() for ch in text):
            raise Bad(f"{item!r} makes no hashtag (a tag needs a letter)")
        if ("#" + text).casefold() not in {t.casefold() for t in tags}:
            tags.append("#" + text)
    return tuple(tags)


def duration(key: str) -> Callable[[Any], float]:
    def parse(raw: Any) -> float:
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            raise Bad('must be a duration such as "15m" (or seconds as a number)')
        return parse_duration(key, str(raw))

    return parse


def age(raw: Any) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise Bad('must be a duration such as "2d", or 0 for no limit')
    return parse_duration("max_story_age", str(raw), allow_zero=True) or None


def cron(raw: Any) -> str:
    if not isinstance(raw, str):
        raise Bad("must be a 5-field crontab as a string")
    return parse_cron("poll_cron", raw)


def backlog(raw: Any) -> Backlog:
    if isinstance(raw, int) and not isinstance(raw, bool):
        if raw <= 0:
            raise Bad(f"{raw} is not a number of stories (1 or more)")
        return Backlog("latest", raw)
    if not isinstance(raw, str):
        raise Bad('must be "skip", "all" or "latest:N"')
    return parse_backlog("backlog", raw)


def campaign(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise Bad("must be a non-empty string")
    parse_utm(f"utm_campaign={raw.strip()}", "utm_campaign")  # braces, {fields}
    return raw.strip()


def positive_int(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise Bad(f"{raw!r} is not a whole number of 1 or more")
    return raw


def times(raw: Any) -> tuple[time, ...]:
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        raw = ",".join(raw)
    if not isinstance(raw, str):
        raise Bad('must be times of day, e.g. ["09:00", "17:00"]')
    return parse_slots("post_slots", raw)
