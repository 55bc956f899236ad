"""One HTTP exchange of the feed fetcher: what a response means for the feed.

A redirect gives its target (followed hop by hop by bot.feeds.fetch, each hop vetted by the
network policy), a 304 the old validators, an error status a FeedError saying what to do
(410 Gone, Retry-After on 429 and 503), a 200 its body, read under the size cap while it
streams. Bodies that are not wanted are drained (at most 64 KiB) so the connection goes back
to the pool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import aiohttp

from bot.errors import FeedError
from bot.feeds.backoff import parse_retry_after
from bot.feeds.fetched import FeedRequest, FetchResult

REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT = frozenset({301, 308})
_DRAIN_LIMIT = 64 * 1024


class Failed(Exception):
    """Internal: carries a FeedError out of the hop loop together with the last status."""

    def __init__(self, error: FeedError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class Hop:
    status: int
    location: str | None
    body: bytes | None = None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False

    def result(self, request: FeedRequest, url: str, permanent: str | None) -> FetchResult:
        etag = self.etag or (request.etag if self.not_modified else None)
        modified = self.last_modified or (request.last_modified if self.not_modified else None)
        return FetchResult(
            request=request,
            status=self.status,
            body=None if self.not_modified else self.body,
            content_type=self.content_type,
            final_url=url,
            permanent_url=permanent,
            etag=etag,
            last_modified=modified,
            not_modified=self.not_modified,
            error=None,
        )


async def one_hop(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    proxy: str | None,
    *,
    max_bytes: int,
    clock: Callable[[], datetime],
) -> Hop:
    """One GET, redirects not followed: a redirect's target, a 304, or the body; raises Failed
    with the feed's error, aiohttp.ClientError when the connection fails."""
    get = session.get(url, headers=headers, allow_redirects=False, proxy=proxy)
    async with get as response:
        status = response.status
        if status in REDIRECTS or status == 304 or status >= 400:
            # Read the (empty or short) body: a response closed unread cannot go back to
            # the pool, and a new connection per 304 tripled the cost of a warm poll.
            await _drain(response)
        if status in REDIRECTS:
            location = response.headers.get("location")
            if not location:
                raise Failed(FeedError(url, f"HTTP {status} without Location", status=status))
            target = urljoin(url, location.strip())
            if urlsplit(target).scheme.lower() not in ("http", "https"):
                reason = f"redirect to a non-http URL {target!r}"
                raise Failed(FeedError(url, reason, status=status))
            return Hop(status, target)
        etag = response.headers.get("etag") or None
        modified = response.headers.get("last-modified") or None
        if status == 304:
            return Hop(status, None, None, None, etag, modified, not_modified=True)
        if status >= 400 or status < 200:
            raise Failed(_http_error(url, response, clock))
        if status != 200 and status >= 300:
            raise Failed(FeedError(url, f"unexpected HTTP {status}", status=status))
        body = await _read_capped(url, response, max_bytes)
        content_type = response.headers.get("content-type")
        return Hop(status, None, body, content_type, etag, modified)


def _http_error(
    url: str, response: aiohttp.ClientResponse, clock: Callable[[], datetime]
) -> FeedError:
    status = response.status
    if status == 410:
        return FeedError(url, "HTTP 410 Gone: the feed was removed", gone=True, status=status)
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"), clock())
    phrase = response.reason or ""
    reason = f"HTTP {status} {phrase}".strip()
    if retry_after is not None:
        reason += f" (retry after {retry_after:g} s)"
    return FeedError(url, reason, retry_after=retry_after, status=status)


async def _drain(response: aiohttp.ClientResponse) -> None:
    """Consume up to 64 KiB so the connection is reusable; a longer body is abandoned
    (aiohttp then closes the connection), never read whole."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _DRAIN_LIMIT:
        return
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > _DRAIN_LIMIT:
            return


async def _read_capped(url: str, response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The decoded body (gzip, deflate...), refused or cut off once over max_bytes."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        reason = f"body of {int(declared)} bytes is over the {max_bytes}-byte cap"
        raise Failed(FeedError(url, reason, status=response.status))
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > max_bytes:
            reason = f"body over the {max_bytes}-byte cap, cut off while streaming"
            raise Failed(FeedError(url, reason, status=response.status))
        chunks.append(chunk)
    return b"".join(chunks)


_REASON_CHARS = 300


def describe(exc: aiohttp.ClientError) -> str:
    """A one-line reason for the feed's last_error and the log. aiohttp quotes the bytes it
    could not parse, which from a broken server can be kilobytes of body: cut to 300."""
    detail = " ".join(str(exc).split())
    if len(detail) > _REASON_CHARS:
        detail = detail[:_REASON_CHARS] + "…"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect: {detail}" if detail else "cannot connect"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"cannot decode the response: {detail}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection before answering"
    if isinstance(exc, aiohttp.ClientResponseError):  # never raise_for_status: a parse failure
        return f"not a valid HTTP response: {detail}"
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
