"""Mastodon's failures translated into the bot's error tree: one table, here only.

Mastodon answers `{"error": "..."}` (plus `error_description` on OAuth endpoints); the HTTP
status carries the meaning. Two 422s are not the post's fault: media the instance has not
finished processing ("Try again in a moment"), and a 503 is the instance's own trouble (or two
requests racing on one Idempotency-Key). Rate limits carry X-RateLimit-Reset as an ISO 8601
time, not epoch seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.errors import AuthError, PublishError, RateLimited, Rejected, Transient

PLATFORM = "mastodon"
TOKEN_VARIABLE = "MASTODON_ACCESS_TOKEN"


@dataclass(frozen=True, slots=True)
class Row:
    """One documented failure: the status (and words) it comes with, and what it means here."""

    status: int
    kind: type[PublishError]
    words: str = ""
    """Lower-case words in the error text that single this row out among rows of one status."""
    hint: str = ""


ROWS: tuple[Row, ...] = (
    Row(401, AuthError, hint="check MASTODON_ACCESS_TOKEN (revoked, or made on another "
        "instance than MASTODON_BASE_URL?)"),
    Row(403, AuthError, hint="the token lacks a scope or the account is limited; create a token "
        "with write:statuses write:media read:accounts read:statuses"),
    Row(404, Rejected, hint="check MASTODON_BASE_URL (scheme and host of the instance only)"),
    Row(410, AuthError, hint="the account is gone from the instance"),
    Row(413, Rejected),
    Row(422, Transient, words="finished processing"),
    Row(422, Rejected),
    Row(429, RateLimited),
    Row(500, Transient),
    Row(502, Transient),
    Row(503, Transient),
    Row(504, Transient),
)  # fmt: skip
"""mastodon/documentation entities/Error.md, methods/statuses.md, api/rate-limits.md."""


def _text(payload: Any) -> str:
    if isinstance(payload, dict):
        parts = [str(payload.get(k) or "") for k in ("error", "error_description")]
        return "; ".join(p for p in parts if p)
    return ""


def reset_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until X-RateLimit-Reset (ISO 8601, e.g. 2026-12-05T10:15:00.000000Z)."""
    raw = headers.get("x-ratelimit-reset", "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return max(1.0, moment.timestamp() - now)


def map_error(status: int, payload: Any, headers: Mapping[str, str], now: float) -> PublishError:
    """One failed answer as the bot's error, with the instance's own words in it."""
    message = _text(payload) or f"HTTP {status}"
    code = str(status)
    row = next(
        (r for r in ROWS if r.status == status and r.words in message.lower()),
        None,
    )
    if status == 429:
        return RateLimited(PLATFORM, message, retry_after=reset_seconds(headers, now), code=code)
    kind: type[PublishError]
    if row is not None:
        kind = row.kind
        if row.hint:
            message = f"{message}; {row.hint}"
    else:
        kind = Transient if status >= 500 else Rejected
    if kind is AuthError:
        return AuthError(PLATFORM, message, variable=TOKEN_VARIABLE, code=code)
    return kind(PLATFORM, message, code=code)
