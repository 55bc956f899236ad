"""The network policy for URLs from feeds: internal addresses refused in every spelling, on both
HTTP clients (aiohttp for feeds, httpx for pages, images and probes), redirects re-checked at
every hop, connections pinned to the checked address, and stories still posted without the image.

Two loopback servers play the parts: a "public" one (the configured feed's origin, trusted) and an
"internal" one listening on every loopback address, which must receive no request at all.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bot.app import build_app, make_http, network_policy
from bot.feeds.fetch import FeedRequest, Fetcher
from bot.net import DownloadError, RefusedRequest, download
from bot.netpolicy import NetworkPolicy, Refused, internal_reason, literal_address
from bot.platforms.media import ImageProblem, fetch_image, probe_image
from bot.settings import Backlog
from tests.conftest import FakeClock
from tests.fakes.feed_server import FeedServer
from tests.fakes.images import jpeg_bytes
from tests.fakes.platform_server import FakePlatformServer

pytestmark = pytest.mark.timeout(60)

SPELLINGS = ("127.0.0.2", "[::1]", "localhost", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]")
JPEG = jpeg_bytes()


@pytest.fixture
def internal() -> Iterator[FeedServer]:
    """Reachable as 127.0.0.2, [::1], localhost, 2130706433... at one port."""
    with FeedServer("::") as server:
        for path in ("/secret.jpg", "/m.jpg", "/e.jpg", "/t.jpg", "/og.jpg", "/page", "/feed"):
            server.route(path, body=JPEG, content_type="image/jpeg")
        yield server


@pytest.fixture
def public() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def at(spelling: str, server: FeedServer, path: str) -> str:
    return f"http://{spelling}:{server.port}{path}"


def test_the_internal_server_is_really_reachable_by_every_spelling(internal: FeedServer) -> None:
    """Without the policy each spelling reaches it: the zero counts below mean something."""
    with httpx.Client(timeout=5) as client:
        for spelling in ("127.0.0.2", "[::1]", "localhost", "127.0.0.1"):
            assert client.get(at(spelling, internal, "/secret.jpg")).content == JPEG
    assert len(internal.requests) == 4


# --- the rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.2", "loopback"),
        ("[::1]", "loopback"),
        ("2130706433", "loopback"),
        ("0x7f000001", "loopback"),
        ("0177.0.0.1", "loopback"),
        ("127.1", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[::ffff:7f00:1]", "loopback"),
        ("[64:ff9b::7f00:1]", "loopback"),
        ("[2002:7f00:1::]", "loopback"),
        ("169.254.169.254", "link-local"),
        ("[fe80::1]", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("3232235777", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("[fd12:3456::1]", "unique-local"),
        ("224.0.0.1", "multicast"),
        ("[ff02::1]", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("[::]", "unspecified"),
        ("0", "unspecified"),
        ("localhost", "loopback"),
        ("api.localhost", "loopback"),
    ],
)
def test_internal_addresses_are_refused_in_every_spelling(host: str, reason: str) -> None:
    policy = NetworkPolicy()
    with pytest.raises(Refused) as caught:
        policy.vet(f"http://{host}:8080/x.jpg")
    assert reason in caught.value.reason and "ALLOW_PRIVATE_NETWORKS=true" in caught.value.reason


def test_public_addresses_pass_and_the_checked_address_is_returned() -> None:
    policy = NetworkPolicy(resolver=lambda host, port: ["93.184.215.14", "2606:2800:21f::1"])
    assert policy.vet("https://cdn.example/a.jpg") == ["93.184.215.14", "2606:2800:21f::1"]
    assert NetworkPolicy().vet("http://8.8.8.8/") == ["8.8.8.8"]
    assert literal_address("cdn.example") is None and literal_address("1e100.net") is None
    assert internal_reason(ipaddress.ip_address("8.8.8.8")) is None


def test_a_name_with_any_internal_address_is_refused() -> None:
    policy = NetworkPolicy(resolver=lambda host, port: ["93.184.215.14", "10.0.0.5"])
    with pytest.raises(Refused, match=r"cdn\.example resolves to 10\.0\.0\.5 is a private"):
        policy.vet("https://cdn.example/a.jpg")


def test_only_exact_configured_origins_are_trusted_and_allow_private_lifts_the_rule() -> None:
    policy = NetworkPolicy.trusting(["http://127.0.0.1:8080/feed.xml", "file:///tmp/feed.xml"])
    assert policy.vet("http://127.0.0.1:8080/other/page") is None  # same origin
    for other in ("http://127.0.0.1:8081/", "https://127.0.0.1:8080/", "http://127.0.0.2:8080/"):
        with pytest.raises(Refused):
            policy.vet(other)
    lifted = replace(policy, allow_private=True)
    assert lifted.vet("http://127.0.0.1:8081/") == ["127.0.0.1"]


def test_the_settings_policy_trusts_feeds_and_api_hosts(tmp_path: Path) -> None:
    with FakePlatformServer() as server:
        settings = server.settings(feed_urls=("http://127.0.0.1:9/feed.xml",))
        policy = network_policy(settings)
        assert policy.is_trusted(server.base_url + "/2/tweets")  # X and Graph API base URLs
        assert policy.is_trusted("http://127.0.0.1:9/article")
        assert not policy.is_trusted("http://127.0.0.1:10/article")
        assert network_policy(replace(settings, allow_private_networks=True)).allow_private


# --- httpx: pages, images, probes ------------------------------------------------------------


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_httpx_routes_never_reach_the_internal_host(
    spelling: str, internal: FeedServer, public: FeedServer
) -> None:
    for status in (301, 302, 307):
        public.redirect(
            f"/to-internal-{status}", at(spelling, internal, "/secret.jpg"), status=status
        )
    with FakePlatformServer() as platforms:
        settings = platforms.settings(feed_urls=(public.url("/feed.xml"),))
        with make_http(settings) as client:
            direct = at(spelling, internal, "/secret.jpg")
            with pytest.raises(DownloadError, match=r"refused: .*loopback"):
                download(client, direct, max_bytes=10_000)
            for status in (301, 302, 307):
                hop = public.url(f"/to-internal-{status}")  # trusted origin, internal target
                with pytest.raises(DownloadError, match=r"refused: .*loopback"):
                    download(client, hop, max_bytes=10_000)
                with pytest.raises(ImageProblem, match="refused") as caught:
                    probe_image(client, hop, max_bytes=10_000, types=("image/jpeg",))
                assert not caught.value.transient
            with pytest.raises(ImageProblem, match="refused") as caught:
                fetch_image(client, direct, max_bytes=10_000, types=("image/jpeg",))
            assert not caught.value.transient
            with pytest.raises(RefusedRequest):
                client.head(direct)
    assert internal.requests == []
    hops = [(r.method, r.path) for r in public.requests if r.path == "/to-internal-301"]
    # download, then the probe's HEAD and (after the 501) its range GET: each hop refused
    assert [method for method, _ in hops] == ["GET", "HEAD", "GET"]


# --- aiohttp: feeds and their redirects ------------------------------------------------------


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_feed_redirects_and_moved_feeds_never_reach_the_internal_host(
    spelling: str, internal: FeedServer, public: FeedServer
) -> None:
    for status in (301, 302, 307):
        public.redirect(f"/feed-{status}", at(spelling, internal, "/feed"), status=status)
    configured = [public.url(f"/feed-{status}") for status in (301, 302, 307)]
    policy = NetworkPolicy.trusting(configured)
    with Fetcher(timeout=5, policy=policy) as fetcher:
        moved = FeedRequest(at(spelling, internal, "/feed"))  # a URL stored after an old 301
        results = fetcher.fetch_many([*map(FeedRequest, configured), moved])
    for result in results:
        assert result.error is not None and "refused" in result.error.reason
        assert "loopback" in result.error.reason and result.permanent_url is None
    assert internal.requests == []


# --- the whole bot: stories still posted, without the image ----------------------------------


def _feed(public: FeedServer, internal_base: str) -> bytes:
    def item(n: int, link: str, extra: str = "") -> str:
        return (
            f"<item><title>Story {n} about pearls</title><link>{link}</link>"
            f"<guid>story-{n}</guid><pubDate>Fri, 15 Jan 2027 1{n}:00:00 GMT</pubDate>"
            f"<description>Summary {n}.</description>{extra}</item>"
        )

    media = f'<media:content url="{internal_base}/m.jpg" medium="image"/>'
    enclosure = f'<enclosure url="{internal_base}/e.jpg" type="image/jpeg" length="9"/>'
    items = [
        item(1, "https://news.example/1", media),
        item(2, "https://news.example/2", enclosure),
        item(3, "https://news.example/3", f'<media:thumbnail url="{internal_base}/t.jpg"/>'),
        item(4, public.url("/article-og")),
        item(5, public.url("/article-301")),
        item(6, public.url("/article-302")),
        item(7, public.url("/article-307")),
    ]  # fmt: skip
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
        f"<channel><title>T</title>{''.join(items)}</channel></rss>"
    ).encode()


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_feed_content_pointing_inside_is_posted_without_the_image(
    spelling: str,
    internal: FeedServer,
    public: FeedServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = f"http://{spelling}:{internal.port}"
    public.route("/feed.xml", body=_feed(public, base))
    page = f'<html><head><title>P</title><meta property="og:image" content="{base}/og.jpg"></head>'
    public.route("/article-og", body=page.encode(), content_type="text/html")
    for status in (301, 302, 307):
        public.redirect(f"/article-{status}", f"{base}/page", status=status)
    for status in (301, 302, 307):
        public.redirect(f"/feed-{status}", f"{base}/feed", status=status)
    feeds = (public.url("/feed.xml"), *(public.url(f"/feed-{s}") for s in (301, 302, 307)))
    clock = FakeClock(1_800_000_000.0)
    with FakePlatformServer() as platforms:
        settings = platforms.settings(
            feed_urls=feeds,
            database_url=f"sqlite:///{tmp_path / 'bot.db'}",
            backlog=Backlog("all"),
            max_story_age=None,
            facebook=platforms.facebook_settings(post_type="photo"),
        )
        app = build_app(settings, clock=clock)
        try:
            with caplog.at_level(logging.INFO):
                report = app.engine.tick()
        finally:
            app.close()
        statuses = {f.url: f.status for f in report.feeds}
        assert statuses[public.url("/feed.xml")] == "ok"
        assert all(statuses[public.url(f"/feed-{s}")] == "error" for s in (301, 302, 307))
        assert len(platforms.tweets) == 7 and all(not t["media_ids"] for t in platforms.tweets)
        assert len(platforms.fb_posts) == 7 and all(not p["photo_id"] for p in platforms.fb_posts)
        instagram = [d for d in report.deliveries if d.platform == "instagram"]
        outcome = {(d.status, d.error, d.image_url) for d in instagram}
        assert outcome == {("skipped", "no image", None)}
        assert platforms.ig_media == []
    assert internal.requests == []
    refused = [r for r in caplog.records if r.getMessage().startswith("image refused")]
    assert sorted(r.image for r in refused) == sorted(  # type: ignore[attr-defined]
        f"{base}/{name}.jpg" for name in ("e", "m", "og", "t")
    )  # once each, with the reason
    assert all("loopback" in r.reason for r in refused)  # type: ignore[attr-defined]


# --- pinning: the checked address is the one connected to -----------------------------------


class CountingResolver:
    """A fake DNS: the first answer is the test server, later ones another address (a rebinding
    attacker's second answer). One look-up a request, and a name real DNS does not know, show
    that the connection went to the address the policy checked."""

    def __init__(self, first: str, later: str = "10.0.0.1") -> None:
        self.first, self.later, self.calls = first, later, 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return [self.first if self.calls == 1 else self.later]


def test_httpx_connects_to_the_address_it_checked(public: FeedServer) -> None:
    public.route("/photo.jpg", body=JPEG, content_type="image/jpeg")
    resolver = CountingResolver("127.0.0.1")
    policy = NetworkPolicy(allow_private=True, resolver=resolver)  # 127.0.0.1 stands for public
    with FakePlatformServer() as platforms:
        settings = platforms.settings(feed_urls=(public.url("/feed.xml"),))
        with make_http(settings, policy) as client:
            url = f"http://images.test:{public.port}/photo.jpg"  # no such name in real DNS
            image = fetch_image(client, url, max_bytes=100_000, types=("image/jpeg",))
    assert image.body == JPEG and resolver.calls == 1
    assert public.requests[-1].headers["host"] == f"images.test:{public.port}"


def test_aiohttp_connects_to_the_address_it_checked(public: FeedServer) -> None:
    public.route("/feed", body=b"<rss/>", content_type="application/rss+xml")
    resolver = CountingResolver("127.0.0.1")
    policy = NetworkPolicy(allow_private=True, resolver=resolver)
    with Fetcher(timeout=5, policy=policy) as fetcher:
        result = fetcher.fetch(FeedRequest(f"http://feeds.test:{public.port}/feed"))
    assert result.ok and result.body == b"<rss/>" and resolver.calls == 1
    assert public.requests[-1].headers["host"] == f"feeds.test:{public.port}"
