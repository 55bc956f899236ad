"""FEEDS_FILE: one `[[feeds]]` table per feed, each with its own rules (see bot.feed_rules).

Read and checked once at start like the env file (and again on SIGHUP by a running worker): an
unknown key, a bad value, a template that is missing, a platform that is not configured all stop
the program with exit 2 and one line naming the file, the feed, the key and an example of a good
value (a template naming an unknown field too, once the templates are read: bot.feed_book).
Every key a feed leaves out takes the env file's value. Light on purpose: `status` and `--help`
read the settings, so nothing of bot.compose is imported here.

    [[feeds]]
    name = "events"
    url = "https://www.jckonline.com/events/feed/"
    platforms = ["...", "..."]              # default: every active platform
    hashtags = ["#JCKLasVegas"]
    templates = { NAME = "templates/events.txt" }   # relative to this file's folder
    poll_cron = "0 9,17 * * *"              # or poll_interval = "15m"
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import time
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bot import feedsfile_values as V
from bot.errors import ConfigError
from bot.feed_rules import Feed
from bot.feedsfile_values import Bad
from bot.settings_values import Backlog, parse_feed_urls

VARIABLE = "FEEDS_FILE"
DEFAULT_PATH = Path("config") / "feeds.toml"
"""Used when FEEDS_FILE is not set and this file exists (relative to the env file's folder)."""

_LISTS = ("include_keywords", "exclude_keywords", "include_categories", "exclude_categories")
KEYS = (
    "url",
    "name",
    "platforms",
    "hashtags",
    "templates",
    *_LISTS,
    "poll_interval",
    "poll_cron",
    "backlog",
    "max_story_age",
    "utm_campaign",
    "approval",
    "post_slots",
    "slot_size",
)


class _Settings(Protocol):
    """What the defaults are read from: bot.settings.Settings (not imported: it imports us)."""

    feed_urls: tuple[str, ...]
    platforms: tuple[str, ...]
    poll_interval: float
    poll_cron: str | None
    backlog: Backlog
    max_story_age: float | None
    include_keywords: tuple[str, ...]
    exclude_keywords: tuple[str, ...]
    include_categories: tuple[str, ...]
    exclude_categories: tuple[str, ...]
    feeds: tuple[Feed, ...]
    feeds_file: Path | None

    @property
    def web(self) -> Any: ...

    @property
    def reach(self) -> Any: ...


S = TypeVar("S", bound=_Settings)


def feeds_file_path(raw: str | None, base: Path) -> Path | None:
    """FEEDS_FILE (relative to the env file's folder), else config/feeds.toml if it exists."""
    if raw is None:
        path = base / DEFAULT_PATH
        return path if path.is_file() else None
    path = Path(raw.strip()).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def defaults_of(settings: _Settings) -> Feed:
    """The env file's value of every rule: what a feed of FEED_URLS, or a key left out, gets."""
    return Feed(
        url="",
        name="",
        platforms=settings.platforms,
        include_keywords=settings.include_keywords,
        exclude_keywords=settings.exclude_keywords,
        include_categories=settings.include_categories,
        exclude_categories=settings.exclude_categories,
        poll_interval=settings.poll_interval,
        poll_cron=settings.poll_cron,
        backlog=settings.backlog,
        max_story_age=settings.max_story_age,
        approval=tuple(settings.web.approval),
        post_slots=dict(settings.reach.slots),
        slot_size=settings.reach.slot_size,
    )


def rules_of(settings: _Settings) -> tuple[Feed, ...]:
    """Every feed's rules in `feed_urls`' order. A URL without rules (Settings built by hand,
    or `feed_urls` replaced after loading) gets the env file's."""
    known = {feed.url: feed for feed in settings.feeds}
    defaults: Feed | None = None
    out: list[Feed] = []
    for url in settings.feed_urls:
        rules = known.get(url)
        if rules is None:
            defaults = defaults or defaults_of(settings)
            rules = replace(defaults, url=url, name=url)
        out.append(rules)
    return tuple(out)


def with_feeds(settings: S, path: Path | None, known_platforms: Sequence[str]) -> S:
    """`settings` with every feed's rules (`feeds`) and every feed's URL (`feed_urls`)."""
    defaults = defaults_of(settings)
    if path is None:
        feeds = tuple(replace(defaults, url=u, name=u) for u in settings.feed_urls)
    else:
        feeds = load_feeds(
            path, defaults, env_urls=settings.feed_urls, known_platforms=known_platforms
        )
    return replace(  # type: ignore[type-var]
        settings, feeds=feeds, feed_urls=tuple(f.url for f in feeds), feeds_file=path
    )


def load_feeds(
    path: Path,
    defaults: Feed,
    *,
    env_urls: Sequence[str] = (),
    known_platforms: Sequence[str],
) -> tuple[Feed, ...]:
    """The feeds of the file, in order, then those of FEED_URLS (`env_urls`) with the defaults.

    `defaults` carries the env file's value of every rule (its url and name are unused);
    `defaults.platforms` are the active platforms, the only ones a feed may name."""
    examples = V.examples(defaults.platforms)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{VARIABLE}={path}: no such file; create it (e.g. from config/feeds.example.toml) "
            "or unset FEEDS_FILE",
            VARIABLE,
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{VARIABLE}={path} cannot be read as UTF-8 text ({exc})", VARIABLE
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML ({exc}); write one table per feed, "
            f"e.g. [[feeds]] then {examples['url']}",
            VARIABLE,
        ) from None
    extra = [key for key in data if key != "feeds"]
    if extra:
        raise ConfigError(
            f"{path}: unknown key {extra[0]!r} at the top; the file holds only "
            + examples["feeds"].replace("\n", " "),
            VARIABLE,
        )
    tables = data.get("feeds")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(
            f"{path}: no feeds; the file holds " + examples["feeds"].replace("\n", " "), VARIABLE
        )
    feeds: list[Feed] = []
    for index, table in enumerate(tables):
        feed = _Feed(path, index, table, defaults, examples, known_platforms).rules()
        for earlier in feeds:
            if earlier.url == feed.url:
                raise ConfigError(
                    f"{path}: feed {feed.name!r}, key url: {feed.url} is already the url of "
                    f"feed {earlier.name!r}; list each feed once, e.g. {examples['url']}",
                    VARIABLE,
                )
            if earlier.name.casefold() == feed.name.casefold():
                raise ConfigError(
                    f"{path}: feed {feed.url}, key name: {feed.name!r} is already the name of "
                    f"another feed ({earlier.url}); give each feed its own name, "
                    f"e.g. {examples['name']}",
                    VARIABLE,
                )
        feeds.append(feed)
    in_file = {f.url: f for f in feeds}
    for url in env_urls:
        if url in in_file:
            raise ConfigError(
                f"{path}: feed {in_file[url].name!r}, key url: {url} is in FEED_URLS too; "
                "list it in one place only (the feeds file, to give it its own rules)",
                VARIABLE,
            )
        feeds.append(replace(defaults, url=url, name=url, from_file=False))
    return tuple(feeds)


class _Feed:
    """One `[[feeds]]` table being checked: every error names the file, the feed and the key."""

    def __init__(
        self,
        path: Path,
        index: int,
        table: dict[str, Any],
        defaults: Feed,
        examples: dict[str, str],
        known: Sequence[str],
    ) -> None:
        self.path = path
        self.table = table
        self.defaults = defaults
        self.examples = examples
        self.known = tuple(known)
        name, url = table.get("name"), table.get("url")
        self.label = (
            name.strip()
            if isinstance(name, str) and name.strip()
            else (url.strip() if isinstance(url, str) and url.strip() else f"number {index + 1}")
        )

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(
            f"{self.path}: feed {self.label!r}, key {key}: {problem}; e.g. {self.examples[key]}",
            VARIABLE,
        )

    def value(self, key: str, parse: Callable[[Any], Any], default: Any) -> Any:
        if key not in self.table:
            return default
        try:
            return parse(self.table[key])
        except Bad as exc:
            raise self.error(key, str(exc)) from None
        except ConfigError as exc:  # a setting's own parser: keep its words, drop its example
            raise self.error(key, str(exc).split("; use e.g.")[0].split("; use a ")[0]) from None

    def rules(self) -> Feed:
        for key in self.table:
            if key not in KEYS:
                close = difflib.get_close_matches(key, KEYS, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise ConfigError(
                    f"{self.path}: feed {self.label!r}, key {key}: not a feed key{hint}; "
                    f"known keys: {', '.join(KEYS)}",
                    VARIABLE,
                )
        if "url" not in self.table:
            raise self.error("url", "missing (every feed needs its address)")
        d = self.defaults
        url = self.value("url", self._url, "")
        name = self.value("name", V.name, url)
        platforms = self.value("platforms", self._platforms, d.platforms)
        if "poll_interval" in self.table and "poll_cron" in self.table:
            raise self.error("poll_cron", "give poll_interval or poll_cron, not both")
        interval = self.value("poll_interval", V.duration("poll_interval"), d.poll_interval)
        cron = self.value(
            "poll_cron", V.cron, None if "poll_interval" in self.table else d.poll_cron
        )
        rules = replace(
            d,
            url=url,
            name=name,
            platforms=platforms,
            hashtags=self.value("hashtags", V.hashtags, d.hashtags),
            templates=self.value("templates", lambda v: self._templates(v, platforms), {}),
            poll_interval=interval,
            poll_cron=cron,
            backlog=self.value("backlog", V.backlog, d.backlog),
            max_story_age=self.value("max_story_age", V.age, d.max_story_age),
            utm_campaign=self.value("utm_campaign", V.campaign, d.utm_campaign),
            approval=self.value(
                "approval",
                lambda v: self._approval(v, platforms),
                tuple(p for p in d.approval if p in platforms),
            ),
            post_slots=self.value(
                "post_slots",
                lambda v: self._slots(v, platforms),
                {p: t for p, t in d.post_slots.items() if p in platforms},
            ),
            slot_size=self.value("slot_size", V.positive_int, d.slot_size),
            from_file=True,
        )
        for key in _LISTS:
            rules = replace(rules, **{key: self.value(key, V.strings(key), getattr(d, key))})
        return rules

    def _url(self, raw: Any) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise Bad("must be the feed's address as a string")
        urls = parse_feed_urls("url", raw.strip(), self.path.parent)
        if len(urls) != 1:
            raise Bad(f"{raw!r} holds {len(urls)} addresses; give each feed its own [[feeds]]")
        return urls[0]

    def _platform_list(self, raw: Any, key: str) -> tuple[str, ...]:
        names = V.strings(key)(raw)
        active = self.defaults.platforms
        for name in (n.lower() for n in names):
            if name not in self.known:
                raise Bad(f"{name!r} is not a platform (known: {', '.join(self.known)})")
            if name not in active:
                raise Bad(
                    f"{name} is not configured (active platforms: {', '.join(active) or 'none'}); "
                    f"set its credentials and add it to PLATFORMS, or remove it here"
                )
        return tuple(dict.fromkeys(n.lower() for n in names))

    def _platforms(self, raw: Any) -> tuple[str, ...]:
        chosen = self._platform_list(raw, "platforms")
        if not chosen:
            raise Bad("is empty: the feed would post nowhere; name a platform or remove the feed")
        return tuple(p for p in self.defaults.platforms if p in chosen)  # PLATFORMS' order

    def _templates(self, raw: Any, platforms: tuple[str, ...]) -> dict[str, Path]:
        if not isinstance(raw, dict):
            raise Bad("must be a table of platform = template file")
        out: dict[str, Path] = {}
        for platform, file in raw.items():
            if platform not in platforms:
                raise Bad(
                    f"{platform!r} is not one of this feed's platforms ({', '.join(platforms)})"
                )
            if not isinstance(file, str) or not file.strip():
                raise Bad(f"{platform} must name a template file as a string")
            where = Path(file.strip())
            where = where if where.is_absolute() else (self.path.parent / where).resolve()
            if not where.is_file():  # its {fields} are checked with the templates (bot.app)
                raise Bad(f"{platform}: template {where} not found")
            out[platform] = where
        return out

    def _approval(self, raw: Any, platforms: tuple[str, ...]) -> tuple[str, ...]:
        if raw is True or (isinstance(raw, str) and raw.strip().lower() == "all"):
            return platforms
        if raw is False:
            return ()
        chosen = self._platform_list(raw, "approval")
        for name in chosen:
            if name not in platforms:
                raise Bad(f"{name} is not one of this feed's platforms ({', '.join(platforms)})")
        return tuple(p for p in platforms if p in chosen)

    def _slots(self, raw: Any, platforms: tuple[str, ...]) -> dict[str, tuple[time, ...]]:
        if isinstance(raw, dict):
            out: dict[str, tuple[time, ...]] = {}
            for platform, times in raw.items():
                if platform not in platforms:
                    raise Bad(
                        f"{platform!r} is not one of this feed's platforms ({', '.join(platforms)})"
                    )
                out[platform] = V.times(times)
            return out
        times = V.times(raw)  # one list for every platform of the feed
        return dict.fromkeys(platforms, times)
