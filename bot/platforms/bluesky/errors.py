"""Bluesky's (XRPC) failures translated into the bot's error tree: one table, here only.

XRPC answers `{"error": "<Name>", "message": "..."}`. The name decides where it has one; the
HTTP status decides otherwise (5xx Transient, 4xx Rejected). An expired access token is a 400
`ExpiredToken`, not a 401: the client refreshes the session on it before anything reaches this
table, so here it means the refresh token too was refused (revoked, expired): log in again.
Rate limits carry `RateLimit-Reset` (epoch seconds) and `RateLimit-Policy` ("5000;w=3600").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.errors import AuthError, PublishError, RateLimited, Rejected, Transient

PLATFORM = "bluesky"
CREDENTIALS = ("BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD")
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Row:
    """One documented failure: the answer it comes as, and what the bot makes of it."""

    status: int
    error: str
    kind: type[PublishError]
    hint: str = ""
    """Words after the platform's message naming the fix, where the message alone does not."""


ROWS: tuple[Row, ...] = (
    Row(400, "InvalidRequest", Rejected),
    Row(400, "ExpiredToken", AuthError, "the session could not be renewed; check BLUESKY_HANDLE "
        "and BLUESKY_APP_PASSWORD (an app password revoked in Settings > App passwords?)"),
    Row(400, "InvalidToken", AuthError, "log in again: check BLUESKY_APP_PASSWORD"),
    Row(400, "AccountTakedown", AuthError, "the account is taken down; see bsky.app"),
    Row(401, "AuthenticationRequired", AuthError, "check BLUESKY_HANDLE and "
        "BLUESKY_APP_PASSWORD (an app password from Settings > App passwords)"),
    Row(401, "AuthMissing", AuthError, "check BLUESKY_APP_PASSWORD"),
    Row(400, "InvalidSwap", Rejected),
    Row(400, "BlobTooLarge", Rejected),
    Row(413, "PayloadTooLarge", Rejected),
    Row(429, "RateLimitExceeded", RateLimited),
    Row(500, "InternalServerError", Transient),
    Row(502, "UpstreamFailure", Transient),
    Row(503, "NotEnoughResources", Transient),
    Row(504, "UpstreamTimeout", Transient),
)  # fmt: skip
"""bsky-docs rate-limits.md and the atproto lexicons' errors (networks.md 2.7)."""

_BY_NAME = {row.error: row for row in ROWS}


def error_name(payload: Any) -> str:
    return str(payload.get("error") or "") if isinstance(payload, dict) else ""


def _message(payload: Any, status: int) -> str:
    """ "Name: message" as Bluesky wrote them, else the HTTP status."""
    if isinstance(payload, dict):
        name, text = str(payload.get("error") or ""), str(payload.get("message") or "")
        if name and text:
            return f"{name}: {text}"
        if name or text:
            return name or text
    return f"HTTP {status}"


def retry_after(headers: Mapping[str, str], now: float) -> tuple[float | None, bool]:
    """(seconds to wait, whether it is a long pause) from Retry-After, else RateLimit-Reset;
    a daily policy window (RateLimit-Policy "...;w=86400") is a long pause."""
    wait: float | None = None
    raw = headers.get("retry-after", "").strip()
    if raw.isdigit():
        wait = float(raw)
    reset = headers.get("ratelimit-reset", "").strip()
    if wait is None and reset.isdigit():
        wait = max(1.0, int(reset) - now)
    window = 0
    for part in headers.get("ratelimit-policy", "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key == "w" and value.isdigit():
            window = int(value)
    return wait, window >= DAY


def map_error(status: int, payload: Any, headers: Mapping[str, str], now: float) -> PublishError:
    """One failed XRPC answer as the bot's error, with Bluesky's own words in it."""
    name = error_name(payload)
    message = _message(payload, status)
    row = _BY_NAME.get(name)
    code = f"{status} {name}".strip()
    kind: type[PublishError]
    if status == 429 or (row is not None and row.kind is RateLimited):
        wait, long_pause = retry_after(headers, now)
        return RateLimited(PLATFORM, message, retry_after=wait, long_pause=long_pause, code=code)
    if row is not None:
        kind = row.kind
        if row.hint:
            message = f"{message}; {row.hint}"
    elif status in (401, 403):
        kind = AuthError
        message = f"{message}; check BLUESKY_HANDLE and BLUESKY_APP_PASSWORD"
    elif status >= 500:
        kind = Transient
    else:
        kind = Rejected
    if kind is AuthError:
        return AuthError(PLATFORM, message, variable=CREDENTIALS[1], code=code)
    return kind(PLATFORM, message, code=code)
