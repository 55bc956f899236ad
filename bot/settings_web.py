"""The web face's settings (WEB_*, PORT, PUBLIC_URL, METRICS_TOKEN, APPROVAL*): parsed once, here.

Kept apart from bot/settings.py so the web face's variables live in one place; `load_settings`
calls `parse_web` with the same merged mapping it reads everything else from.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from bot.errors import ConfigError
from bot.platforms import registry
from bot.settings_values import (
    Secret,
    parse_choice,
    parse_duration,
    parse_int,
    parse_platforms,
    parse_url,
)

T = TypeVar("T")
DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True)
class WebSettings:
    """Serving, security, metrics and approval: everything the web face reads."""

    port: int | None = None
    """WEB_PORT, else Heroku's PORT; None: `run` serves nothing."""
    host: str = DEFAULT_HOST
    password: Secret | None = None
    public_url: str | None = None
    """Where the world reaches the web face (https://bot.example.com): WebSub callbacks and
    the Secure flag of the session cookie come from it."""
    metrics_token: Secret | None = None
    approval: tuple[str, ...] = ()
    """Platforms whose new deliveries wait as pending_approval."""
    approval_timeout: float | None = None
    approval_default: str = "skip"
    port_variable: str = "WEB_PORT"
    trusted_proxies: tuple[str, ...] = (DEFAULT_HOST,)
    """FORWARDED_ALLOW_IPS: the proxies whose X-Forwarded-For and X-Forwarded-Proto are
    believed, so the login throttle counts each client behind them apart (else they would all
    share the proxy's one bucket, and five wrong passwords would lock everyone out)."""

    @property
    def https(self) -> bool:
        return bool(self.public_url and self.public_url.startswith("https://"))

    @property
    def loopback_only(self) -> bool:
        return is_loopback(self.host)

    def needs_approval(self, platform: str) -> bool:
        return platform in self.approval

    def secrets(self) -> list[str]:
        return [s.reveal() for s in (self.password, self.metrics_token) if s]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _port(name: str, raw: str) -> int:
    return parse_int(name, raw, minimum=1, maximum=65535)


def _host(name: str, raw: str) -> str:
    value = raw.strip()
    if not value or any(c.isspace() or c in "/?#@" for c in value):
        raise ConfigError(
            f"{name}={raw!r} is not a host to listen on; use e.g. 127.0.0.1 or 0.0.0.0", name
        )
    return value


def _public_url(name: str, raw: str) -> str:
    value = parse_url(name, raw)
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise ConfigError(
            f"{name}={raw!r} must be a plain address (no ?query or #fragment); "
            "use e.g. https://bot.example.com",
            name,
        )
    return value


def _approval(name: str, raw: str) -> tuple[str, ...]:
    if raw.strip().lower() == "all":
        return registry.names()
    return parse_platforms(name, raw, registry.names())


def _trusted_proxies(name: str, raw: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in raw.split(",") if v.strip())
    if values == ("*",):
        return values
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ConfigError(
                f"{name}: {value!r} is not an IP address or network; list the reverse "
                "proxy's addresses, e.g. 127.0.0.1,10.0.0.0/8 (or * when only the proxy can "
                "reach the web face)",
                name,
            ) from None
    return values or (DEFAULT_HOST,)


def parse_web(get: Callable[[str], str | None]) -> WebSettings:
    """Build WebSettings from `get(name)` (the raw value, None when unset or blank)."""

    def read(name: str, parse: Callable[[str, str], T], default: T) -> T:
        raw = get(name)
        return default if raw is None else parse(name, raw)

    heroku_port = get("PORT")  # always asked: both may be set, WEB_PORT wins
    port_variable = "WEB_PORT" if get("WEB_PORT") is not None or heroku_port is None else "PORT"
    port = read(port_variable, _port, None)
    host = read("WEB_HOST", _host, DEFAULT_HOST)
    password = get("WEB_PASSWORD")
    token = get("METRICS_TOKEN")
    timeout = read("APPROVAL_TIMEOUT", parse_duration, None)
    default = read(
        "APPROVAL_DEFAULT", lambda n, v: parse_choice(n, v.lower(), ("post", "skip")), "skip"
    )
    web = WebSettings(
        port=port,
        host=host,
        password=Secret(password) if password else None,
        public_url=read("PUBLIC_URL", _public_url, None),
        metrics_token=Secret(token.strip()) if token else None,
        approval=read("APPROVAL", _approval, ()),
        approval_timeout=timeout,
        approval_default=default,
        port_variable=port_variable,
        trusted_proxies=read("FORWARDED_ALLOW_IPS", _trusted_proxies, (DEFAULT_HOST,)),
    )
    if web.password is not None and len(web.password.reveal()) < 8:
        raise ConfigError(
            "WEB_PASSWORD is shorter than 8 characters; choose a longer one "
            "(e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe())')",
            "WEB_PASSWORD",
        )
    return web


def require_password(web: WebSettings, host: str | None = None) -> None:
    """Refuse to listen beyond loopback without WEB_PASSWORD (exit 2 at start)."""
    where = host or web.host
    if not is_loopback(where) and not web.password:
        raise ConfigError(
            f"WEB_HOST={where} listens beyond this machine but WEB_PASSWORD is not set; "
            "set WEB_PASSWORD (8 characters or more), or listen on WEB_HOST=127.0.0.1",
            "WEB_PASSWORD",
        )
