"""The demo's network: none at all. Each HTTP request is refused here, before any DNS look-up or
connection, and the refusal says why, so the log tells what the demo skipped."""

from __future__ import annotations

import httpx

SKIPPED = "skipped: the demo makes no network request"


class NotSent(httpx.TransportError):
    """Raised for every request: callers treat it as the page or image being unavailable."""


class OfflineTransport(httpx.BaseTransport):
    """An httpx transport that sends nothing; `refused` counts what was asked, for tests."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.refused.append(f"{request.method} {request.url}")
        raise NotSent(SKIPPED, request=request)
