"""The Graph API edge shared by the Facebook Page and Instagram adapters.

Graph answers almost every failure with HTTP 400 and puts the meaning in `error.code` and
`error.error_subcode`, so the translation into `bot.errors` lives here, in ONE table keyed by
those numbers (subcode first, then code), and nowhere else. The HTTP status only decides the
fallback for codes the table does not know (5xx: Transient, otherwise Rejected).

The access token is sent in the POST form body or the Authorization header, never in a URL:
URLs end up in proxy logs, tracebacks and httpx's own log lines.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.errors import (
    AlreadyPublished,
    AuthError,
    NetworkError,
    PublishError,
    RateLimited,
    Rejected,
    Transient,
    Unsuitable,
)
from bot.models import TokenInfo
from bot.netfail import classify, describe
from bot.settings_values import Secret

log = logging.getLogger(__name__)

MINUTE = 60.0
FIND_PAGES = 20  # 20 pages of 100: the posts of a very busy day, a bounded cost
HOUR = 3600.0
USAGE_WARNING_PERCENT = 90


@dataclass(frozen=True, slots=True)
class Rule:
    """How one Graph code or subcode is handled; `retry_after` is the fallback estimate."""

    kind: type[PublishError]
    retry_after: float | None = None
    long_pause: bool = False
    prefix: str = ""
    """Words put before the platform's message when its text alone would be cryptic."""


_THROTTLE = Rule(RateLimited, retry_after=15 * MINUTE)

CODE_RULES: dict[int, Rule] = {
    1: Rule(Transient),  # unknown / service error
    2: Rule(Transient),  # service temporarily unavailable
    4: _THROTTLE,  # app-level throttling
    17: _THROTTLE,  # user-level throttling
    32: _THROTTLE,  # Page-level throttling
    613: _THROTTLE,  # custom rate limit
    341: Rule(RateLimited, retry_after=4 * HOUR, long_pause=True),  # application limit reached
    368: Rule(RateLimited, retry_after=24 * HOUR, long_pause=True),  # blocked for going too fast
    9: Rule(RateLimited, retry_after=HOUR),  # Instagram: publishing quota (with 2207042)
    190: Rule(AuthError),  # token invalid or expired
    10: Rule(AuthError),  # permission denied
    **{code: Rule(AuthError) for code in range(200, 300)},  # permission missing
    506: Rule(AlreadyPublished),  # duplicate status message
    100: Rule(Rejected),  # invalid parameter
    1609005: Rule(Rejected, prefix="the link could not be posted"),
    **{code: _THROTTLE for code in (*range(80000, 80010), 80014)},  # Business Use Case limits
    9004: Rule(Unsuitable, prefix="image could not be fetched"),
    9007: Rule(Transient, prefix="media not ready"),
    24: Rule(Transient, prefix="container not found or expired"),
    25: Rule(AuthError, prefix="the Instagram account is restricted"),
    36000: Rule(Unsuitable, prefix="image too large"),
}
"""Graph `error.code` -> handling (developers.facebook.com error-handling, platform-apis.md B.4)."""

SUBCODE_RULES: dict[int, Rule] = {
    2207001: Rule(Transient),  # Instagram server error
    2207003: Rule(Transient),  # media download timed out
    2207032: Rule(Transient),  # container creation failed
    2207020: Rule(Transient, prefix="container expired"),  # create a new one
    2207008: Rule(Transient, prefix="container not found or expired"),
    2207053: Rule(Transient),  # unknown upload error
    2207042: Rule(RateLimited, retry_after=HOUR),  # daily publishing limit reached
    2207051: Rule(RateLimited, retry_after=24 * HOUR, long_pause=True),  # restricted as spam
    2207052: Rule(Unsuitable, prefix="image could not be fetched"),
    2207027: Rule(Transient, prefix="media not ready"),
    2207004: Rule(Unsuitable, prefix="image too large"),
    2207005: Rule(Unsuitable, prefix="unsupported image format"),
    2207009: Rule(Unsuitable, prefix="unsupported aspect ratio"),
    2207010: Rule(Rejected, prefix="caption too long"),
    2207050: Rule(AuthError, prefix="the Instagram account is inactive or restricted"),
}
"""Instagram `error_subcode` -> handling (platform-apis.md C.4); checked before the code."""


def rule_for(code: int | None, subcode: int | None) -> Rule | None:
    """The table lookup: the subcode is more specific than the code, so it wins."""
    if subcode is not None and subcode in SUBCODE_RULES:
        return SUBCODE_RULES[subcode]
    if code is not None:
        return CODE_RULES.get(code)
    return None


def usage_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds until Meta lets us back in, from X-Business-Use-Case-Usage (in minutes)."""
    raw = headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
        minutes = [
            float(entry.get("estimated_time_to_regain_access") or 0)
            for entries in usage.values()
            for entry in entries
        ]
    except (ValueError, TypeError, AttributeError):
        return None
    longest = max(minutes, default=0.0)
    return longest * MINUTE if longest > 0 else None


def usage_peak(headers: Mapping[str, str]) -> float:
    """The highest usage percentage any Graph usage header reports (0 when none)."""
    values: list[float] = []
    for name in ("x-app-usage", "x-page-usage", "x-business-use-case-usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        entries = [data] if name != "x-business-use-case-usage" else _flatten(data)
        for entry in entries:
            for key in ("call_count", "total_cputime", "total_time"):
                value = entry.get(key) if isinstance(entry, dict) else None
                if isinstance(value, int | float):
                    values.append(float(value))
    return max(values, default=0.0)


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, dict):
        return []
    return [entry for entries in data.values() if isinstance(entries, list) for entry in entries]


def map_graph_error(
    platform: str,
    status: int,
    payload: Any,
    headers: Mapping[str, str],
    variable: str,
) -> PublishError:
    """Translate one failed Graph response into the bot's error tree."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        text = f"unexpected HTTP {status} answer without a Graph error"
        return Transient(platform, text) if status >= 500 else Rejected(platform, text)
    code = _int(error.get("code"))
    subcode = _int(error.get("error_subcode"))
    message = str(error.get("message") or error.get("error_user_msg") or f"error {code}")
    code_text = f"{code}/{subcode}" if subcode is not None else str(code)
    rule = rule_for(code, subcode)
    if rule is None:
        transient = status >= 500 or error.get("is_transient") is True
        return (Transient if transient else Rejected)(platform, message, code=code_text)
    if rule.prefix:
        message = f"{rule.prefix}: {message}"
    if rule.kind is RateLimited:
        retry_after = usage_retry_after(headers) or rule.retry_after
        return RateLimited(
            platform, message, retry_after=retry_after, long_pause=rule.long_pause, code=code_text
        )
    if rule.kind is AuthError:
        return AuthError(platform, message, variable=variable, code=code_text)
    return rule.kind(platform, message, code=code_text)


def _epoch_or_never(value: Any) -> float | None:
    """Graph's expiry times: epoch seconds, where 0 (or nothing) means never."""
    number = _int(value)
    return float(number) if number else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class GraphApi:
    """A thin Graph client: one request per call, every failure already in the error tree."""

    def __init__(
        self,
        *,
        platform: str,
        base_url: str,
        version: str,
        token: Secret,
        variable: str,
        http: httpx.Client,
    ) -> None:
        self.platform = platform
        self.root = f"{base_url.rstrip('/')}/{version}"
        self._token = token
        self.variable = variable
        self.http = http

    def field(self, answer: dict[str, Any], name: str) -> str:
        """A field the answer must have; a 2xx without it is a broken answer, not a success."""
        value = answer.get(name)
        if value in (None, ""):
            raise Transient(self.platform, f"the Graph API answered without {name!r}")
        return str(value)

    def items(self, answer: dict[str, Any]) -> list[dict[str, Any]]:
        """The `data` list of a listing; a listing without one must not read as "not found"."""
        data = answer.get("data")
        if not isinstance(data, list):
            raise Transient(self.platform, "the Graph API answered a listing without 'data'")
        return [item for item in data if isinstance(item, dict)]

    def listing(
        self, path: str, params: Mapping[str, str | int], *, max_pages: int = FIND_PAGES
    ) -> Iterator[dict[str, Any]]:
        """Every item of a listing, page after page (`paging.cursors.after` while `paging.next`
        exists): a busy Page can have made more posts since an interrupted attempt than one
        page holds, and a post missed there would be posted twice."""
        query = dict(params)
        for _ in range(max_pages):
            answer = self.get(path, query)
            yield from self.items(answer)
            paging = answer.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return
            query["after"] = after

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        """GET with the token in the Authorization header (a GET has no body to carry it)."""
        headers = {"Authorization": f"Bearer {self._token.reveal()}"}
        return self._send("GET", path, params=dict(params or {}), headers=headers)

    def post(self, path: str, data: Mapping[str, str]) -> dict[str, Any]:
        """POST a form with the token as the `access_token` field, the documented place."""
        form = {**data, "access_token": self._token.reveal()}
        return self._send("POST", path, data=form)

    def upload(
        self, path: str, data: Mapping[str, str], name: str, file: tuple[str, bytes, str]
    ) -> dict[str, Any]:
        """POST multipart/form-data with one file (a photo's `source`), the token as a field."""
        form = {**data, "access_token": self._token.reveal()}
        return self._send("POST", path, data=form, files={name: file})

    def _unreachable(
        self, kind: str, request: str, exc: BaseException | None = None
    ) -> NetworkError:
        host = urlsplit(self.root).netloc
        detail = type(exc).__name__ if exc is not None and kind in ("tls", "other") else ""
        return NetworkError(
            self.platform, f"{request}: {describe(kind, host, detail)}", host=host, kind=kind
        )

    def debug_token(self) -> TokenInfo:
        """What the token is and until when: `GET /debug_token` with the token inspecting
        itself (input_token and access_token both the token; no app secret is needed)."""
        token = self._token.reveal()
        answer = self._send(
            "GET", "debug_token", params={"input_token": token, "access_token": token}
        )
        data = answer.get("data")
        if not isinstance(data, dict):
            raise Transient(self.platform, "the Graph API answered debug_token without 'data'")
        scopes = data.get("scopes")
        return TokenInfo(
            platform=self.platform,
            variable=self.variable,
            is_valid=data.get("is_valid") is not False,
            type=str(data["type"]) if data.get("type") else None,
            scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
            expires_at=_epoch_or_never(data.get("expires_at")),
            data_access_expires_at=_epoch_or_never(data.get("data_access_expires_at")),
        )

    def delete(self, path: str) -> dict[str, Any]:
        """DELETE an object (an unpublished photo we hosted), the token in the header."""
        headers = {"Authorization": f"Bearer {self._token.reveal()}"}
        return self._send("DELETE", path, headers=headers)

    def error_for(self, status: int, payload: Any, headers: Mapping[str, str]) -> PublishError:
        """The error tree's reading of one failed answer; a Graph-based API with codes of its
        own (Threads) puts its rules before the shared table here."""
        return map_graph_error(self.platform, status, payload, headers, self.variable)

    def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = f"{self.root}/{path.lstrip('/')}"
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise self._unreachable("timeout", f"{method} /{path}") from None
        except httpx.TransportError as exc:
            raise self._unreachable(classify(exc), f"{method} /{path}", exc) from None
        except httpx.HTTPError as exc:
            reason = f"{method} /{path} failed: {type(exc).__name__}"
            raise Transient(self.platform, reason) from None
        peak = usage_peak(response.headers)
        if peak >= USAGE_WARNING_PERCENT:
            log.warning("%s: Graph API usage at %.0f%% of the limit", self.platform, peak)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 400 or (isinstance(payload, dict) and "error" in payload):
            raise self.error_for(response.status_code, payload, response.headers)
        if not isinstance(payload, dict):
            raise Transient(
                self.platform, f"{method} /{path} answered HTTP {response.status_code} without JSON"
            )
        return payload
