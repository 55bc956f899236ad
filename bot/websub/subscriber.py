"""Keeping one WebSub subscription per feed that advertises a hub, with PUBLIC_URL set.

`maintain()` is cheap when nothing is due (one read of the store) and runs after every tick of
the worker: it discovers hubs (a feed's first look, then once a day), subscribes, retries a
request the hub never verified, and renews an active subscription well before its lease lapses.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from bot.net import RefusedRequest
from bot.settings import Settings
from bot.store.feed_state import FeedStore
from bot.store.websub_state import WebSubStore
from bot.websub.discover import discover

log = logging.getLogger("bot.websub")
LEASE_ASKED = 7 * 86400
"""hub.lease_seconds we ask for; the hub decides and tells us when it verifies."""
REDISCOVER = 86400.0
UNVERIFIED_RETRY = 600.0
RENEW_SHARE = 0.2
"""Renew when less than this share of the lease is left (a day of a week's lease)."""
RENEW_FLOOR = 3600.0


def callback_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/websub/{token}"


def check_hub_url(url: str) -> str | None:
    """Why a hub address taken from a feed is refused, or None when it may be contacted."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"hub address {url!r} is not an http(s) URL"
    if parts.username or parts.password:
        return "hub address carries credentials"
    return None


class Subscriber:
    """Discovery, subscription and renewal for every configured feed."""

    def __init__(
        self,
        settings: Settings,
        websub: WebSubStore,
        feeds: FeedStore,
        http: httpx.Client,
        *,
        clock: Callable[[], float] = time.time,
        check_url: Callable[[str], str | None] = check_hub_url,
    ) -> None:
        assert settings.web.public_url, "WebSub needs PUBLIC_URL"
        self.settings = settings
        self.websub = websub
        self.feeds = feeds
        self.http = http
        self.clock = clock
        self.check_url = check_url
        self.public_url = settings.web.public_url

    def maintain(self) -> None:
        """Whatever is due: never raises (one feed's trouble is logged and kept in its row)."""
        now = self.clock()
        known = self.websub.subscriptions()
        polled = {f.url: f for f in self.feeds.feed_rows()}
        for url in self.settings.feed_urls:
            feed = polled.get(url)
            if feed is None or feed.disabled or feed.last_success_at is None:
                continue  # discovery follows the first good poll (and its backlog decision)
            if urlsplit(feed.current_url).scheme not in ("http", "https"):
                continue  # a file has no hub
            sub = known.get(url)
            try:
                if sub is None or (sub.state != "active" and now - sub.checked_at >= REDISCOVER):
                    self._discover_and_subscribe(url, feed.current_url, now)
                elif (
                    sub.state == "requested" and now - (sub.requested_at or 0) >= UNVERIFIED_RETRY
                ) or (
                    sub.state == "active"
                    and self._renewal_due(sub.expires_at, sub.lease_seconds, now)
                ):
                    self._subscribe(
                        url, sub.hub or "", sub.topic or url, now, sub.token, sub.secret
                    )
            except RefusedRequest as exc:  # a hub address from the feed points inside our network
                message = f"hub refused by the network policy: {exc.reason}"
                log.warning("WebSub: " + message, extra={"feed": url})
                self.websub.websub_failed(url, message[:500], now)
            except Exception as exc:  # never let WebSub stop the worker; polling goes on
                log.warning(
                    "WebSub: could not subscribe; polling goes on",
                    extra={"feed": url, "error": f"{type(exc).__name__}: {exc}"},
                )
                with contextlib.suppress(Exception):  # the store itself may be the trouble
                    self.websub.websub_failed(url, f"{type(exc).__name__}: {exc}"[:500], now)

    @staticmethod
    def _renewal_due(expires_at: float | None, lease: float | None, now: float) -> bool:
        if not expires_at:
            return False
        margin = max(RENEW_FLOOR, RENEW_SHARE * (lease or 0))
        return expires_at - now <= margin

    def _discover_and_subscribe(self, url: str, current_url: str, now: float) -> None:
        limit = self.settings.max_feed_bytes
        with self.http.stream("GET", current_url, headers={"Accept": "*/*"}) as response:
            if response.status_code != 200:
                self.websub.websub_failed(url, f"discovery: HTTP {response.status_code}", now)
                return
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    self.websub.websub_failed(url, "discovery: feed over MAX_FEED_BYTES", now)
                    return
            links = response.headers.get_list("link")
            final_url = str(response.url)
        found = discover(final_url, links, bytes(body))
        self.websub.websub_discovered(url, found.hub, found.topic, now)
        if found.hub is None:
            log.debug("WebSub: the feed advertises no hub", extra={"feed": url})
            return
        self._subscribe(url, found.hub, found.topic or url, now)

    def _subscribe(
        self,
        url: str,
        hub: str,
        topic: str,
        now: float,
        token: str | None = None,
        secret: str | None = None,
    ) -> None:
        refused = self.check_url(hub)
        if refused is not None:
            self.websub.websub_failed(url, refused, now)
            log.warning("WebSub: hub refused", extra={"feed": url, "reason": refused})
            return
        token = token or secrets.token_urlsafe(24)
        secret = secret or secrets.token_urlsafe(32)
        # Recorded before the request: the hub may verify before it even answers.
        self.websub.websub_requested(url, hub, topic, token, secret, now)
        response = self.http.post(
            hub,
            data={
                "hub.mode": "subscribe",
                "hub.topic": topic,
                "hub.callback": callback_url(self.public_url, token),
                "hub.secret": secret,
                "hub.lease_seconds": str(LEASE_ASKED),
            },
        )
        if response.status_code >= 300:
            message = f"hub answered HTTP {response.status_code}: {response.text[:200]}"
            self.websub.websub_failed(url, message, now)
            log.warning("WebSub: subscription refused", extra={"feed": url, "error": message})
            return
        log.info("WebSub: subscription requested", extra={"feed": url, "hub": hub})
