"""The Threads wire client: Meta's Graph conventions on graph.threads.net, plus Threads' codes.

Threads answers errors in the Graph shape, so the shared table of `bot.platforms.graph` reads
them (190 token, throttling codes, 100 invalid parameter...); the codes only Threads uses are
read first, here. The token travels in the POST form or the Authorization header, never in a
URL, except for `refresh_access_token`, which Meta documents as a GET taking it as a query
parameter (that one URL is never logged by the bot).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from bot.errors import AuthError, NotReady, PublishError, RateLimited, Rejected, Transient
from bot.platforms.base import CONTAINER_RECHECK
from bot.platforms.graph import HOUR, GraphApi, Rule, map_graph_error
from bot.settings_values import Secret

PLATFORM = "threads"

SUBCODE_RULES: dict[int, Rule] = {
    # threads_publish too soon after creation, even when the container reads FINISHED: the
    # same container is published at the next tick, never a second one made.
    4279009: Rule(NotReady, prefix="the container is not ready to publish yet"),
    2207042: Rule(RateLimited, retry_after=HOUR),  # publishing quota (Graph's reading)
    463: Rule(AuthError, prefix="the Threads token has expired"),
    467: Rule(AuthError, prefix="the Threads token is no longer valid"),
}
"""Threads `error_subcode` -> handling, read before the shared Graph table (networks.md 1.6)."""

MESSAGE_RULES: dict[str, Rule] = {
    "THREADS_API__LINK_LIMIT_EXCEEDED": Rule(Rejected, prefix="more than 5 links"),
}
"""Threads errors known by name rather than number (the name is in the message)."""


@dataclass(frozen=True, slots=True)
class Refreshed:
    """A long-lived token given again 60 days: the token and when it ends (epoch seconds)."""

    token: str
    expires_at: float


class ThreadsApi(GraphApi):
    """One request per call; every failure already in the error tree."""

    def __init__(
        self, *, base_url: str, version: str, token: Secret, variable: str, http: httpx.Client
    ) -> None:
        super().__init__(
            platform=PLATFORM,
            base_url=base_url,
            version=version,
            token=token,
            variable=variable,
            http=http,
        )
        self.base_url = base_url.rstrip("/")

    def error_for(self, status: int, payload: Any, headers: Mapping[str, str]) -> PublishError:
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or error.get("error_user_msg") or "")
            rule = next((r for name, r in MESSAGE_RULES.items() if name in message), None)
            subcode = _int(error.get("error_subcode"))
            if rule is None and subcode is not None:
                rule = SUBCODE_RULES.get(subcode)
            if rule is not None:
                return _apply(rule, message, error, headers, self.variable)
        return map_graph_error(PLATFORM, status, payload, headers, self.variable)

    def refresh_token(self, now: float) -> Refreshed:
        """`GET /refresh_access_token?grant_type=th_refresh_token`: the long-lived token for
        60 more days (Meta refuses a token younger than a day or already expired)."""
        url = f"{self.base_url}/refresh_access_token"
        params = {"grant_type": "th_refresh_token", "access_token": self._token.reveal()}
        try:
            response = self.http.get(url, params=params)
        except httpx.HTTPError as exc:
            raise Transient(PLATFORM, f"token refresh failed: {type(exc).__name__}") from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 400 or not isinstance(payload, dict) or "error" in payload:
            raise self.error_for(response.status_code, payload, response.headers)
        token = payload.get("access_token")
        expires_in = _int(payload.get("expires_in"))
        if not token or expires_in is None:
            raise Transient(PLATFORM, "the token refresh answered without a token or expiry")
        return Refreshed(str(token), now + expires_in)


def _apply(
    rule: Rule, message: str, error: Mapping[str, Any], headers: Mapping[str, str], variable: str
) -> PublishError:
    code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))
    code_text = f"{code}/{subcode}" if subcode is not None else str(code)
    text = f"{rule.prefix}: {message}" if rule.prefix else message
    if rule.kind is RateLimited:
        return RateLimited(PLATFORM, text, retry_after=rule.retry_after, code=code_text)
    if rule.kind is AuthError:
        return AuthError(PLATFORM, text, variable=variable, code=code_text)
    if rule.kind is NotReady:  # the same container is published at the next poll or tick
        return NotReady(PLATFORM, text, retry_after=CONTAINER_RECHECK, code=code_text)
    return rule.kind(PLATFORM, text, code=code_text)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
