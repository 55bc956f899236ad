"""Polling many feeds at once over long-lived HTTP connections.

The Fetcher owns an event loop on its own thread and one small aiohttp session per feed host on
it, so keep-alive connections survive from one poll cycle to the next while callers stay
synchronous. Each feed is bounded three ways: a size cap checked while streaming (on decoded
bytes), per-operation timeouts, and an overall deadline so a server trickling one byte a second
is cut off. One feed's failure becomes its own FetchResult.error and never disturbs the others.
What one response means (redirect, 304, error, capped body) is bot.feeds.reply's job; the
request and result types are in bot.feeds.fetched.

Why aiohttp here and httpx elsewhere: a poll is a thousand small conditional GETs, nearly all
answered 304, so the client's own CPU per request is the cost of a poll. aiohttp's C parser
spends about 0.2 ms a request where httpx (httpx, httpcore, h11, anyio layers) spent 1.2 ms,
which was most of a warm cycle (benchmarks/README.md). The platform APIs and article pages make
a handful of calls a cycle and stay on httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiohttp

import bot
from bot.errors import FeedError
from bot.feeds.fetched import FeedRequest, FetchResult, content_digest, failure
from bot.feeds.reply import PERMANENT, Failed, describe, one_hop
from bot.net import proxy_for
from bot.netpolicy import PINNED, NetworkPolicy, Pin, PinnedResolver, Refused
from bot.tls import tls_context

__all__ = ["ACCEPT", "FeedRequest", "FetchResult", "Fetcher", "content_digest"]

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9,"
    " application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
_HEADER_LIMIT = 16 * 1024
"""Longest header line or field accepted (aiohttp's default of 8 KiB refuses some real sites'
cookies and policies; h11, behind httpx, allowed 16 KiB)."""


class Fetcher:
    """Concurrent, bounded feed fetching; create once, call fetch_many every poll, then close."""

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        max_bytes: int = 10 * 1024 * 1024,
        concurrency: int = 16,
        per_host: int = 2,
        max_redirects: int = 5,
        kept_hosts: int = 64,
        user_agent: str = bot.USER_AGENT,
        clock: Callable[[], datetime] | None = None,
        proxies: Mapping[str, str] | None = None,
        policy: NetworkPolicy | None = None,
    ) -> None:
        """`proxies` maps a scheme ("http", "https", "all") to a proxy URL, and "no" to
        NO_PROXY's list (Settings.proxies); none by default. `policy` vets every URL that is
        not at a trusted origin, each redirect hop included; the default trusts nothing and
        refuses internal addresses (the worker's trusts the configured feeds)."""
        if concurrency < 1 or per_host < 1 or kept_hosts < 1:
            raise ValueError("concurrency, per_host and kept_hosts must be at least 1")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.concurrency = concurrency
        self.per_host = per_host
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self._clock = clock or (lambda: datetime.now(UTC))
        self._proxies = dict(proxies or {})
        self.policy = policy or NetworkPolicy()
        self._hosts: dict[str, _Host] = {}
        """Per host name, least recently used first: its slots and its own connection pool."""
        self._max_hosts = kept_hosts
        """Hosts whose keep-alive pools are kept (at most per_host idle connections each)."""
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False
        # One CA bundle load (certifi's), shared with the rest of the bot's HTTP, not per host.
        self._ssl = tls_context()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="feed-fetcher", daemon=True
        )
        self._thread.start()

    def _make_session(self) -> aiohttp.ClientSession:
        """One host's session (on the loop thread): at most per_host connections, kept alive
        for five minutes; redirects are followed by `_fetch_one`, hop by hop, not by aiohttp.
        Not trust_env, which reads .netrc and the proxy variables in a thread on every request
        (0.9 ms of a 1.2 ms request): `proxy_for` applies the settings' proxies instead."""
        connector = aiohttp.TCPConnector(
            limit=self.per_host,
            limit_per_host=self.per_host,
            ssl=self._ssl,
            keepalive_timeout=300,
            resolver=PinnedResolver(),
            use_dns_cache=False,
        )
        return aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.user_agent, "Accept": ACCEPT},
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self.timeout, sock_read=self.timeout
            ),
            max_line_size=_HEADER_LIMIT,
            max_field_size=_HEADER_LIMIT,
        )

    def _run(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def fetch_many(self, requests: Sequence[FeedRequest]) -> list[FetchResult]:
        """Fetch every request concurrently; results come back in the order of `requests`."""
        if self._closed:
            raise RuntimeError("Fetcher is closed")
        if not requests:
            return []
        return self._run(self._fetch_all(list(requests)))

    def fetch_iter(self, requests: Sequence[FeedRequest]) -> Iterator[tuple[int, FetchResult]]:
        """Fetch concurrently, yielding (index, result) as each feed completes, so the caller
        parses one feed while the others are still on the wire."""
        if self._closed:
            raise RuntimeError("Fetcher is closed")
        if not requests:
            return
        done: queue.SimpleQueue[tuple[int, FetchResult]] = queue.SimpleQueue()
        batch = self._fetch_all(list(requests), lambda i, r: done.put((i, r)))
        future = asyncio.run_coroutine_threadsafe(batch, self._loop)
        for _ in range(len(requests)):
            yield done.get()
        future.result()

    def fetch(self, request: FeedRequest) -> FetchResult:
        return self.fetch_many([request])[0]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._run(self._close_clients())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- on the loop thread -------------------------------------------------------------------

    async def _fetch_all(
        self,
        requests: list[FeedRequest],
        on_result: Callable[[int, FetchResult], None] | None = None,
    ) -> list[FetchResult]:
        slots = asyncio.Semaphore(self.concurrency)

        async def one(index: int, request: FeedRequest) -> FetchResult:
            async with slots:
                try:
                    result = await self._fetch_one(request)
                except Exception as exc:  # a bug for one feed must not sink the batch
                    reason = f"unexpected {type(exc).__name__}: {exc}"
                    result = failure(request, FeedError(request.url, reason), request.url)
            if on_result is not None:
                on_result(index, result)
            return result

        return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(requests))))

    def _host(self, name: str) -> _Host:
        """The host's slots and pool, marked most recently used. Each host has its own small
        pool: httpcore's pool scans every connection (quadratically) on every request and
        response, so one pool of 16 connections cost more CPU than the requests themselves.
        Hosts beyond the most recent `_max_hosts` with nothing in flight are closed, so idle
        sockets stay bounded however many sites the feeds are spread over."""
        hosts = self._hosts
        host = hosts.pop(name, None)
        if host is None:
            host = _Host(asyncio.Semaphore(self.per_host), self._make_session())
        hosts[name] = host
        if len(hosts) > self._max_hosts:
            for old_name in [n for n, h in hosts.items() if h.busy == 0][: -self._max_hosts]:
                if len(hosts) <= self._max_hosts:
                    break
                task = self._loop.create_task(hosts.pop(old_name).session.close())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        return host

    async def _close_clients(self) -> None:
        sessions = [h.session for h in self._hosts.values()]
        self._hosts.clear()
        for session in sessions:
            with contextlib.suppress(Exception):
                await session.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def _fetch_one(self, request: FeedRequest) -> FetchResult:
        url = request.url
        scheme = urlsplit(url).scheme.lower()
        if scheme == "file":
            return self._read_file(request)
        if scheme not in ("http", "https"):
            return failure(request, FeedError(url, f"unsupported URL scheme {scheme!r}"), url)
        headers: dict[str, str] = {}
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        budget = self.timeout  # seconds of network time left for this feed, across all hops
        all_permanent = True
        status: int | None = None
        for hop in range(self.max_redirects + 1):
            parts = urlsplit(url)
            hostname = (parts.hostname or "").lower()
            proxy = proxy_for(self._proxies, parts.scheme.lower(), hostname)
            started = time.monotonic()
            try:
                async with asyncio.timeout(budget):
                    pin = await self._vet(url, proxied=proxy is not None)
            except TimeoutError:
                reason = f"timed out after {self.timeout:g} s"
                return failure(request, FeedError(url, reason, status=status), url, status)
            except Refused as refused:
                error = FeedError(url, f"refused: {refused.reason}", status=status)
                return failure(request, error, url, status)
            budget -= time.monotonic() - started
            host = self._host(hostname)
            host.busy += 1
            try:
                async with host.slots:
                    started = time.monotonic()
                    try:
                        async with asyncio.timeout(budget):
                            token = PINNED.set(pin)
                            try:
                                outcome = await one_hop(
                                    host.session,
                                    url,
                                    headers,
                                    proxy,
                                    max_bytes=self.max_bytes,
                                    clock=self._clock,
                                )
                            finally:
                                PINNED.reset(token)
                    except TimeoutError:
                        reason = f"timed out after {self.timeout:g} s"
                        return failure(request, FeedError(url, reason, status=status), url, status)
                    except Failed as failed:
                        return failure(request, failed.error, url, failed.error.status)
                    except aiohttp.ClientError as exc:
                        return failure(request, FeedError(url, describe(exc)), url)
                    budget -= time.monotonic() - started
            finally:
                host.busy -= 1
            status = outcome.status
            if outcome.location is None:
                permanent = url if hop and all_permanent else None
                return outcome.result(request, url, permanent)
            all_permanent = all_permanent and status in PERMANENT
            url = outcome.location
            if budget <= 0:
                error = FeedError(url, f"timed out after {self.timeout:g} s", status=status)
                return failure(request, error, url, status)
        error = FeedError(request.url, f"too many redirects (more than {self.max_redirects})")
        return failure(request, error, url, status)

    async def _vet(self, url: str, *, proxied: bool) -> Pin | None:
        """The policy's verdict on one hop: None at a trusted origin (nothing to look up, the
        common case of a poll), else the checked addresses the connection is pinned to.
        Raises Refused."""
        if self.policy.is_trusted(url):
            return None
        vet = functools.partial(self.policy.vet, url, proxied=proxied)
        addresses = await self._loop.run_in_executor(None, vet)
        if addresses is None or proxied:
            return None
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        return Pin((parts.hostname or "").rstrip("."), port, tuple(addresses))

    def _read_file(self, request: FeedRequest) -> FetchResult:
        url = request.url
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            return failure(request, FeedError(url, "file:// URLs must be local"), url)
        path = Path(unquote(parts.path))
        try:
            with path.open("rb") as handle:
                body = handle.read(self.max_bytes + 1)
        except OSError as exc:
            return failure(request, FeedError(url, f"cannot read {path}: {exc.strerror}"), url)
        if len(body) > self.max_bytes:
            reason = f"file is over the {self.max_bytes}-byte cap"
            return failure(request, FeedError(url, reason), url)
        return FetchResult(request, None, body, None, url, None, None, None, False, None)


@dataclass(slots=True)
class _Host:
    slots: asyncio.Semaphore
    """per_host requests at a time to one host name (ports do not make another host)."""
    session: aiohttp.ClientSession
    busy: int = 0
    """Requests waiting for or holding a slot; a busy host is never closed."""
