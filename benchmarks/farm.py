"""A loopback feed farm: N WordPress-style RSS feeds on several 127.0.0.x addresses.

The farm runs in its own process (so its CPU never counts against the bot's) and speaks just
enough HTTP/1.1 over asyncio streams to answer a thousand conditional GETs in a fraction of a
second: keep-alive, ETag / If-None-Match and Last-Modified / If-Modified-Since.

Why several addresses: the bot's Fetcher allows two requests at a time per host name (politeness
towards one publisher), and a port does not make another host. With every feed on 127.0.0.1 the
fetcher would run two requests at a time; the farm spreads the feeds over `hosts` addresses of
the loopback range (127.0.0.1, 127.0.0.2, ...), as a newsroom group's feeds are spread over its
publications' sites. Linux routes all of 127.0.0.0/8 to the loopback interface.

The two phases:
- "cold": every feed answers 200 with its 30 items; 95% send an ETag and a Last-Modified.
- "warm": 90% of feeds answer 304 to the validators the bot sent; 5% (the ones without
  validators) answer 200 with the same body; 5% publish `new_items` new stories (new ETag).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

PHASES = ("cold", "warm")
_CATEGORIES = (
    "Diamonds", "Bridal", "Watches", "Gold", "Colored Stones", "Retail", "Auctions", "Pearls",
    "Silver", "Lab-Grown", "Trade Shows", "Designers", "Estate Jewelry", "Platinum", "Ethics",
)  # fmt: skip
_WORDS = tuple(
    [
        "jeweler",
        "retailers",
        "diamond",
        "market",
        "price",
        "demand",
        "collection",
        "designer",
        "bridal",
        "ring",
        "necklace",
        "gold",
        "platinum",
        "estate",
        "auction",
        "record",
        "sale",
        "season",
        "holiday",
        "buyers",
        "trade",
        "show",
        "lab-grown",
        "sustainable",
        "sourcing",
        "independent",
        "store",
        "sales",
        "growth",
        "quarter",
        "report",
        "brand",
        "launch",
    ]
)


def kind_of(index: int) -> str:
    """What feed `index` does in the warm phase: "fixed" (no validators), "fresh" or "same"."""
    slot = index % 20
    if slot == 0:
        return "fixed"  # 5%: never sends validators, so every poll is a full 200
    if slot == 1:
        return "fresh"  # 5%: publishes new items between the cycles
    return "same"  # 90%: unchanged, answers 304


def _words(seed: int, count: int) -> str:
    return " ".join(_WORDS[(seed * 7 + i * 13) % len(_WORDS)] for i in range(count))


def item_xml(site: int, post: int, published: datetime, image_host: str | None = None) -> str:
    """One WordPress item of about 1 KB: CDATA title/description/content, categories, image.
    `image_host` puts the images on another host (one the bot can vet without a DNS query)."""
    host = f"www.site{site}.example"
    slug = f"{_words(post, 4).replace(' ', '-')}-{post}"
    # A link under a real TLD, as a newsroom's are: X counts it as a URL (23), which takes
    # twitter_text's URL expression; a link under .example would be plain text to it.
    link = f"https://www.site{site}.com/{published:%Y/%m}/{slug}/"
    title = f"{_words(post + 1, 7).capitalize()} &amp; {_words(post + 2, 3)} ({post})"
    cats = [_CATEGORIES[(post + k * 5) % len(_CATEGORIES)] for k in range(3)]
    summary = _words(post + 3, 22).capitalize() + "."
    uploads = f"https://{image_host or host}/wp-content/uploads"
    image = f"{uploads}/{published:%Y/%m}/{slug[:24]}-1024x683.jpg"
    return (
        "<item>\n"
        f"\t<title>{title}</title>\n"
        f"\t<link>{link}</link>\n"
        f"\t<dc:creator><![CDATA[Staff Writer {post % 9}]]></dc:creator>\n"
        f"\t<pubDate>{format_datetime(published)}</pubDate>\n"
        + "".join(f"\t<category><![CDATA[{c}]]></category>\n" for c in cats)
        + f'\t<guid isPermaLink="false">https://{host}/?p={post}</guid>\n'
        f"\t<description><![CDATA[{summary} [&#8230;]</p>\n<p>The post "
        f'<a href="{link}">{title}</a> appeared first on Site {site}.</p>\n]]></description>\n'
        f'\t<content:encoded><![CDATA[<figure><img src="{image}" alt="" width="1024" '
        f'height="683"/></figure>\n<p>{summary} {_words(post + 5, 12)}.</p>\n'
        "]]></content:encoded>\n"
        f"\t<slash:comments>{post % 4}</slash:comments>\n"
        "</item>\n"
    )


def feed_xml(site: int, posts: list[tuple[int, datetime]], image_host: str | None = None) -> bytes:
    """A WordPress 6 RSS 2.0 document with the usual namespaces and channel elements."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"\n'
        '\txmlns:content="http://purl.org/rss/1.0/modules/content/"\n'
        '\txmlns:wfw="http://wellformedweb.org/CommentAPI/"\n'
        '\txmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '\txmlns:atom="http://www.w3.org/2005/Atom"\n'
        '\txmlns:sy="http://purl.org/rss/1.0/modules/syndication/"\n'
        '\txmlns:slash="http://purl.org/rss/1.0/modules/slash/"\n\t>\n\n<channel>\n'
        f"\t<title>Site {site} News</title>\n"
        f'\t<atom:link href="https://www.site{site}.example/feed/" rel="self" '
        'type="application/rss+xml" />\n'
        f"\t<link>https://www.site{site}.example</link>\n"
        "\t<description>The trade news of the jewelry industry</description>\n"
        f"\t<lastBuildDate>{format_datetime(posts[0][1])}</lastBuildDate>\n"
        "\t<language>en-US</language>\n\t<sy:updatePeriod>\n\thourly\t</sy:updatePeriod>\n"
        "\t<sy:updateFrequency>\n\t1\t</sy:updateFrequency>\n"
        "\t<generator>https://wordpress.org/?v=6.8.1</generator>\n"
    )
    body = "".join(item_xml(site, post, published, image_host) for post, published in posts)
    return (head + body + "</channel>\n</rss>\n").encode()


@dataclass
class _Feed:
    body: bytes
    etag: str | None
    last_modified: str | None


@dataclass
class FarmState:
    """Every document of both phases, built once up front (so serving is just a dict lookup)."""

    feeds: int
    items: int
    new_items: int
    now: datetime
    image_host: str | None = None
    phase: str = "cold"
    served: dict[str, int] = field(default_factory=dict)
    docs: dict[str, list[_Feed]] = field(default_factory=dict)

    def build(self) -> None:
        for phase in PHASES:
            self.docs[phase] = [self._doc(i, phase) for i in range(self.feeds)]

    def _doc(self, index: int, phase: str) -> _Feed:
        kind = kind_of(index)
        fresh = self.new_items if phase == "warm" and kind == "fresh" else 0
        base = index * 100_000
        # Newest first, an hour apart; new posts are newer than everything before them.
        anchor = self.now - timedelta(minutes=5)
        newest = self.items + fresh
        posts = [
            (base + r, anchor - timedelta(hours=self.items + self.new_items - r))
            for r in range(newest, newest - self.items, -1)
        ]
        stamp = format_datetime(posts[0][1], usegmt=True)
        if kind == "fixed":
            return _Feed(feed_xml(index, posts, self.image_host), None, None)
        return _Feed(feed_xml(index, posts, self.image_host), f'"{index}-{fresh}"', stamp)

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        parts = path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "feed" or not parts[1].isdigit():
            return 404, {}, b"no such feed"
        index = int(parts[1])
        if index >= self.feeds:
            return 404, {}, b"no such feed"
        doc = self.docs[self.phase][index]
        head = {"Content-Type": "application/rss+xml; charset=UTF-8"}
        if doc.etag:
            head["ETag"] = doc.etag
            head["Last-Modified"] = doc.last_modified or ""
            match = headers.get("if-none-match")
            since = headers.get("if-modified-since")
            if match == doc.etag or (match is None and since == doc.last_modified):
                return 304, head, b""
        return 200, head, doc.body


_REASONS = {200: "OK", 304: "Not Modified", 404: "Not Found", 400: "Bad Request"}


async def _serve(state: FarmState, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
                return  # client gone, or the farm is shutting down
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = [*lines[0].split(" "), "", ""][:3]
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            payload = await reader.readexactly(length) if length else b""
            if path.startswith("/_control/"):
                status, extra, body = _control(state, path, payload)
            elif method != "GET":
                status, extra, body = 400, {}, b"GET only"
            else:
                status, extra, body = state.answer(path, headers)
            state.served[str(status)] = state.served.get(str(status), 0) + 1
            close = headers.get("connection", "").lower() == "close"
            out = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}"]
            out += [f"{k}: {v}" for k, v in extra.items()]
            if status != 304:
                out.append(f"Content-Length: {len(body)}")
            if close:
                out.append("Connection: close")
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body)
            await writer.drain()
            if close:
                return
    finally:
        writer.close()


def _control(state: FarmState, path: str, payload: bytes) -> tuple[int, dict[str, str], bytes]:
    action = path[len("/_control/") :]
    if action in PHASES:
        state.phase = action
        state.served.clear()
    elif action != "stats":
        return 404, {}, b"unknown control"
    body = json.dumps({"phase": state.phase, "served": state.served}).encode()
    return 200, {"Content-Type": "application/json"}, body


def _farm_main(
    conn: Any,
    feeds: int,
    items: int,
    new_items: int,
    hosts: int,
    now: float,
    image_host: str | None = None,
) -> None:
    async def main() -> None:
        state = FarmState(feeds, items, new_items, datetime.fromtimestamp(now, UTC), image_host)
        state.build()
        servers = []
        addresses = []
        for h in range(hosts):
            address = f"127.0.0.{h + 1}"
            server = await asyncio.start_server(
                lambda r, w: _serve(state, r, w), address, 0, backlog=1024
            )
            servers.append(server)
            addresses.append((address, server.sockets[0].getsockname()[1]))
        conn.send(addresses)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told to stop
        for server in servers:
            server.close()

    asyncio.run(main())


class Farm:
    """Start with `Farm.start(...)` (a context manager); `urls` are the feeds, one per feed."""

    def __init__(self, process: Any, conn: Any, addresses: list[tuple[str, int]], feeds: int):
        self._process = process
        self._conn = conn
        self.addresses = addresses
        self.urls = [
            f"http://{addresses[i % len(addresses)][0]}:{addresses[i % len(addresses)][1]}"
            f"/feed/{i}/"
            for i in range(feeds)
        ]

    @classmethod
    def start(
        cls,
        feeds: int,
        items: int,
        *,
        new_items: int = 2,
        hosts: int = 8,
        now: float,
        image_host: str | None = None,
    ) -> Farm:
        if not 1 <= hosts <= 250:
            raise ValueError(f"hosts={hosts}: use 1 to 250 loopback addresses")
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        process = ctx.Process(
            target=_farm_main,
            args=(child, feeds, items, new_items, hosts, now, image_host),
            name="feed-farm",
            daemon=True,
        )
        process.start()
        if not parent.poll(120):
            process.kill()
            raise RuntimeError("the feed farm did not start within 120 s")
        return cls(process, parent, parent.recv(), feeds)

    def control(self, action: str) -> dict[str, Any]:
        """Switch phase ("cold" / "warm") or read "stats"; counts reset on a phase switch."""
        host, port = self.addresses[0]
        request = urllib.request.Request(f"http://{host}:{port}/_control/{action}", data=b"")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def close(self) -> None:
        if self._process.is_alive():
            self._conn.send("stop")
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)

    def __enter__(self) -> Farm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
