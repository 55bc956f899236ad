"""X's error map: the one translation from tweepy and requests failures to the bot's error tree.

X answers with RFC 7807 problems (`type`, `title`, `detail`) and sometimes a v1.1-style `errors`
list; the HTTP status decides the kind, the problem's type refines it (usage caps, missing
permissions, a plan that cannot read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import tweepy

from bot.errors import (
    AlreadyPublished,
    AuthError,
    NetworkError,
    PublishError,
    RateLimited,
    Rejected,
    Transient,
)
from bot.netfail import classify, describe
from bot.platforms.twitter import PLATFORM as SPEC

PLATFORM = SPEC.name
USAGE_CAP_PAUSE = 24 * 3600.0
"""How long to stop after a usage-cap 429: caps are monthly or per credit balance, so the
15-minute x-rate-limit-reset says nothing about them; a day keeps us from hammering."""


def _problem(response: requests.Response | None) -> dict[str, Any]:
    if response is None:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(problem: Mapping[str, Any], fallback: str) -> str:
    errors = problem.get("errors")
    details = [
        str(e.get("message")) for e in errors or [] if isinstance(e, dict) and e.get("message")
    ]
    main = problem.get("detail") or problem.get("title")
    parts = [str(main)] if main else []
    parts += [d for d in details if d not in parts]
    return "; ".join(parts) or fallback


def _unreachable(exc: requests.exceptions.RequestException, kind: str) -> NetworkError:
    """The X API's host was not reached: name it (from the request) and the kind of failure."""
    request = getattr(exc, "request", None)
    host = urlsplit(getattr(request, "url", None) or "").netloc or "the X API"
    detail = type(exc).__name__ if kind in ("tls", "other") else ""
    return NetworkError(PLATFORM, describe(kind, host, detail), host=host, kind=kind)


def map_x_error(
    exc: Exception, *, now: float, variable: str = ", ".join(SPEC.section.auth_variables)
) -> PublishError:
    """The one translation table from tweepy/requests failures to the bot's error tree."""
    if isinstance(exc, requests.exceptions.Timeout):
        return _unreachable(exc, "timeout")
    if isinstance(exc, requests.exceptions.InvalidURL):
        return Rejected(PLATFORM, str(exc))
    if (
        isinstance(exc, ValueError | KeyError | TypeError | AttributeError)
        and not isinstance(exc, requests.exceptions.RequestException)
    ) or isinstance(exc, requests.exceptions.JSONDecodeError):
        # a 2xx answer that is not the JSON we expect: the request may have worked
        return Transient(PLATFORM, f"the X API sent an unreadable answer: {exc!r}")
    if isinstance(exc, requests.exceptions.RequestException) and not isinstance(
        exc, requests.exceptions.HTTPError
    ):
        return _unreachable(exc, classify(exc))
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", 0) or 0
    problem = _problem(response)
    message = _message(problem, f"HTTP {status}")
    kind = str(problem.get("type", ""))
    code = str(status)
    if status == 429:
        if problem.get("title") == "UsageCapExceeded" or kind.endswith("/usage-capped"):
            return RateLimited(
                PLATFORM, message, retry_after=USAGE_CAP_PAUSE, long_pause=True, code=code
            )
        reset = getattr(exc, "reset_time", None) or _int(response, "x-rate-limit-reset")
        retry_after = max(1.0, reset - now) if reset else None
        return RateLimited(PLATFORM, message, retry_after=retry_after, code=code)
    if status == 401:
        return AuthError(PLATFORM, message, variable=variable, code=code)
    if status == 403:
        if "duplicate content" in message.lower():
            return AlreadyPublished(PLATFORM, message, code=code)
        if kind.endswith(("/oauth1-permissions", "/client-not-enrolled")):
            return AuthError(PLATFORM, message, variable=variable, code=code)
        if kind.endswith("/usage-capped"):
            return RateLimited(
                PLATFORM, message, retry_after=USAGE_CAP_PAUSE, long_pause=True, code=code
            )
        return Rejected(PLATFORM, message, code=code)
    if status >= 500:
        return Transient(PLATFORM, message, code=code)
    if isinstance(exc, tweepy.errors.TweepyException) and not status:
        return Transient(PLATFORM, str(exc))
    return Rejected(PLATFORM, message, code=code)


def _int(response: requests.Response | None, header: str) -> int | None:
    value = response.headers.get(header, "") if response is not None else ""
    return int(value) if value.isdigit() else None
