"""Bounded downloads shared by article pages and images, and the httpx side of the network policy.

Every byte we pull from the web goes through a size cap enforced while streaming, on the decoded
bytes and chunk by chunk (a hostile or broken server cannot make us buffer gigabytes, nor can a
gzip bomb inflate a whole network chunk at once), and a deadline on the whole transfer (a server
trickling one byte a second is cut off at HTTP_TIMEOUT, not after each read).

`PolicyTransport` applies `bot.netpolicy.NetworkPolicy` to every request of the shared client,
redirect hops included, and connects to the addresses it checked (through `PinningBackend`).
"""

from __future__ import annotations

import contextlib
import contextvars
import ssl
import threading
import time
import typing
import urllib.request
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import httpcore
import httpx

from bot.netpolicy import PINNED, NetworkPolicy, Pin, Refused, pinned_addresses
from bot.tls import tls_context


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


_DECODE_STEP = 64 * 1024
"""Most decoded bytes one decompression call may produce before the cap is checked again."""


class _Decoder:
    """Content-Encoding gzip/deflate decoded in steps of at most 64 KiB of output, so the cap
    is checked long before a bomb (1,000:1 for zeros) has inflated a whole network chunk."""

    def __init__(self, encoding: str) -> None:
        names = [e.strip().lower() for e in encoding.split(",") if e.strip()]
        names = [n for n in names if n != "identity"]
        if len(names) > 1 or (names and names[0] not in ("gzip", "x-gzip", "deflate")):
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")
        self._deflate = bool(names) and names[0] == "deflate"
        self._produced = False
        self._zlib: typing.Any = None
        if names:
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | (0 if self._deflate else 16))

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._zlib is None:
            yield data
            return
        while data and not self._zlib.eof:
            try:
                out = self._zlib.decompress(data, _DECODE_STEP)
            except zlib.error:
                if not self._deflate or self._produced:
                    raise
                # Some servers send raw deflate (no zlib header) as "deflate", as httpx allows.
                self._deflate = False
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            if out:
                self._produced = True
                yield out
            data = self._zlib.unconsumed_tail


def iter_decoded(response: httpx.Response) -> Iterator[bytes]:
    """The body decoded (gzip, deflate) in pieces of at most 64 KiB, whatever a network chunk
    inflates to; ValueError for an encoding the bot did not ask for, zlib.error when corrupt."""
    decoder = _Decoder(response.headers.get("content-encoding", ""))
    for raw in response.iter_raw():
        yield from decoder.decode(raw)


def read_capped(
    response: httpx.Response, max_bytes: int, *, deadline: float | None = None
) -> bytes:
    """Read a streamed response body, raising as soon as its decoded size grows past
    `max_bytes` (checked after every decoding step) or the transfer outlives `deadline`
    (a `time.monotonic()` value)."""
    url = str(response.url)
    declared = response.headers.get("content-length")
    encoding = response.headers.get("content-encoding", "")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise DownloadError(url, f"body of {int(declared)} bytes is over the {max_bytes}-byte cap")
    try:
        decoder = _Decoder(encoding)
    except ValueError as exc:
        raise DownloadError(url, str(exc)) from None
    chunks: list[bytes] = []
    size = 0
    try:
        for raw in response.iter_raw():
            for chunk in decoder.decode(raw):
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadError(url, f"body is over the {max_bytes}-byte cap")
                chunks.append(chunk)
            if deadline is not None and time.monotonic() > deadline:
                raise httpx.ReadTimeout("transfer deadline passed", request=response.request)
    except zlib.error as exc:
        raise DownloadError(url, f"cannot decode the {encoding} body: {exc}") from None
    return b"".join(chunks)


def download(
    client: httpx.Client,
    url: str,
    *,
    max_bytes: int,
    accept: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
) -> Download:
    """GET `url` with the cap; `accept` lists allowed content-type prefixes (empty: any).
    `timeout` (default: the client's read timeout, i.e. HTTP_TIMEOUT) bounds the whole
    transfer, redirects included, not each read."""
    if not url.lower().startswith(("http://", "https://")):
        raise DownloadError(url, "only http(s) URLs can be downloaded")
    seconds = transfer_seconds(client, timeout)
    try:
        with (
            transfer_deadline(seconds) as deadline,
            client.stream("GET", url, headers=headers, follow_redirects=True) as response,
        ):
            if response.status_code >= 400:
                raise DownloadError(url, f"HTTP {response.status_code}", response.status_code)
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if accept and not content_type.startswith(accept):
                raise DownloadError(url, f"content type {content_type or 'none'} is not accepted")
            body = read_capped(response, max_bytes, deadline=deadline)
            return Download(url, str(response.url), response.status_code, content_type, body)
    except RefusedRequest as exc:
        raise DownloadError(url, f"refused: {exc.reason}") from None
    except httpx.TimeoutException:
        raise DownloadError(url, f"timed out after {seconds:g} s") from None
    except httpx.TooManyRedirects:
        raise DownloadError(url, "too many redirects") from None
    except httpx.HTTPError as exc:
        raise DownloadError(url, f"{type(exc).__name__}: {exc}") from None


def proxy_for(proxies: Mapping[str, str], scheme: str, hostname: str) -> str | None:
    """The proxy URL a request to `scheme://hostname` goes through, None for direct: the one
    routing rule of every client the bot has (PolicyTransport for httpx, the feed fetcher's
    aiohttp requests, the X client's requests session).

    `proxies` is Settings.proxies: "http", "https" and "all" map to proxy URLs, "no" to
    NO_PROXY's list, which urllib reads as curl does (hosts, domains, "*").
    """
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass_environment(hostname, proxies):  # type: ignore[arg-type]
        return None
    return proxy


# --- the network policy on httpx ---------------------------------------------------------------


class RefusedRequest(httpx.TransportError):
    """The network policy refused the request's URL (a redirect hop included); nothing was
    sent. `reason` says why, in one line."""

    def __init__(self, refused: Refused, request: httpx.Request) -> None:
        super().__init__(refused.reason, request=request)
        self.reason = refused.reason


class PolicyTransport(httpx.BaseTransport):
    """The one transport of the shared httpx client: every request passes here (httpx follows
    redirects through it, one call a hop), leaves through the proxy `proxy_for` names for its
    host or directly, and is vetted by the network policy on the way; a direct connection is
    pinned to the addresses the policy checked, a proxy resolves the name itself (the address
    was still checked here).

    The proxy variables may come from the env file, which httpx never sees (it reads only the
    process environment), so the settings' routing is applied here, by the same rule as the
    feed fetcher's (`proxy_for`): article pages, images and API calls leave the way feeds do.
    """

    def __init__(self, policy: NetworkPolicy, proxies: Mapping[str, str] | None = None) -> None:
        self.policy = policy
        self._proxies = dict(proxies or {})
        self._routes: dict[str | None, httpx.HTTPTransport] = {None: _transport()}
        """A connection pool per proxy URL (None: direct), made when first needed."""
        self._lock = threading.Lock()

    def _route(self, proxy: str | None) -> httpx.HTTPTransport:
        with self._lock:
            transport = self._routes.get(proxy)
            if transport is None:
                transport = self._routes[proxy] = _transport(proxy)
            return transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        proxy = proxy_for(self._proxies, request.url.scheme, request.url.host)
        inner = self._route(proxy)
        try:
            addresses = self.policy.vet(str(request.url), proxied=proxy is not None)
        except Refused as exc:
            raise RefusedRequest(exc, request) from None
        if addresses is None or proxy is not None:
            return inner.handle_request(request)
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        token = PINNED.set(Pin(request.url.host.rstrip("."), port, tuple(addresses)))
        try:
            return inner.handle_request(request)
        finally:
            PINNED.reset(token)

    def close(self) -> None:
        with self._lock:
            routes = list(self._routes.values())
        for transport in routes:
            transport.close()


_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


def transfer_seconds(client: httpx.Client, timeout: float | None = None) -> float:
    """The whole-transfer budget: `timeout`, else the client's read timeout (HTTP_TIMEOUT)."""
    if timeout is not None:
        return timeout
    return client.timeout.read or client.timeout.connect or 20.0


@contextlib.contextmanager
def transfer_deadline(seconds: float) -> Iterator[float]:
    """Every connect, read and write of this thread's requests ends by `seconds` from now
    (each socket wait is cut to the time left), so a trickle cannot outlive the budget."""
    deadline = time.monotonic() + seconds
    outer = _DEADLINE.get()
    token = _DEADLINE.set(deadline if outer is None else min(outer, deadline))
    try:
        yield deadline
    finally:
        _DEADLINE.reset(token)


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("transfer deadline passed")
    return left if timeout is None else min(timeout, left)


class _BoundedStream(httpcore.NetworkStream):
    """A socket stream whose every wait is cut to the transfer deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(
            ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)
        )
        return _BoundedStream(tls)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class PinningBackend(httpcore.NetworkBackend):
    """httpcore's sockets: a vetted request connects to its checked addresses (the TLS name
    stays the host's), and every wait respects the transfer deadline."""

    def __init__(self) -> None:
        self._sync = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = pinned_addresses(host, port) or (host,)
        error: Exception | None = None
        for address in addresses:
            try:
                stream = self._sync.connect_tcp(
                    address,
                    port,
                    _left(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
                return _BoundedStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:  # pragma: no cover - no Unix sockets here
        return self._sync.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore's retries only
        self._sync.sleep(seconds)


def _transport(proxy: str | None = None) -> httpx.HTTPTransport:
    """An httpx transport whose connections go through PinningBackend. httpx takes no network
    backend, so it is set on the pool it built (httpcore reads it per new connection); the
    pinning tests fail loudly if a new httpx stops doing so."""
    transport = httpx.HTTPTransport(proxy=proxy, verify=tls_context())
    pool = transport._pool
    pool._network_backend = PinningBackend()
    return transport
