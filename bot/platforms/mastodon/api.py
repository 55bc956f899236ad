"""The Mastodon REST edge: one request per call, the token in the Authorization header only.

Plain httpx on the bot's shared client. Mastodon.py would first read two instance endpoints
on every client, and by default sleeps out rate limits (`ratelimit_method="wait"`) inside the
call, which an adapter must never do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.errors import NetworkError, Transient
from bot.netfail import classify, describe
from bot.platforms.mastodon.errors import PLATFORM, map_error
from bot.settings_values import Secret


class MastodonApi:
    """One account on one instance. Every failure leaves as a `bot.errors` PublishError."""

    def __init__(
        self,
        *,
        base_url: str,
        token: Secret,
        http: httpx.Client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.http = http
        self.clock = clock

    def send(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """The raw answer (the caller reads statuses like 202 and 206 itself); only a request
        that did not get an answer raises here."""
        sent = dict(headers or {})
        if auth:
            sent["Authorization"] = f"Bearer {self._token.reveal()}"
        url = f"{self.base_url}{path}"
        try:
            return self.http.request(method, url, headers=sent, **kwargs)
        except httpx.TimeoutException:
            raise self._unreachable("timeout", method, path) from None
        except httpx.TransportError as exc:
            raise self._unreachable(classify(exc), method, path, exc) from None
        except httpx.HTTPError as exc:
            raise Transient(PLATFORM, f"{method} {path} failed: {type(exc).__name__}") from None

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON of a successful answer; a failure as the bot's error."""
        return self.answer(method, path, self.send(method, path, **kwargs))

    def answer(self, method: str, path: str, response: httpx.Response) -> Any:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 400:
            raise map_error(response.status_code, payload, response.headers, self.clock())
        if not isinstance(payload, dict | list):
            raise Transient(
                PLATFORM, f"{method} {path} answered HTTP {response.status_code} without JSON"
            )
        return payload

    def _unreachable(
        self, kind: str, method: str, path: str, exc: BaseException | None = None
    ) -> NetworkError:
        host = urlsplit(self.base_url).netloc
        detail = type(exc).__name__ if exc is not None and kind in ("tls", "other") else ""
        message = f"{method} {path}: {describe(kind, host, detail)}"
        return NetworkError(PLATFORM, message, host=host, kind=kind)


def field(answer: Any, name: str) -> str:
    """A field a successful answer must have; a 2xx without it is broken, not a success."""
    value = answer.get(name) if isinstance(answer, dict) else None
    if value in (None, ""):
        raise Transient(PLATFORM, f"the instance answered without {name!r}")
    return str(value)
