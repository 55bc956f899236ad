"""The LinkedIn wire client: the versioned REST API (`/rest/...`) and its error map.

Every call carries the Bearer token, `LinkedIn-Version` and `X-Restli-Protocol-Version: 2.0.0`;
URNs are URL-encoded in paths and queries. LinkedIn answers errors as
`{"status", "serviceErrorCode", "code", "message"}`, or for input problems with
`errorDetails.inputErrors[].code`; the translation into `bot.errors` is ERROR_MAP, in one place.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

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
from bot.platforms.linkedin.settings import API_VERSION, TOKEN, LinkedInSettings

PLATFORM = "linkedin"
_DUPLICATE_URN = re.compile(r"urn:li:(?:share|ugcPost):\d+")

ERROR_MAP: dict[str, tuple[type[PublishError], str]] = {
    "INVALID_ACCESS_TOKEN": (AuthError, TOKEN),
    "REVOKED_ACCESS_TOKEN": (AuthError, TOKEN),
    "EXPIRED_ACCESS_TOKEN": (AuthError, TOKEN),
    "ACCESS_DENIED": (AuthError, TOKEN),
    "DUPLICATE_POST": (AlreadyPublished, ""),
}
"""LinkedIn's error `code` (or input error code) -> handling; HTTP statuses decide the rest:
401/403 auth, 426 the version, 429 the daily limit, 5xx transient, other 4xx rejected."""


def _next_midnight_utc(now: float) -> float:
    """Seconds until LinkedIn's daily limits reset (midnight UTC)."""
    today = datetime.fromtimestamp(now, UTC).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)
    return max(60.0, midnight.timestamp() - now)


def map_error(status: int, payload: Any, headers: Mapping[str, str], now: float) -> PublishError:
    """One failed LinkedIn answer in the bot's error tree."""
    body = payload if isinstance(payload, dict) else {}
    message = str(body.get("message") or f"HTTP {status}")
    codes = [str(body.get("code") or "")]
    inputs = ((body.get("errorDetails") or {}).get("inputErrors")) or []
    codes += [str(e.get("code") or "") for e in inputs if isinstance(e, dict)]
    service = body.get("serviceErrorCode")
    code_text = str(service) if service is not None else next((c for c in codes if c), None)
    for code in codes:
        if code in ERROR_MAP:
            kind, variable = ERROR_MAP[code]
            if kind is AlreadyPublished:
                found = _DUPLICATE_URN.search(message)
                urn = found.group(0) if found else None
                return AlreadyPublished(
                    PLATFORM, message, remote_id=urn, remote_url=post_url(urn) if urn else None,
                    code=code,
                )  # fmt: skip
            return AuthError(PLATFORM, message, variable=variable, code=code_text or code)
    if status in (401, 403):
        return AuthError(PLATFORM, message, variable=TOKEN, code=code_text or str(status))
    if status == 426:
        return AuthError(
            PLATFORM,
            f"LinkedIn no longer serves this API version ({message}); set {API_VERSION} "
            "to a current month (YYYYMM)",
            variable=API_VERSION,
            code="426",
        )
    if status == 429:
        retry = headers.get("retry-after")
        delay = float(retry) if retry and retry.isdigit() else _next_midnight_utc(now)
        return RateLimited(PLATFORM, message, retry_after=delay, code=code_text or "429")
    if status >= 500 or status == 408:
        return Transient(PLATFORM, message, code=code_text or str(status))
    return Rejected(PLATFORM, message, code=code_text or str(status))


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


def urn_path(urn: str) -> str:
    return quote(urn, safe="")


class LinkedInApi:
    """One request per call; every failure already in the error tree."""

    def __init__(
        self,
        settings: LinkedInSettings,
        http: httpx.Client,
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.root = f"{settings.base_url.rstrip('/')}/rest"
        self.version = settings.version
        self._token = settings.access_token
        self.http = http
        self.wall = wall

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token.reveal()}",
            "LinkedIn-Version": self.version,
            "X-Restli-Protocol-Version": "2.0.0",
        }

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        return self._json(self.send("GET", path, params=dict(params or {})), f"GET /rest/{path}")

    def post(self, path: str, body: Mapping[str, Any], **params: str) -> httpx.Response:
        """POST JSON; the answer as it came (a created post has an empty body and its id in
        the x-restli-id header)."""
        return self.send("POST", path, json=dict(body), params=params or None)

    def put_upload(self, url: str, data: bytes, content_type: str) -> None:
        """The image bytes to the upload URL LinkedIn gave, in one PUT with the same token."""
        headers = {"Authorization": f"Bearer {self._token.reveal()}", "Content-Type": content_type}
        self._request("PUT", url, f"PUT {urlsplit(url).path}", content=data, headers=headers)

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"{self.root}/{path.lstrip('/')}"
        return self._request(
            method, url, f"{method} /rest/{path}", headers=self.headers(), **kwargs
        )

    def _request(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise self._unreachable("timeout", what, url) from None
        except httpx.TransportError as exc:
            raise self._unreachable(classify(exc), what, url, exc) from None
        except httpx.HTTPError as exc:
            raise Transient(PLATFORM, f"{what} failed: {type(exc).__name__}") from None
        if response.status_code >= 400:
            try:
                payload = response.json()
            except ValueError:
                payload = None
            raise map_error(response.status_code, payload, response.headers, self.wall())
        return response

    @staticmethod
    def _unreachable(
        kind: str, what: str, url: str, exc: BaseException | None = None
    ) -> NetworkError:
        host = urlsplit(url).netloc
        detail = type(exc).__name__ if exc is not None and kind in ("tls", "other") else ""
        return NetworkError(
            PLATFORM, f"{what}: {describe(kind, host, detail)}", host=host, kind=kind
        )

    @staticmethod
    def _json(response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise Transient(PLATFORM, f"{what} answered HTTP {response.status_code} without JSON")
        return payload
