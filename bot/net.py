"""Bounded downloads shared by feeds, article pages and images.

Every byte we pull from the web goes through a size cap enforced while streaming (a hostile or
broken server cannot make us buffer gigabytes) and the client's timeouts (a trickle ends).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

import httpx


class DownloadError(Exception):
    """A download failed; `reason` is short and names no secret."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class Download:
    url: str
    final_url: str
    status: int
    content_type: str
    body: bytes


def read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """Read a streamed response body, raising as soon as it grows past `max_bytes`."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise DownloadError(
            str(response.url), f"body of {int(declared)} bytes is over the {max_bytes}-byte cap"
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise DownloadError(str(response.url), f"body is over the {max_bytes}-byte cap")
        chunks.append(chunk)
    return b"".join(chunks)


def download(
    client: httpx.Client,
    url: str,
    *,
    max_bytes: int,
    accept: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
) -> Download:
    """GET `url` with the cap; `accept` lists allowed content-type prefixes (empty: any)."""
    if not url.lower().startswith(("http://", "https://")):
        raise DownloadError(url, "only http(s) URLs can be downloaded")
    try:
        with client.stream("GET", url, headers=headers, follow_redirects=True) as response:
            if response.status_code >= 400:
                raise DownloadError(url, f"HTTP {response.status_code}", response.status_code)
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if accept and not content_type.startswith(accept):
                raise DownloadError(url, f"content type {content_type or 'none'} is not accepted")
            body = read_capped(response, max_bytes)
            return Download(url, str(response.url), response.status_code, content_type, body)
    except httpx.TimeoutException:
        raise DownloadError(url, "timed out") from None
    except httpx.TooManyRedirects:
        raise DownloadError(url, "too many redirects") from None
    except httpx.HTTPError as exc:
        raise DownloadError(url, f"{type(exc).__name__}: {exc}") from None


def proxy_for(proxies: Mapping[str, str], scheme: str, hostname: str) -> str | None:
    """The proxy URL a request to `scheme://hostname` goes through, None for direct.

    `proxies` is Settings.proxies: "http", "https" and "all" map to proxy URLs, "no" to
    NO_PROXY's list, which urllib reads as curl does (hosts, domains, "*").
    """
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass_environment(hostname, proxies):  # type: ignore[arg-type]
        return None
    return proxy


class ProxyTransport(httpx.BaseTransport):
    """Sends each request through the proxy the settings name for its host, or directly.

    The proxy variables may come from the env file, which httpx never sees (it reads only
    the process environment), so the settings' routing is applied here, as the feed fetcher
    applies it; the platforms' API calls and image downloads then leave the way feeds do.
    """

    def __init__(self, proxies: Mapping[str, str]) -> None:
        self._proxies = dict(proxies)
        self._direct = httpx.HTTPTransport()
        self._via: dict[str, httpx.HTTPTransport] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        proxy = proxy_for(self._proxies, request.url.scheme, request.url.host)
        if proxy is None:
            return self._direct.handle_request(request)
        transport = self._via.get(proxy)
        if transport is None:
            transport = self._via[proxy] = httpx.HTTPTransport(proxy=proxy)
        return transport.handle_request(request)

    def close(self) -> None:
        self._direct.close()
        for transport in self._via.values():
            transport.close()
