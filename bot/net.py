"""Bounded downloads shared by feeds, article pages and images.

Every byte we pull from the web goes through a size cap enforced while streaming (a hostile or
broken server cannot make us buffer gigabytes) and the client's timeouts (a trickle ends).
"""

from __future__ import annotations

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
