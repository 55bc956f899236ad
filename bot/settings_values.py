"""Parsers of setting values: text in, a typed value or a ConfigError naming the variable out.

Pure and small on purpose: every rule about what a good value looks like lives here, next to
the example of a good value that the error message gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ConfigError
from bot.models import Backlog, Limits, QuietHours

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


def parse_platforms(name: str, raw: str, known: tuple[str, ...]) -> tuple[str, ...]:
    """A comma list of platform names, each one of `known` (the registry's)."""
    names = tuple(dict.fromkeys(p.lower() for p in split_list(raw)))
    for p in names:
        if p not in known:
            raise ConfigError(
                f"{name} has {p!r}, which is not a platform; use a comma list of "
                + ", ".join(known),
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


def normalise_handle(raw: str, platform: str, limits: Limits, where: str, variable: str) -> str:
    """'@name' checked for the platform's handle syntax (`limits`); a missing '@' is added."""
    value = raw.strip()
    if not value:
        return ""
    if not value.startswith("@"):
        value = "@" + value
    limit = limits.handle_max_length
    if not re.fullmatch("@(?:" + limits.handle_syntax + ")", value) or len(value) - 1 > limit:
        culprit = f"{where}={raw!r}" if where == variable else f"{where}: {raw!r}"
        hint = limits.handle_hint  # its own example when it has one (a URN, user@instance)
        example = "" if "e.g." in hint else "; use e.g. @jckmagazine"
        raise ConfigError(
            f"{culprit} is not a {platform} handle{example} ({hint}; at most {limit})",
            variable=variable,
        )
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


def parse_proxy(name: str, raw: str) -> str:
    """An HTTP_PROXY-style value for the feed fetcher, which speaks to http(s) proxies only.
    The message never repeats the value: a proxy URL may carry a password."""
    value = raw.strip()
    if "://" not in value:
        value = "http://" + value  # "proxy.internal:3128", as curl and requests read it
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{name} is not an http(s) proxy URL (feeds cannot go through {parts.scheme}:// "
            "proxies); use e.g. http://proxy.internal:3128",
            name,
        )
    return value


NOTIFY_LEVELS = ("warning", "error", "info")
"""NOTIFY_LEVEL: error sends the failures only, warning adds what will fail soon, info adds the
good news (a platform resumed). The first is the default."""


def parse_notify_urls(name: str, raw: str) -> tuple[str, ...]:
    """Apprise URLs separated by spaces or commas (as Apprise itself reads a list). Only their
    shape is checked here, so no command pays for importing Apprise; the worker and `check`
    load each one at start and name any Apprise does not know. Messages never repeat a URL:
    most carry a token."""
    urls = tuple(part for part in re.split(r"[\s,]+", raw.strip()) if part)
    for index, url in enumerate(urls, start=1):
        if not re.match(r"^[a-z][a-z0-9+.-]*://\S+$", url, re.IGNORECASE):
            raise ConfigError(
                f"{name}: entry {index} ({notify_url_label(url)}) is not an Apprise URL; use e.g. "
                "json://hooks.example.com/feedbot or slack://TokenA/TokenB/TokenC",
                name,
            )
    return urls


def notify_url_label(url: str) -> str:
    """A notification URL as logs may show it: the scheme and host, nothing after."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***"
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1].split("?", 1)[0]
    # Slack, Telegram and others put a token where the host goes: show only real host names.
    if "." in host or host.split(":")[0] == "localhost":
        return f"{scheme}://{host}/***"
    return f"{scheme}://***"


def notify_url_secrets(url: str) -> list[str]:
    """The parts of an Apprise URL that may be credentials: the whole URL, its password, and
    every path segment or query value long enough to be a token (Slack, Discord, Telegram...)."""
    parts = urlsplit(url)
    found = [url]
    if parts.password:
        found.append(parts.password)
    pieces = [
        *parts.path.split("/"),
        *(v for _, _, v in (q.partition("=") for q in parts.query.split("&"))),
    ]
    if "@" not in parts.netloc and "." not in parts.netloc:
        pieces.append(parts.netloc)  # e.g. tgram://{bot-token}/{chat}: the "host" is the token
    found += [piece for piece in pieces if len(piece) >= 8]
    return found


def parse_graph_version(name: str, raw: str) -> str:
    value = raw.strip()
    if not re.fullmatch(r"v\d+\.\d+", value):
        raise ConfigError(f"{name}={raw!r} is not a Graph API version; use e.g. v25.0", name)
    return value


def _userinfo(url: str) -> tuple[str, str, str] | None:
    """(scheme://user:, password, @host...) of a URL with a password; the last "@" ends the
    password, so an unencoded "@" in it is masked too (masking too much beats leaking)."""
    scheme, sep, rest = url.partition("://")
    at = rest.rfind("@")
    if not sep or at < 0:
        return None
    user, colon, password = rest[:at].partition(":")
    if not colon or "/" in user:
        return None
    return f"{scheme}://{user}:", password, rest[at:]


def masked_url(url: str) -> str:
    """DATABASE_URL as it may be shown: the password, if any, replaced with ***."""
    parts = _userinfo(url)
    return url if parts is None else f"{parts[0]}***{parts[2]}"


def url_password(url: str) -> str | None:
    """The password in DATABASE_URL, so logging can mask it wherever it might appear."""
    parts = _userinfo(url)
    return parts[1] if parts and parts[1] else None


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
class S3Settings:
    """An S3-compatible bucket for hosted images (AWS, MinIO, R2, ...)."""

    bucket: str
    region: str | None = None
    endpoint_url: str | None = None
    public_url: str | None = None
    """Where the bucket's objects are served from, if not the endpoint's /{bucket}/{key}."""
    prefix: str = "feedbot/"
    access_key_id: str | None = None
    secret_access_key: str | None = None


@dataclass(frozen=True)
class ImageSettings:
    image_host: str | None = None
    fit: str = "pad"
    pad: str = "blur"
    title_card: bool = False
    brand_name: str = ""
    brand_color: tuple[int, int, int] = (17, 24, 39)
    brand_text_color: tuple[int, int, int] = (255, 255, 255)
    brand_dir: Path | None = None
    s3: S3Settings | None = None
    public_url: str | None = None
