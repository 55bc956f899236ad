"""Settings: the only module that reads the environment.

Values come from the process environment and an env file: `--env-file PATH`, else `.env` in the
working directory (the process wins); with neither a file nor FEED_URLS, the env file of an
installed systemd unit running this copy, else the bundled demo (`config/demo.env`). bot.envfile
picks and reads the file. Relative paths resolve against the env file's folder (the project folder
for the demo or without a file), never against the working directory. Everything is parsed and
validated once, here, so a typo stops the program at start with exit code 2 and a message naming
the variable, instead of failing hours later deep inside a poll.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit
from zoneinfo import ZoneInfo

from bot.envfile import demo_database_url, find_sources, unknown_name_warnings
from bot.errors import ConfigError
from bot.feed_rules import Feed
from bot.feedsfile import feeds_file_path, with_feeds
from bot.platforms import registry
from bot.platforms.spec import PlatformSpec
from bot.settings_reach import READ_WHEN_NEEDED as _REACH_WHEN_NEEDED
from bot.settings_reach import Reach, read_reach
from bot.settings_values import (
    NOTIFY_LEVELS,
    Backlog,
    QuietHours,
    Secret,
    normalise_handle,
    notify_url_secrets,
    parse_backlog,
    parse_bool,
    parse_choice,
    parse_cron,
    parse_database_url,
    parse_duration,
    parse_feed_urls,
    parse_int,
    parse_log_level,
    parse_notify_urls,
    parse_platforms,
    parse_proxy,
    parse_quiet_hours,
    parse_size,
    parse_timezone,
    split_phrases,
    url_password,
)
from bot.settings_web import WebSettings, parse_web

__all__ = [
    "PROJECT_ROOT",
    "Backlog",
    "QuietHours",
    "Secret",
    "Settings",
    "load_settings",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
DEMO_ENV = CONFIG_DIR / "demo.env"

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """Every setting of the bot, typed; built once by `load_settings` and passed down."""

    feed_urls: tuple[str, ...]
    """Every feed's URL: FEEDS_FILE's in order, then FEED_URLS's."""
    poll_interval: float = 600.0
    poll_cron: str | None = None
    timezone: str = "UTC"
    platforms: tuple[str, ...] = ()
    dry_run: bool = False
    database_url: str = "sqlite:///data/bot.db"
    backlog: Backlog = field(default_factory=lambda: Backlog("skip"))
    new_platform_backlog: Backlog = field(default_factory=lambda: Backlog("skip"))
    """For a platform added to a store that already has stories: which of them it gets."""
    handles: Mapping[str, str] = field(default_factory=dict)
    log_level: str = "INFO"
    log_format: str = "text"
    # ingestion
    http_timeout: float = 20.0
    max_feed_bytes: int = 10 * 1024 * 1024
    feed_concurrency: int = 16
    proxies: Mapping[str, str] = field(default_factory=dict)
    """"http", "https", "all" -> proxy URL and "no" -> NO_PROXY's list, from the standard
    variables (the lower-case spelling wins, as in curl and urllib)."""
    allow_private_networks: bool = False
    """ALLOW_PRIVATE_NETWORKS: feed content may point the bot at internal addresses."""
    max_story_age: float | None = 2 * 86400.0
    include_keywords: tuple[str, ...] = ()
    exclude_keywords: tuple[str, ...] = ()
    include_categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    # composition
    template_dir: Path = CONFIG_DIR / "templates"
    handles_file: Path = CONFIG_DIR / "handles.toml"
    feed_mentions: str = "neutralise"
    """FEED_MENTIONS: "keep" leaves a story's own @mentions live (default: made inert)."""
    feed_hashtags: str = "neutralise"
    """FEED_HASHTAGS: "keep" leaves a story's own #tags and $CASHTAGS live."""
    hashtag_caps: Mapping[str, int] = field(
        default_factory=lambda: {s.name: s.default_hashtags for s in registry.specs()}
    )
    # platforms
    sections: Mapping[str, Any] = field(default_factory=dict)
    """Each platform's own settings, read by its package's section (bot/platforms/<name>/);
    a platform without credentials is absent (or None)."""
    # delivery
    post_spacing: float = 0.0
    max_posts_per_hour: int | None = None
    """MAX_POSTS_PER_HOUR for every platform; None (unset): each platform's default cap;
    0: no cap at all."""
    max_new_per_feed: int = 20
    """MAX_NEW_PER_FEED: new stories queued from one feed in one poll (0: no cap); the rest
    are recorded as skipped, so a flood (or a feed that resets its ids) is never posted."""
    quiet_hours: QuietHours | None = None
    retry_base_seconds: float = 30.0
    max_attempts: int = 8
    lease_seconds: float = 300.0
    # notifications
    notify_urls: tuple[str, ...] = ()
    """Apprise URLs (NOTIFY_URLS); they carry tokens, so `secrets()` masks them everywhere."""
    notify_level: str = "warning"
    reach: Reach = field(default_factory=Reach)
    """Images, hosting, title cards, UTM, spend and posting slots (bot/settings_reach.py)."""
    web: WebSettings = field(default_factory=WebSettings)
    """The web face, health, metrics, approval and WebSub (bot/settings_web.py)."""
    feeds: tuple[Feed, ...] = ()
    """Each feed's own rules (bot.feed_rules), in `feed_urls`' order."""
    feeds_file: Path | None = None
    demo: bool = False
    sources: tuple[str, ...] = ()
    """Where the values came from (".env", "config/demo.env"), for the first log line."""
    warnings: tuple[str, ...] = ()
    """Doubtful settings (a name no setting reads, ...), logged once at start."""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def section(self, platform: str) -> Any:
        """`platform`'s own settings, handed to its adapter; None when it has no credentials."""
        return self.sections.get(platform)

    def secrets(self) -> list[str]:
        """Every credential value, so logging can mask them wherever they might leak."""
        values: list[str] = []
        for group in self.sections.values():
            if group is None:
                continue
            for value in vars(group).values():
                if isinstance(value, Secret) and value.reveal():
                    values.append(value.reveal())
        s3 = self.reach.images.s3
        if s3 is not None and s3.secret_access_key:
            values.append(s3.secret_access_key)
        for scheme, url in self.proxies.items():
            password = urlsplit(url).password if scheme != "no" else None
            if password:
                values.append(password)
        database_password = url_password(self.database_url)
        if database_password:
            values.append(database_password)
        for url in self.notify_urls:
            values.extend(notify_url_secrets(url))
        values.extend(self.web.secrets())
        for url in self.feed_urls:  # https://user:pass@host/feed, ...?key=...
            parts = urlsplit(url)
            if parts.password:
                values.append(unquote(parts.password))
            values.extend(v for k, v in parse_qsl(parts.query) if _SECRET_KEY.fullmatch(k))
        return values


_SECRET_KEY = re.compile(
    r"api[_-]?key|apikey|key|token|access[_-]?token|auth|secret|client[_-]?secret|"
    r"password|passwd|pass|pwd|sig|signature|hash",
    re.IGNORECASE,
)
"""Query parameters of a feed URL whose values are credentials (masked like tokens)."""


# --- loading -----------------------------------------------------------------------------------


class _Reader:
    """Fetches and parses variables from the merged mapping, naming the variable on error."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values
        self.asked: set[str] = set()
        """Every name looked up: with _READ_WHEN_NEEDED, the names that are settings."""

    def raw(self, name: str) -> str | None:
        self.asked.add(name)
        value = self.values.get(name)
        if value is None or value.strip() == "":
            return None
        return value

    def get(self, name: str, parse: Callable[[str, str], T], default: T) -> T:
        raw = self.raw(name)
        return default if raw is None else parse(name, raw)

    def secret(self, name: str) -> Secret | None:
        raw = self.raw(name)
        return Secret(raw.strip()) if raw is not None else None


def load_settings(
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    *,
    dry_run: bool | None = None,
    env_file: Path | None = None,
    unit_dirs: Iterable[Path] | None = None,
) -> Settings:
    """Build the Settings once, at start. Raises ConfigError (exit 2) on the first bad value."""
    environ = dict(os.environ if environ is None else environ)
    cwd = Path.cwd() if cwd is None else cwd
    found = find_sources(
        environ,
        cwd,
        project_root=PROJECT_ROOT,
        demo_env=DEMO_ENV,
        env_file=env_file,
        unit_dirs=unit_dirs,
    )
    demo, base = found.demo, found.base
    sources = tuple(filter(None, (str(found.file) if found.file else None, found.note)))
    r = _Reader(found.values)

    feed_raw = r.raw("FEED_URLS")
    feeds_path = feeds_file_path(r.raw("FEEDS_FILE"), base)
    if feed_raw is None and feeds_path is None:
        raise ConfigError(
            "FEED_URLS is not set; set e.g. FEED_URLS=https://www.jckonline.com/feed/ "
            "or FEEDS_FILE=config/feeds.toml (or remove .env to run the demo)",
            variable="FEED_URLS",
        )
    feed_urls = parse_feed_urls("FEED_URLS", feed_raw, base) if feed_raw is not None else ()
    dry_setting = r.get("DRY_RUN", parse_bool, False)  # checked even when --dry-run overrides it
    is_dry = dry_setting if dry_run is None else dry_run

    def path_setting(name: str, default: Path) -> Path:
        raw = r.raw(name)
        if raw is None:
            return default
        path = Path(raw.strip())
        return path if path.is_absolute() else (base / path).resolve()

    specs = registry.specs()
    sections = {spec.name: spec.section.read(r) for spec in specs}  # each validates its own
    known = registry.names()
    platforms = r.get("PLATFORMS", lambda n, v: parse_platforms(n, v, known), ())
    if not platforms:
        platforms = tuple(name for name, group in sections.items() if group is not None)
        if not platforms and is_dry:  # a dry run needs no credentials: show every platform
            platforms = known
    elif not is_dry:
        for name in platforms:
            if sections[name] is None:
                missing = _missing_credentials(registry.spec(name), r)
                verb = "are" if " and " in missing else "is"
                raise ConfigError(
                    f"PLATFORMS lists {name!r} but {missing} {verb} not set; set "
                    f"{'them' if verb == 'are' else 'it'}, or remove {name} from PLATFORMS, "
                    "or run with DRY_RUN=true",
                    variable=missing.split(" and ")[0],
                )

    # Each platform's own handle syntax (a domain, a user@instance, ...: its Limits), checked
    # whether or not the platform is active: a typo shows before it is switched on.
    handles = {
        spec.name: r.get(
            spec.handle_variable,
            lambda n, v, spec=spec: normalise_handle(v, spec.name, spec.limits, n, n),
            "",
        )
        for spec in specs
    }
    caps = {
        spec.name: r.get(
            spec.hashtags_variable, lambda n, v: parse_int(n, v, maximum=30), spec.default_hashtags
        )
        for spec in specs
    }
    poll_cron = r.get("POLL_CRON", parse_cron, None)
    max_age = r.get("MAX_STORY_AGE", lambda n, v: parse_duration(n, v, allow_zero=True), 172800.0)
    database_url = r.get("DATABASE_URL", parse_database_url, "sqlite:///data/bot.db")
    database_base = base  # a path written in the env file: relative to its folder
    if r.raw("DATABASE_URL") is None:  # the default: the project's data/ (Docker's volume, the
        database_base = PROJECT_ROOT  # systemd unit's writable folder), wherever the env file is
        database_url = demo_database_url() if demo else database_url
    settings = Settings(
        feed_urls=feed_urls,
        poll_interval=r.get("POLL_INTERVAL", parse_duration, 600.0),
        poll_cron=poll_cron,
        timezone=r.get("TIMEZONE", parse_timezone, "UTC"),
        platforms=platforms,
        dry_run=is_dry,
        database_url=resolve_sqlite_path(database_url, database_base),
        backlog=r.get("BACKLOG", parse_backlog, Backlog("skip")),
        new_platform_backlog=r.get("NEW_PLATFORM_BACKLOG", parse_backlog, Backlog("skip")),
        handles=handles,
        log_level=r.get("LOG_LEVEL", parse_log_level, "INFO"),
        log_format=r.get("LOG_FORMAT", lambda n, v: parse_choice(n, v, ("text", "json")), "text"),
        http_timeout=r.get("HTTP_TIMEOUT", parse_duration, 20.0),
        max_feed_bytes=r.get("MAX_FEED_BYTES", parse_size, 10 * 1024 * 1024),
        feed_concurrency=r.get("FEED_CONCURRENCY", lambda n, v: parse_int(n, v, minimum=1), 16),
        proxies=_proxies(r),
        allow_private_networks=r.get("ALLOW_PRIVATE_NETWORKS", parse_bool, False),
        max_story_age=max_age or None,
        include_keywords=r.get("INCLUDE_KEYWORDS", lambda n, v: split_phrases(v), ()),
        exclude_keywords=r.get("EXCLUDE_KEYWORDS", lambda n, v: split_phrases(v), ()),
        include_categories=r.get("INCLUDE_CATEGORIES", lambda n, v: split_phrases(v), ()),
        exclude_categories=r.get("EXCLUDE_CATEGORIES", lambda n, v: split_phrases(v), ()),
        template_dir=path_setting("TEMPLATE_DIR", CONFIG_DIR / "templates"),
        handles_file=path_setting("HANDLES_FILE", CONFIG_DIR / "handles.toml"),
        hashtag_caps=caps,
        feed_mentions=r.get("FEED_MENTIONS", _feed_sigils, "neutralise"),
        feed_hashtags=r.get("FEED_HASHTAGS", _feed_sigils, "neutralise"),
        sections={name: group for name, group in sections.items() if group is not None},
        post_spacing=r.get("POST_SPACING", lambda n, v: parse_duration(n, v, allow_zero=True), 0.0),
        max_posts_per_hour=r.get(
            "MAX_POSTS_PER_HOUR", lambda n, v: parse_int(n, v, minimum=0), None
        ),
        max_new_per_feed=r.get("MAX_NEW_PER_FEED", lambda n, v: parse_int(n, v, minimum=0), 20),
        quiet_hours=r.get("QUIET_HOURS", parse_quiet_hours, None),
        retry_base_seconds=r.get("RETRY_BASE_SECONDS", parse_duration, 30.0),
        max_attempts=r.get("MAX_ATTEMPTS", lambda n, v: parse_int(n, v, minimum=1), 8),
        lease_seconds=r.get("LEASE_SECONDS", parse_duration, 300.0),
        notify_urls=r.get("NOTIFY_URLS", parse_notify_urls, ()),
        notify_level=r.get(
            "NOTIFY_LEVEL", lambda n, v: parse_choice(n, v, NOTIFY_LEVELS), NOTIFY_LEVELS[0]
        ),
        reach=read_reach(r, base, CONFIG_DIR / "brand"),
        web=parse_web(r.raw),
        demo=demo,
        sources=sources,
    )
    settings = with_feeds(settings, feeds_path, registry.names())
    # Last, once every setting was read: the names nobody asked for are not settings.
    asked = r.asked | set(_READ_WHEN_NEEDED)
    asked |= {name for spec in specs for name in spec.section.read_when_needed}
    return replace(settings, warnings=tuple(unknown_name_warnings(found, environ, asked, known)))


def resolve_sqlite_path(url: str, base: Path) -> str:
    """`sqlite:///data/bot.db` names a file relative to `base` (the env file's folder), so the
    store is the same whatever folder a command is started from."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    path, sep, query = url[len(prefix) :].partition("?")
    if not path or path == ":memory:" or path.startswith(("/", "~")):
        return url
    return prefix + str((base / path).resolve()) + sep + query


def _feed_sigils(name: str, raw: str) -> str:
    value = parse_choice(name, raw, ("neutralise", "neutralize", "keep"))
    return "neutralise" if value == "neutralize" else value


_PROXY_VARIABLES = (
    ("http", ("http_proxy", "HTTP_PROXY")),
    ("https", ("https_proxy", "HTTPS_PROXY")),
    ("all", ("all_proxy", "ALL_PROXY")),
    ("no", ("no_proxy", "NO_PROXY")),
)
"""Each scheme's two spellings, the lower-case one first: it wins, as in curl and urllib."""

_READ_WHEN_NEEDED = (
    *(name for _, names in _PROXY_VARIABLES for name in names),  # the first one set wins
    *_REACH_WHEN_NEEDED,  # IMAGE_HOST=s3 only
    "POSTGRES_PASSWORD",  # not the bot's: deploy/docker-compose.yml reads it from .env
)
"""Settings read only in some configurations: never reported as unknown names."""


def _proxies(r: _Reader) -> dict[str, str]:
    proxies: dict[str, str] = {}
    for scheme, names in _PROXY_VARIABLES:
        found = next(((n, raw) for n in names if (raw := r.raw(n)) is not None), None)
        if found is None:
            continue
        name, raw = found
        proxies[scheme] = raw.strip() if scheme == "no" else parse_proxy(name, raw)
    return proxies


def _missing_credentials(spec: PlatformSpec, r: _Reader) -> str:
    section = spec.section
    return " and ".join(section.missing_credentials(r)) or section.credentials[0]
