"""Which addresses a URL written by a stranger may make the bot connect to.

Every URL from feed content (article pages, og:image, media, enclosures, thumbnails) and every
redirect is someone else's choice, and the bot runs inside someone's network: without a rule, a
feed could make it read `http://169.254.169.254/` (cloud credentials) or an admin page on
127.0.0.1 and upload what it found to X. The rule: resolve the host, refuse loopback, private,
link-local, carrier-grade NAT, unique-local, multicast, unspecified and reserved addresses in any
spelling (IPv6, IPv4-mapped, decimal or hex integers), then connect to the very address that was
checked, so a second DNS answer cannot point elsewhere (DNS rebinding). The exact origins of the
configured feeds and platform APIs are trusted: the user chose them. `ALLOW_PRIVATE_NETWORKS=true`
lifts the rule (a newsroom whose feed and images live on its own network).

One NetworkPolicy is built by the composition root and used by both HTTP clients: the feed
fetcher (aiohttp, through `PinnedResolver`) and the httpx client of pages, images and image
probes (through `bot.net.PolicyTransport`).
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""(host, port) -> the addresses the name stands for, as strings; OSError when it has none."""

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Refused(Exception):
    """The policy refuses this URL; `reason` is one line, naming the address and why."""

    def __init__(self, url: str, reason: str, *, lookup_failed: bool = False) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.lookup_failed = lookup_failed
        """The name did not resolve (here, now): nothing is known to be wrong with it."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`, in its order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def literal_address(host: str) -> Address | None:
    """The address a host written as a number stands for, in every spelling the C library (and
    so curl, browsers and the platforms' fetchers) accepts: 127.0.0.1, [::1], [::ffff:7f00:1],
    2130706433, 0x7f000001, 0177.0.0.1, 127.1. None for a name."""
    text = host.strip().strip("[]").split("%", 1)[0]
    if not text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if not all(c in "0123456789abcdefxABCDEFX." for c in text) or not text[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64, the old compatible form)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # ::a.b.c.d (deprecated, still routed)
        return ipaddress.IPv4Address(int(address))
    return None


def internal_reason(address: Address) -> str | None:
    """Why the bot must not connect to `address` for a stranger, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = internal_reason(embedded)
            return f"{inner} (inside {address})" if inner else None
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "a carrier-grade NAT address (100.64.0.0/10)"
    if isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL:
        return "a unique-local address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved address"
    return None


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the default port filled in; None when not http(s)."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host or port is None:
        return None
    return scheme, host, port


@dataclass(frozen=True)
class NetworkPolicy:
    """The rule for untrusted URLs; `vet` applies it to one URL (one redirect hop)."""

    trusted: frozenset[tuple[str, str, int]] = frozenset()
    """Exact origins (scheme, host, port) the user configured: feeds and API base URLs."""
    allow_private: bool = False
    """ALLOW_PRIVATE_NETWORKS: internal addresses are allowed too (still pinned)."""
    resolver: Resolver = field(default=system_resolver, compare=False)
    """Injected by tests (a fake public name standing for a loopback server)."""

    @classmethod
    def trusting(
        cls,
        urls: Iterable[str],
        *,
        allow_private: bool = False,
        resolver: Resolver = system_resolver,
    ) -> NetworkPolicy:
        """A policy that trusts the exact origins of `urls` (file:// and the like are skipped)."""
        trusted = frozenset(o for o in (origin(u) for u in urls) if o is not None)
        return cls(trusted, allow_private, resolver)

    def is_trusted(self, url: str) -> bool:
        found = origin(url)
        return found is not None and found in self.trusted

    def vet(self, url: str, *, proxied: bool = False) -> list[str] | None:
        """None when `url` is at a trusted origin (connect as usual); otherwise the checked
        addresses to connect to, in order. Raises Refused with the reason.

        `proxied`: the request leaves through a configured proxy, which resolves the name
        itself (and may be the only one that can): an address spelled in the URL, or a
        localhost name, is still refused, but a name is not looked up here (None)."""
        found = origin(url)
        if found is None:
            raise Refused(url, "only http(s) URLs with a host can be fetched")
        if found in self.trusted:
            return None
        _, host, port = found
        literal = literal_address(host)
        if literal is None and host.lower().split(".")[-1] == "localhost":
            literal = ipaddress.IPv4Address("127.0.0.1")  # RFC 6761: always loopback
        if literal is not None:
            addresses = [literal]
        elif proxied:
            return None
        else:
            try:
                answers = self.resolver(host, port)
            except (OSError, UnicodeError) as exc:
                reason = f"cannot resolve {host}: {exc}"
                raise Refused(url, reason, lookup_failed=True) from None
            addresses = []
            for answer in answers:
                parsed = literal_address(answer)
                if parsed is None:
                    raise Refused(url, f"{host} resolved to {answer!r}, not an address")
                addresses.append(parsed)
            if not addresses:
                raise Refused(url, f"{host} has no address")
        if not self.allow_private:
            for address in addresses:
                reason = internal_reason(address)
                if reason is not None:
                    where = "" if literal is not None else f"{host} resolves to "
                    raise Refused(
                        url,
                        f"{where}{address} is {reason}; set ALLOW_PRIVATE_NETWORKS=true "
                        "if the bot may fetch from internal networks",
                    )
        return [str(a) for a in addresses]

    def check(self, url: str | None) -> str | None:
        """The reason `url` must not be fetched nor handed to a platform, or None. A name that
        does not resolve here and now is not refused: the failure may pass, and the fetch
        itself vets the URL again."""
        if not url:
            return None
        try:
            self.vet(url)
        except Refused as exc:
            return None if exc.lookup_failed else exc.reason
        return None


OPEN = NetworkPolicy(allow_private=True)
"""Every address allowed, still resolved once and pinned: for tools and tests that fetch what
their own user typed, never for feed content in the worker."""


# --- pinning: connect to the address that was checked ------------------------------------------


@dataclass(frozen=True)
class Pin:
    host: str
    port: int
    addresses: tuple[str, ...]


PINNED: contextvars.ContextVar[Pin | None] = contextvars.ContextVar("pinned", default=None)
"""The vetted addresses of the request in flight in this thread or task; the connectors of both
clients connect there instead of resolving the name again."""


def pinned_addresses(host: str, port: int) -> tuple[str, ...] | None:
    pin = PINNED.get()
    if pin is None:
        return None
    if pin.host.lower() != host.strip("[]").lower().rstrip(".") or pin.port != port:
        return None
    return pin.addresses


class PinnedResolver(AbstractResolver):
    """aiohttp's resolver: a vetted request gets exactly its checked addresses, anything else
    (trusted feeds, proxies) is resolved as usual."""

    def __init__(self) -> None:
        self._default = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = pinned_addresses(host, port)
        if addresses is None:
            return await self._default.resolve(host, port, family)
        out: list[ResolveResult] = []
        for address in addresses:
            v6 = ":" in address
            out.append(
                {
                    "hostname": host,
                    "host": address,
                    "port": port,
                    "family": socket.AF_INET6 if v6 else socket.AF_INET,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        return out

    async def close(self) -> None:
        await self._default.close()
