"""Settings: the only module that reads the environment.

Values come from the process environment and a `.env` file in the working directory (the process
wins); with neither a `.env` nor FEED_URLS the bundled demo (`config/demo.env`) is used. Everything
is parsed and validated once, here, so a typo stops the program at start with exit code 2 and a
message naming the variable, instead of failing hours later deep inside a poll.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from bot.errors import ConfigError
from bot.models import Platform

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
DEMO_ENV = CONFIG_DIR / "demo.env"

T = TypeVar("T")


class Secret:
    """A credential that never shows itself in a repr, a log line or an f-string by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one place that must send it to the platform."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class TwitterSettings:
    api_key: Secret
    api_secret: Secret
    access_token: Secret
    access_token_secret: Secret
    base_url: str = "https://api.x.com"


@dataclass(frozen=True)
class FacebookSettings:
    page_id: str
    page_access_token: Secret
    graph_base_url: str = "https://graph.facebook.com"
    graph_version: str = "v25.0"
    post_type: str = "link"


@dataclass(frozen=True)
class InstagramSettings:
    user_id: str
    access_token: Secret
    graph_base_url: str = "https://graph.facebook.com"
    graph_version: str = "v25.0"


@dataclass(frozen=True)
class Backlog:
    """What the first poll of a never-seen feed does: skip all, post the newest N, or post all."""

    mode: str  # "skip" | "latest" | "all"
    count: int = 0


@dataclass(frozen=True)
class QuietHours:
    """A daily window (in TIMEZONE) during which nothing is posted; it may wrap midnight."""

    start: time
    end: time

    def contains(self, t: time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


@dataclass(frozen=True)
class Settings:
    """Every setting of the bot, typed; built once by `load_settings` and passed down."""

    feed_urls: tuple[str, ...]
    poll_interval: float = 600.0
    poll_cron: str | None = None
    timezone: str = "UTC"
    platforms: tuple[str, ...] = ()
    dry_run: bool = False
    database_url: str = "sqlite:///data/bot.db"
    backlog: Backlog = field(default_factory=lambda: Backlog("skip"))
    handles: Mapping[str, str] = field(default_factory=dict)
    log_level: str = "INFO"
    log_format: str = "text"
    # ingestion
    http_timeout: float = 20.0
    max_feed_bytes: int = 10 * 1024 * 1024
    feed_concurrency: int = 16
    max_story_age: float | None = 2 * 86400.0
    include_keywords: tuple[str, ...] = ()
    exclude_keywords: tuple[str, ...] = ()
    include_categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    # composition
    template_dir: Path = CONFIG_DIR / "templates"
    handles_file: Path = CONFIG_DIR / "handles.toml"
    hashtag_caps: Mapping[str, int] = field(
        default_factory=lambda: {"twitter": 2, "facebook": 3, "instagram": 5}
    )
    # platforms
    twitter: TwitterSettings | None = None
    facebook: FacebookSettings | None = None
    instagram: InstagramSettings | None = None
    # delivery
    post_spacing: float = 0.0
    max_posts_per_hour: int | None = None
    quiet_hours: QuietHours | None = None
    retry_base_seconds: float = 30.0
    max_attempts: int = 8
    lease_seconds: float = 300.0
    demo: bool = False
    sources: tuple[str, ...] = ()
    """Where the values came from (".env", "config/demo.env"), for the first log line."""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def secrets(self) -> list[str]:
        """Every credential value, so logging can mask them wherever they might leak."""
        values: list[str] = []
        for group in (self.twitter, self.facebook, self.instagram):
            if group is None:
                continue
            for value in vars(group).values():
                if isinstance(value, Secret) and value.reveal():
                    values.append(value.reveal())
        return values


# --- parsers: each returns the typed value or raises ConfigError naming the variable ----------

_DURATION_RE = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*([smhd]?)\s*)+$", re.IGNORECASE)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)", re.IGNORECASE)
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(name: str, raw: str, *, allow_zero: bool = False) -> float:
    """`90`, `90s`, `10m`, `1h`, `2d` or combinations such as `1h30m`, in seconds."""
    text = raw.strip()
    if not text or not _DURATION_RE.match(text):
        raise ConfigError(
            f"{name}={raw!r} is not a duration; use e.g. 90s, 10m or 1h", variable=name
        )
    seconds = sum(float(n) * _UNIT[u.lower()] for n, u in _DURATION_PART.findall(text))
    if seconds <= 0 and not allow_zero:
        raise ConfigError(f"{name}={raw!r} must be longer than zero; use e.g. 90s, 10m or 1h", name)
    return seconds


def parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use true or false", variable=name)


def parse_int(name: str, raw: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number; use e.g. 5", name) from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"from {minimum}" + (f" to {maximum}" if maximum is not None else " upwards")
        raise ConfigError(f"{name}={raw!r} is out of range; use a number {bounds}", name)
    return value


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g|kib|mib|gib)?\s*$", re.IGNORECASE)
_SIZE_UNIT = {
    None: 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def parse_size(name: str, raw: str) -> int:
    match = _SIZE_RE.match(raw)
    if not match:
        raise ConfigError(f"{name}={raw!r} is not a size; use e.g. 10MB or 500000", name)
    unit = match.group(2).lower() if match.group(2) else None
    value = int(float(match.group(1)) * _SIZE_UNIT[unit])
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be larger than zero; use e.g. 10MB", name)
    return value


def split_list(raw: str) -> tuple[str, ...]:
    """Comma- or whitespace-separated values, empty items dropped."""
    return tuple(item for item in re.split(r"[,\s]+", raw.strip()) if item)


def split_phrases(raw: str) -> tuple[str, ...]:
    """Comma-separated phrases (keywords may contain spaces)."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def parse_feed_urls(name: str, raw: str, base: Path) -> tuple[str, ...]:
    urls: list[str] = []
    for item in split_list(raw):
        lowered = item.lower()
        if lowered.startswith(("http://", "https://")):
            if not re.match(r"^https?://[^/\s?#]+", item):
                raise ConfigError(
                    f"{name} has {item!r}, which has no host; use e.g. "
                    "https://www.jckonline.com/feed/",
                    name,
                )
            urls.append(item)
        elif lowered.startswith("file://"):
            urls.append(item)
        elif "://" in item:
            raise ConfigError(
                f"{name} has {item!r}; only http(s) URLs, file:// URLs or local paths work, "
                "e.g. https://www.jckonline.com/feed/",
                name,
            )
        else:
            path = Path(item)
            if not path.is_absolute():
                path = (base / path).resolve()
            urls.append(path.as_uri())
    if not urls:
        raise ConfigError(
            f"{name} is empty; set e.g. FEED_URLS=https://www.jckonline.com/feed/", name
        )
    return tuple(dict.fromkeys(urls))


def parse_cron(name: str, raw: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    fields = raw.split()
    if len(fields) != 5:
        raise ConfigError(
            f"{name}={raw!r} is not a 5-field crontab; use e.g. '*/10 * * * *'", variable=name
        )
    try:
        CronTrigger.from_crontab(raw, timezone="UTC")
    except ValueError as exc:
        raise ConfigError(
            f"{name}={raw!r} is not a valid crontab ({exc}); use e.g. '*/10 * * * *'", name
        ) from None
    return " ".join(fields)


def parse_timezone(name: str, raw: str) -> str:
    try:
        ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{name}={raw!r} is not an IANA time zone; use e.g. America/New_York or UTC", name
        ) from None
    return raw.strip()


def parse_platforms(name: str, raw: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(p.lower() for p in split_list(raw)))
    known = {p.value for p in Platform}
    for p in names:
        if p not in known:
            raise ConfigError(
                f"{name} has {p!r}, which is not a platform; use a comma list of "
                "twitter, facebook, instagram",
                name,
            )
    return names


def parse_backlog(name: str, raw: str) -> Backlog:
    value = raw.strip().lower()
    if value in {"skip", "all"}:
        return Backlog(value)
    match = re.fullmatch(r"latest:(\d+)", value)
    if match and int(match.group(1)) > 0:
        return Backlog("latest", int(match.group(1)))
    raise ConfigError(f"{name}={raw!r} is not a backlog mode; use skip, latest:3 or all", name)


def parse_handle(name: str, raw: str) -> str:
    value = raw.strip()
    if not value:
        return ""
    if not value.startswith("@"):
        value = "@" + value
    if not re.fullmatch(r"@[A-Za-z0-9_.]{1,30}", value):
        raise ConfigError(f"{name}={raw!r} is not a handle; use e.g. @jckmagazine", name)
    return value


def parse_choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in choices:
        options = ", ".join(choices)
        raise ConfigError(f"{name}={raw!r} is not one of {options}; use e.g. {choices[0]}", name)
    return value


def parse_log_level(name: str, raw: str) -> str:
    return parse_choice(name, raw, ("info", "debug", "warning", "error", "critical")).upper()


def parse_clock(name: str, raw: str, part: str) -> time:
    try:
        hours, minutes = part.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not a time window; use e.g. 23:00-06:00", name
        ) from None


def parse_quiet_hours(name: str, raw: str) -> QuietHours | None:
    if not raw.strip():
        return None
    parts = raw.strip().split("-")
    if len(parts) != 2:
        raise ConfigError(f"{name}={raw!r} is not a time window; use e.g. 23:00-06:00", name)
    start, end = (parse_clock(name, raw, p) for p in parts)
    if start == end:
        raise ConfigError(f"{name}={raw!r} is an empty window; use e.g. 23:00-06:00", name)
    return QuietHours(start, end)


def parse_url(name: str, raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", value):
        raise ConfigError(f"{name}={raw!r} is not an http(s) URL; use e.g. https://api.x.com", name)
    return value


def parse_graph_version(name: str, raw: str) -> str:
    value = raw.strip()
    if not re.fullmatch(r"v\d+\.\d+", value):
        raise ConfigError(f"{name}={raw!r} is not a Graph API version; use e.g. v25.0", name)
    return value


def parse_database_url(name: str, raw: str) -> str:
    value = raw.strip()
    if value.startswith("postgres://"):  # Heroku's spelling
        value = "postgresql+psycopg://" + value[len("postgres://") :]
    elif value.startswith("postgresql://"):
        value = "postgresql+psycopg://" + value[len("postgresql://") :]
    if not value.startswith(("sqlite://", "postgresql+psycopg://")):
        raise ConfigError(
            f"{name}={raw!r} is not a supported database URL; use e.g. sqlite:///data/bot.db "
            "or postgresql://user:pass@host/db",
            name,
        )
    return value


# --- loading -----------------------------------------------------------------------------------


def read_environment(
    environ: Mapping[str, str], cwd: Path
) -> tuple[dict[str, str], bool, tuple[str, ...]]:
    """Merge `.env` (or the demo) under the process environment; report whether it is the demo."""
    env_file = cwd / ".env"
    values: dict[str, str] = {}
    sources: list[str] = []
    demo = False
    if env_file.is_file():
        values.update({k: v or "" for k, v in dotenv_values(env_file).items()})
        sources.append(str(env_file))
    elif "FEED_URLS" not in environ:
        values.update({k: v or "" for k, v in dotenv_values(DEMO_ENV).items()})
        sources.append(str(DEMO_ENV))
        demo = True
    values.update(environ)
    return values, demo, tuple(sources)


class _Reader:
    """Fetches and parses variables from the merged mapping, naming the variable on error."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values

    def raw(self, name: str) -> str | None:
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
) -> Settings:
    """Build the Settings once, at start. Raises ConfigError (exit 2) on the first bad value."""
    environ = dict(os.environ if environ is None else environ)
    cwd = Path.cwd() if cwd is None else cwd
    values, demo, sources = read_environment(environ, cwd)
    r = _Reader(values)
    base = PROJECT_ROOT if demo else cwd

    feed_raw = r.raw("FEED_URLS")
    if feed_raw is None:
        raise ConfigError(
            "FEED_URLS is not set; set e.g. FEED_URLS=https://www.jckonline.com/feed/ "
            "(or remove .env to run the demo)",
            variable="FEED_URLS",
        )
    feed_urls = parse_feed_urls("FEED_URLS", feed_raw, base)
    is_dry = r.get("DRY_RUN", parse_bool, False) if dry_run is None else dry_run

    def path_setting(name: str, default: Path) -> Path:
        raw = r.raw(name)
        if raw is None:
            return default
        path = Path(raw.strip())
        return path if path.is_absolute() else (base / path).resolve()

    graph_base = r.get("GRAPH_API_BASE_URL", parse_url, "https://graph.facebook.com")
    graph_version = r.get("GRAPH_API_VERSION", parse_graph_version, "v25.0")

    twitter = _twitter(r)
    facebook = _facebook(r, graph_base, graph_version)
    instagram = _instagram(r, graph_base, graph_version)
    configured = {
        Platform.TWITTER.value: twitter,
        Platform.FACEBOOK.value: facebook,
        Platform.INSTAGRAM.value: instagram,
    }
    platforms = r.get("PLATFORMS", parse_platforms, ())
    if not platforms:
        platforms = tuple(name for name, group in configured.items() if group is not None)
    elif not is_dry:
        for name in platforms:
            if configured[name] is None:
                missing = _missing_credentials(name, r)
                verb = "are" if " and " in missing else "is"
                raise ConfigError(
                    f"PLATFORMS lists {name!r} but {missing} {verb} not set; set "
                    f"{'them' if verb == 'are' else 'it'}, or remove {name} from PLATFORMS, "
                    "or run with DRY_RUN=true",
                    variable=missing.split(" and ")[0],
                )

    handles = {
        "twitter": r.get("TWITTER_HANDLE", parse_handle, ""),
        "facebook": r.get("FACEBOOK_HANDLE", parse_handle, ""),
        "instagram": r.get("INSTAGRAM_HANDLE", parse_handle, ""),
    }
    caps = {
        "twitter": r.get("HASHTAGS_TWITTER", lambda n, v: parse_int(n, v, maximum=30), 2),
        "facebook": r.get("HASHTAGS_FACEBOOK", lambda n, v: parse_int(n, v, maximum=30), 3),
        "instagram": r.get("HASHTAGS_INSTAGRAM", lambda n, v: parse_int(n, v, maximum=30), 5),
    }
    poll_cron = r.get("POLL_CRON", parse_cron, None)
    max_age = r.get("MAX_STORY_AGE", lambda n, v: parse_duration(n, v, allow_zero=True), 172800.0)
    return Settings(
        feed_urls=feed_urls,
        poll_interval=r.get("POLL_INTERVAL", parse_duration, 600.0),
        poll_cron=poll_cron,
        timezone=r.get("TIMEZONE", parse_timezone, "UTC"),
        platforms=platforms,
        dry_run=is_dry,
        database_url=r.get("DATABASE_URL", parse_database_url, "sqlite:///data/bot.db"),
        backlog=r.get("BACKLOG", parse_backlog, Backlog("skip")),
        handles=handles,
        log_level=r.get("LOG_LEVEL", parse_log_level, "INFO"),
        log_format=r.get("LOG_FORMAT", lambda n, v: parse_choice(n, v, ("text", "json")), "text"),
        http_timeout=r.get("HTTP_TIMEOUT", parse_duration, 20.0),
        max_feed_bytes=r.get("MAX_FEED_BYTES", parse_size, 10 * 1024 * 1024),
        feed_concurrency=r.get("FEED_CONCURRENCY", lambda n, v: parse_int(n, v, minimum=1), 16),
        max_story_age=max_age or None,
        include_keywords=r.get("INCLUDE_KEYWORDS", lambda n, v: split_phrases(v), ()),
        exclude_keywords=r.get("EXCLUDE_KEYWORDS", lambda n, v: split_phrases(v), ()),
        include_categories=r.get("INCLUDE_CATEGORIES", lambda n, v: split_phrases(v), ()),
        exclude_categories=r.get("EXCLUDE_CATEGORIES", lambda n, v: split_phrases(v), ()),
        template_dir=path_setting("TEMPLATE_DIR", CONFIG_DIR / "templates"),
        handles_file=path_setting("HANDLES_FILE", CONFIG_DIR / "handles.toml"),
        hashtag_caps=caps,
        twitter=twitter,
        facebook=facebook,
        instagram=instagram,
        post_spacing=r.get("POST_SPACING", lambda n, v: parse_duration(n, v, allow_zero=True), 0.0),
        max_posts_per_hour=r.get(
            "MAX_POSTS_PER_HOUR", lambda n, v: parse_int(n, v, minimum=0) or None, None
        ),
        quiet_hours=r.get("QUIET_HOURS", parse_quiet_hours, None),
        retry_base_seconds=r.get("RETRY_BASE_SECONDS", parse_duration, 30.0),
        max_attempts=r.get("MAX_ATTEMPTS", lambda n, v: parse_int(n, v, minimum=1), 8),
        lease_seconds=r.get("LEASE_SECONDS", parse_duration, 300.0),
        demo=demo,
        sources=sources,
    )


_TWITTER_VARS = (
    "TWITTER_API_KEY",
    "TWITTER_API_SECRET",
    "TWITTER_ACCESS_TOKEN",
    "TWITTER_ACCESS_TOKEN_SECRET",
)


def _missing_credentials(platform: str, r: _Reader) -> str:
    required = {
        "twitter": _TWITTER_VARS,
        "facebook": ("FACEBOOK_PAGE_ID", "FACEBOOK_PAGE_ACCESS_TOKEN"),
        "instagram": ("INSTAGRAM_USER_ID", "INSTAGRAM_ACCESS_TOKEN"),
    }[platform]
    missing = [name for name in required if r.raw(name) is None]
    if platform == "instagram" and r.raw("FACEBOOK_PAGE_ACCESS_TOKEN") is not None:
        missing = [m for m in missing if m != "INSTAGRAM_ACCESS_TOKEN"]
    return " and ".join(missing) or required[0]


def _twitter(r: _Reader) -> TwitterSettings | None:
    secrets = [r.secret(name) for name in _TWITTER_VARS]
    present = [s for s in secrets if s is not None]
    if not present:
        return None
    if len(present) != len(secrets):
        missing = [n for n, s in zip(_TWITTER_VARS, secrets, strict=True) if s is None]
        raise ConfigError(
            f"{missing[0]} is not set but the other X credentials are; set all four of "
            + ", ".join(_TWITTER_VARS),
            variable=missing[0],
        )
    key, secret, token, token_secret = present
    return TwitterSettings(
        key,
        secret,
        token,
        token_secret,
        base_url=r.get("TWITTER_API_BASE_URL", parse_url, "https://api.x.com"),
    )


def _facebook(r: _Reader, base: str, version: str) -> FacebookSettings | None:
    page_id = r.raw("FACEBOOK_PAGE_ID")
    token = r.secret("FACEBOOK_PAGE_ACCESS_TOKEN")
    if page_id is None and token is None:
        return None
    if page_id is None or token is None:
        name = "FACEBOOK_PAGE_ID" if page_id is None else "FACEBOOK_PAGE_ACCESS_TOKEN"
        raise ConfigError(
            f"{name} is not set but the other Facebook setting is; set both "
            "FACEBOOK_PAGE_ID (e.g. 104123456789012) and FACEBOOK_PAGE_ACCESS_TOKEN",
            variable=name,
        )
    if not re.fullmatch(r"\d+", page_id.strip()):
        raise ConfigError(
            f"FACEBOOK_PAGE_ID={page_id!r} is not a numeric Page id; use e.g. 104123456789012",
            variable="FACEBOOK_PAGE_ID",
        )
    post_type = r.get(
        "FACEBOOK_POST_TYPE", lambda n, v: parse_choice(n, v, ("link", "photo")), "link"
    )
    return FacebookSettings(page_id.strip(), token, base, version, post_type)


def _instagram(r: _Reader, base: str, version: str) -> InstagramSettings | None:
    user_id = r.raw("INSTAGRAM_USER_ID")
    token = r.secret("INSTAGRAM_ACCESS_TOKEN") or r.secret("FACEBOOK_PAGE_ACCESS_TOKEN")
    if user_id is None:
        return None
    if not re.fullmatch(r"\d+", user_id.strip()):
        raise ConfigError(
            f"INSTAGRAM_USER_ID={user_id!r} is not a numeric account id; "
            "use e.g. 17841400000000000",
            variable="INSTAGRAM_USER_ID",
        )
    if token is None:
        raise ConfigError(
            "INSTAGRAM_ACCESS_TOKEN is not set (nor FACEBOOK_PAGE_ACCESS_TOKEN to fall back on); "
            "set the token of the Page linked to the Instagram account",
            variable="INSTAGRAM_ACCESS_TOKEN",
        )
    return InstagramSettings(user_id.strip(), token, base, version)


def credential_variables(platform: str) -> tuple[str, ...]:
    """The variables a user fixes when a platform's token is refused (for loud auth errors)."""
    return {
        "twitter": _TWITTER_VARS,
        "facebook": ("FACEBOOK_PAGE_ACCESS_TOKEN",),
        "instagram": ("INSTAGRAM_ACCESS_TOKEN",),
    }.get(platform, ())
