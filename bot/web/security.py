"""Who may use the web face: the password, the signed session cookie, CSRF tokens, login
throttling and the security headers every answer carries.

The session is a cookie signed with a key kept in the store (so every web process sharing the
database accepts it and a restart logs nobody out) and bound to WEB_PASSWORD: changing the
password signs everybody out. It carries a random CSRF token that every form echoes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.settings_web import WebSettings

COOKIE = "feedbot_session"
SESSION_SECONDS = 12 * 3600
KEY_META = "web_session_key"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
"""No inline script or style anywhere: htmx is a static file and its inline indicator style is
switched off in the page's htmx-config."""


def security_headers(https: bool) -> list[tuple[bytes, bytes]]:
    headers = {
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
        "cross-origin-opener-policy": "same-origin",
    }
    if https:
        headers["strict-transport-security"] = "max-age=31536000"
    return [(k.encode(), v.encode()) for k, v in headers.items()]


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP answer, and no caching of pages."""

    def __init__(self, app: Any, https: bool) -> None:
        self.app = app
        self.headers = security_headers(https)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in self.headers if h[0] not in names]
                if not static and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class Session:
    csrf: str
    authenticated: bool = False
    fresh: bool = False
    """Made for this request (no valid cookie came): the answer must set it."""


class Sessions:
    """Signs and reads the session cookie."""

    def __init__(self, key: bytes, web: WebSettings) -> None:
        password = web.password.reveal() if web.password else ""
        bound = hmac.new(key, password.encode(), hashlib.sha256).digest()
        self.serializer = URLSafeTimedSerializer(bound, salt="feedbot-session")
        self.secure = web.https
        self.open_access = web.password is None
        """No WEB_PASSWORD: only allowed on loopback, where no login is asked."""

    def load(self, cookie: str | None) -> Session:
        if cookie:
            try:
                data = self.serializer.loads(cookie, max_age=SESSION_SECONDS)
            except BadSignature:
                data = None
            if isinstance(data, dict) and isinstance(data.get("csrf"), str):
                authed = bool(data.get("auth")) or self.open_access
                return Session(data["csrf"], authed)
        return Session(secrets.token_urlsafe(32), self.open_access, fresh=True)

    def new(self, authenticated: bool) -> Session:
        """A new session (and CSRF token) at each login: a planted cookie is never promoted."""
        return Session(secrets.token_urlsafe(32), authenticated, fresh=True)

    def dump(self, session: Session) -> str:
        return self.serializer.dumps({"csrf": session.csrf, "auth": session.authenticated})

    def cookie_args(self) -> dict[str, Any]:
        return {
            "key": COOKIE,
            "max_age": SESSION_SECONDS,
            "path": "/",
            "httponly": True,
            "samesite": "strict",
            "secure": self.secure,
        }


def session_key(
    get_meta: Callable[[str], str | None], set_meta: Callable[[str, str], None]
) -> bytes:
    """The signing key, made once and kept in the store's meta table."""
    value = get_meta(KEY_META)
    if not value:
        set_meta(KEY_META, secrets.token_hex(32))
        value = get_meta(KEY_META) or ""
    return bytes.fromhex(value)


def password_matches(web: WebSettings, given: str) -> bool:
    if web.password is None:
        return False
    want = hashlib.sha256(web.password.reveal().encode()).digest()
    got = hashlib.sha256(given.encode()).digest()
    return hmac.compare_digest(want, got)


def csrf_matches(session: Session, given: str | None) -> bool:
    return bool(given) and not session.fresh and hmac.compare_digest(session.csrf, given or "")


@dataclass
class LoginThrottle:
    """At most `per_client` failed logins per client address, and `overall` in all, within
    `window` seconds; past that, logins are refused without checking the password."""

    clock: Callable[[], float]
    per_client: int = 5
    overall: int = 50
    window: float = 900.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _all: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _trim(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.window:
            times.popleft()

    def retry_after(self, client: str) -> float | None:
        """Seconds until `client` may try again, or None when it may try now."""
        now = self.clock()
        with self._lock:
            mine = self._failures.get(client, deque())
            self._trim(mine, now)
            self._trim(self._all, now)
            waits = []
            if len(mine) >= self.per_client:
                waits.append(mine[0] + self.window - now)
            if len(self._all) >= self.overall:
                waits.append(self._all[0] + self.window - now)
            return max(1.0, max(waits)) if waits else None

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            self._failures.setdefault(client, deque()).append(now)
            self._all.append(now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
