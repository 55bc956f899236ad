"""The one `requests.Session` every X request goes through, tweepy's included: it sends them to
TWITTER_API_BASE_URL, through the configured proxy, with our timeouts (tweepy has no timeout or
host setting of its own)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from bot.net import proxy_for

TWEEPY_HOST = "https://api.twitter.com"


class XSession(requests.Session):
    """A requests session that sends tweepy's requests to our base URL, with timeouts.

    tweepy.Client.request builds `"https://api.twitter.com" + route` in a local variable and hands
    it, with an OAuth1 auth object, to `self.session.request`; the signature is computed later,
    while requests prepares the request. Rewriting the URL here, at the entry of
    `Session.request`, therefore happens BEFORE signing, so the signature covers the URL that is
    really sent. A transport adapter would rewrite after signing (wrong signature), and
    overriding tweepy's `request` would mean copying its error handling. `client.session` is a
    public attribute, so swapping it is the least invasive hook. Anything bound for a host other
    than the base URL is refused rather than sent.
    """

    def __init__(
        self, base_url: str, timeout: float, proxies: Mapping[str, str] | None = None
    ) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._route = _route(self.base_url, proxies or {})

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        url = url.decode() if isinstance(url, bytes) else url
        if url.startswith(TWEEPY_HOST + "/"):
            url = self.base_url + url[len(TWEEPY_HOST) :]
        if not url.startswith(self.base_url + "/"):
            raise requests.exceptions.InvalidURL(f"refusing to send an X request to {url}")
        kwargs.setdefault("timeout", self.timeout)
        if self._route is not None:
            kwargs.setdefault("proxies", self._route)
        return super().request(method, url, *args, **kwargs)


def _route(base_url: str, proxies: Mapping[str, str]) -> dict[str, str] | None:
    """requests' per-request `proxies` for the one host XSession talks to, as the settings'
    proxy variables say; None without any. Per request because requests lets the process
    environment's proxies override a session's; a "no_proxy" entry of the host itself is
    how requests is told to go direct even when the environment names a proxy."""
    if not proxies:
        return None
    parts = urlsplit(base_url)
    proxy = proxy_for(proxies, parts.scheme, parts.hostname or "")
    if proxy is None:
        return {"no_proxy": parts.hostname or ""}
    return {parts.scheme: proxy}
