"""The Fetcher against a real local HTTP server: validators, redirects, caps, timeouts, limits."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

import bot
from bot.errors import FeedError
from bot.feeds.fetch import FeedRequest, Fetcher, content_digest
from bot.feeds.parse import parse_fetched
from bot.netpolicy import OPEN
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(30)

SAMPLE = Path(__file__).resolve().parents[1] / "config" / "sample-feed.xml"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>A</title><link>https://example.com/a</link></item></channel></rss>'


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(policy=OPEN, timeout=5.0, clock=lambda: NOW) as f:
        yield f


def test_conditional_get_sends_validators_and_304_costs_nothing(
    server: FeedServer, fetcher: Fetcher
) -> None:
    modified = "Fri, 27 Nov 2026 15:04:11 GMT"
    server.serve_file("/feed", SAMPLE, etag='"v1"', last_modified=modified)
    first = fetcher.fetch(FeedRequest(server.url("/feed")))
    assert first.ok and first.status == 200 and first.body == SAMPLE.read_bytes()
    assert (first.etag, first.last_modified) == ('"v1"', modified)
    assert "if-none-match" not in server.requests[0].headers

    second = fetcher.fetch(FeedRequest(server.url("/feed"), first.etag, first.last_modified))
    sent = server.requests[1].headers
    assert sent["if-none-match"] == '"v1"' and sent["if-modified-since"] == modified
    assert second.not_modified and second.status == 304 and second.body is None
    assert second.error is None and (second.etag, second.last_modified) == ('"v1"', modified)
    assert parse_fetched(second, now=NOW) is None  # nothing to parse


def test_last_modified_alone_also_gets_304(server: FeedServer, fetcher: Fetcher) -> None:
    modified = "Fri, 27 Nov 2026 15:04:11 GMT"
    server.route("/feed", body=RSS, last_modified=modified)
    result = fetcher.fetch(FeedRequest(server.url("/feed"), last_modified=modified))
    assert result.not_modified and result.last_modified == modified


@pytest.mark.parametrize(("status", "permanent"), [(301, True), (308, True), (302, False)])
def test_redirect_updates_permanent_url_only_when_permanent(
    server: FeedServer, fetcher: Fetcher, status: int, permanent: bool
) -> None:
    server.route("/new", body=RSS)
    server.redirect("/old", "/new", status=status)
    result = fetcher.fetch(FeedRequest(server.url("/old")))
    assert result.ok and result.body == RSS and result.final_url == server.url("/new")
    assert result.permanent_url == (server.url("/new") if permanent else None)


def test_one_temporary_hop_in_a_chain_keeps_the_stored_url(
    server: FeedServer, fetcher: Fetcher
) -> None:
    server.route("/c", body=RSS)
    server.redirect("/a", "/b", status=301)
    server.redirect("/b", server.url("/c"), status=307)
    result = fetcher.fetch(FeedRequest(server.url("/a")))
    assert result.ok and result.final_url == server.url("/c") and result.permanent_url is None


def test_five_redirects_are_followed_and_six_fail(server: FeedServer, fetcher: Fetcher) -> None:
    server.route("/end", body=RSS)
    for i in range(6):
        server.redirect(f"/r{i}", f"/r{i + 1}" if i < 5 else "/end", status=301)
    five = fetcher.fetch(FeedRequest(server.url("/r1")))
    assert five.ok and five.permanent_url == server.url("/end")
    six = fetcher.fetch(FeedRequest(server.url("/r0")))
    assert six.error is not None and "too many redirects" in six.error.reason
    assert six.body is None


def test_redirect_to_a_non_http_scheme_is_refused(server: FeedServer, fetcher: Fetcher) -> None:
    server.redirect("/evil", "file:///etc/passwd", status=302)
    result = fetcher.fetch(FeedRequest(server.url("/evil")))
    assert result.error is not None and "non-http" in result.error.reason


def test_declared_length_over_the_cap_is_refused_before_reading(server: FeedServer) -> None:
    server.route("/big", body=b"x" * 5000)
    with Fetcher(policy=OPEN, timeout=5.0, max_bytes=1000) as fetcher:
        result = fetcher.fetch(FeedRequest(server.url("/big")))
    assert result.error is not None and "1000-byte cap" in result.error.reason
    assert result.body is None


@pytest.mark.parametrize("framing", ["close-delimited", "chunked"])
def test_body_without_length_is_cut_off_while_streaming(server: FeedServer, framing: str) -> None:
    # 2 MB in 1 KB chunks: the cap (10 KB) must trip long before the end arrives
    server.route(
        "/big",
        body=b"x" * 2_000_000,
        chunk_size=1024,
        content_length=None,
        chunked=framing == "chunked",
    )
    with Fetcher(policy=OPEN, timeout=5.0, max_bytes=10_000) as fetcher:
        result = fetcher.fetch(FeedRequest(server.url("/big")))
    assert result.error is not None and "cut off while streaming" in result.error.reason
    assert server.url("/big") in str(result.error)


def test_a_lying_content_length_never_lets_more_in(server: FeedServer) -> None:
    server.route("/liar", body=b"y" * 50_000, content_length=100)
    with Fetcher(policy=OPEN, timeout=5.0, max_bytes=10_000) as fetcher:
        results = [fetcher.fetch(FeedRequest(server.url("/liar"))) for _ in range(10)]
    for result in results:
        # The declared 100 bytes, or (when the excess arrives in the same TCP segment, which
        # the parser then reads as a broken next response) a short error: never the excess.
        if result.ok:
            assert result.body == b"y" * 100
        else:
            assert result.error is not None and result.body is None
            assert "not a valid HTTP response" in result.error.reason
            assert len(result.error.reason) < 400


def test_gzip_bomb_is_capped_on_decoded_bytes(server: FeedServer) -> None:
    server.route("/bomb", body=b"\0" * 3_000_000, gzip=True)  # ~3 KB on the wire
    with Fetcher(policy=OPEN, timeout=5.0, max_bytes=100_000) as fetcher:
        result = fetcher.fetch(FeedRequest(server.url("/bomb")))
    assert result.error is not None and "cap" in result.error.reason


def test_slow_trickle_is_ended_by_the_overall_deadline(server: FeedServer) -> None:
    # each chunk arrives well within the read timeout, so only a total deadline can end it
    server.route("/slow", body=b"<rss>" + b" " * 200, chunk_size=1, chunk_delay=0.05)
    with Fetcher(policy=OPEN, timeout=0.5) as fetcher:
        started = time.monotonic()
        result = fetcher.fetch(FeedRequest(server.url("/slow")))
        elapsed = time.monotonic() - started
    assert result.error is not None and "timed out" in result.error.reason
    assert elapsed < 2.0


def test_server_that_never_answers_times_out(server: FeedServer) -> None:
    server.route("/hang", body=RSS, delay=3.0)
    with Fetcher(policy=OPEN, timeout=0.3) as fetcher:
        started = time.monotonic()
        result = fetcher.fetch(FeedRequest(server.url("/hang")))
    assert result.error is not None and "timed out" in result.error.reason
    assert time.monotonic() - started < 2.0


def test_html_page_is_not_a_feed_naming_the_url(server: FeedServer, fetcher: Fetcher) -> None:
    page = b"<!DOCTYPE html><html><head><title>Log in</title></head><body>Hi</body></html>"
    server.route("/login", body=page, content_type="text/html; charset=utf-8")
    result = fetcher.fetch(FeedRequest(server.url("/login")))
    assert result.ok
    with pytest.raises(FeedError, match="not a feed") as caught:
        parse_fetched(result, now=NOW)
    assert caught.value.url == server.url("/login") and server.url("/login") in str(caught.value)


def test_429_with_retry_after_seconds(server: FeedServer, fetcher: Fetcher) -> None:
    server.route("/busy", status=429, body=b"slow down", headers={"Retry-After": "120"})
    result = fetcher.fetch(FeedRequest(server.url("/busy")))
    assert result.error is not None and result.error.retry_after == 120
    assert result.error.status == 429 and not result.error.gone
    with pytest.raises(FeedError):
        parse_fetched(result, now=NOW)


def test_503_with_retry_after_http_date(server: FeedServer, fetcher: Fetcher) -> None:
    when = format_datetime(NOW + timedelta(seconds=300), usegmt=True)
    server.route("/down", status=503, body=b"maintenance", headers={"Retry-After": when})
    result = fetcher.fetch(FeedRequest(server.url("/down")))
    assert result.error is not None and result.error.retry_after == 300


def test_500_has_no_retry_after_and_keeps_validators(server: FeedServer, fetcher: Fetcher) -> None:
    server.route("/err", status=500, body=b"oops", headers={"Retry-After": "60"})
    result = fetcher.fetch(FeedRequest(server.url("/err"), etag='"old"'))
    assert result.error is not None and result.error.retry_after is None
    assert "HTTP 500" in result.error.reason and result.etag == '"old"'


def test_410_marks_the_feed_gone(server: FeedServer, fetcher: Fetcher) -> None:
    server.route("/gone", status=410, body=b"")
    result = fetcher.fetch(FeedRequest(server.url("/gone")))
    assert result.error is not None and result.error.gone and result.error.status == 410


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_failing_feeds_beside_a_good_one(server: FeedServer, fetcher: Fetcher) -> None:
    server.route("/good", body=RSS, etag='"g"')
    server.route("/bad", status=500, body=b"")
    requests = [
        FeedRequest(server.url("/bad")),
        FeedRequest(f"http://127.0.0.1:{_closed_port()}/feed"),
        FeedRequest(server.url("/good")),
        FeedRequest("ftp://127.0.0.1/feed"),
    ]
    results = fetcher.fetch_many(requests)
    assert [r.request for r in results] == requests
    bad, refused, good, ftp = results
    assert bad.error is not None and "HTTP 500" in bad.error.reason
    assert refused.error is not None and refused.status is None
    assert ftp.error is not None and "unsupported URL scheme" in ftp.error.reason
    assert good.ok and good.body == RSS and good.etag == '"g"'
    parsed = parse_fetched(good, now=NOW)
    assert parsed is not None and parsed.stories[0].url == "https://example.com/a"


def test_global_concurrency_bound(server: FeedServer) -> None:
    for i in range(8):
        server.route(f"/f{i}", body=RSS, delay=0.15)
    with Fetcher(policy=OPEN, timeout=5.0, concurrency=3, per_host=10) as fetcher:
        results = fetcher.fetch_many([FeedRequest(server.url(f"/f{i}")) for i in range(8)])
    assert all(r.ok for r in results)
    assert server.max_in_flight == 3


def test_per_host_bound(server: FeedServer) -> None:
    for i in range(6):
        server.route(f"/f{i}", body=RSS, delay=0.15)
    with Fetcher(policy=OPEN, timeout=5.0, concurrency=16, per_host=2) as fetcher:
        results = fetcher.fetch_many([FeedRequest(server.url(f"/f{i}")) for i in range(6)])
    assert all(r.ok for r in results)
    assert server.max_in_flight == 2


def test_per_host_bound_lets_different_hosts_run_together() -> None:
    # Three host names (Linux routes all of 127.0.0.0/8 to the loopback interface), three
    # slow feeds each: one request at a time per host, the three hosts at once.
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(FeedServer(f"127.0.0.{n}")) for n in (1, 2, 3)]
        for srv in servers:
            for i in range(3):
                srv.route(f"/feed{i}", body=RSS, delay=0.1)
        urls = [srv.url(f"/feed{i}") for srv in servers for i in range(3)]
        with Fetcher(policy=OPEN, timeout=5.0, per_host=1) as fetcher:
            results = fetcher.fetch_many([FeedRequest(u) for u in urls])
    assert all(r.ok for r in results)
    assert [srv.max_in_flight for srv in servers] == [1, 1, 1]
    # Side by side: every host had its first request before any host had its second.
    arrivals = [sorted(r.at for r in srv.requests) for srv in servers]
    assert max(a[0] for a in arrivals) < min(a[1] for a in arrivals)


def test_gzip_is_requested_and_decoded(server: FeedServer, fetcher: Fetcher) -> None:
    body = SAMPLE.read_bytes()
    server.route("/gz", body=body, gzip=True)
    result = fetcher.fetch(FeedRequest(server.url("/gz")))
    assert "gzip" in server.requests[0].headers["accept-encoding"]
    assert result.ok and result.body == body
    assert len(gzip.compress(body)) < len(body)  # it really travelled compressed


def test_user_agent_names_bot_version_and_url(server: FeedServer, fetcher: Fetcher) -> None:
    server.route("/feed", body=RSS)
    fetcher.fetch(FeedRequest(server.url("/feed")))
    agent = server.requests[0].headers["user-agent"]
    assert agent == bot.USER_AGENT
    assert bot.__version__ in agent and bot.PROJECT_URL in agent


def test_connections_are_kept_alive_between_polls(server: FeedServer, fetcher: Fetcher) -> None:
    server.route("/feed", body=RSS)
    fetcher.fetch_many([FeedRequest(server.url("/feed"))])
    fetcher.fetch_many([FeedRequest(server.url("/feed"))])
    ports = {r.client_port for r in server.requests}
    assert len(server.requests) == 2 and len(ports) == 1


def test_file_urls_are_read_with_the_cap(tmp_path: Path) -> None:
    feed = tmp_path / "my feed.xml"
    feed.write_bytes(RSS)
    big = tmp_path / "big.xml"
    big.write_bytes(b"x" * 2000)
    with Fetcher(policy=OPEN, max_bytes=1000) as fetcher:
        ok, over, missing = fetcher.fetch_many(
            [
                FeedRequest(feed.as_uri()),
                FeedRequest(big.as_uri()),
                FeedRequest((tmp_path / "nope.xml").as_uri()),
            ]
        )
    assert ok.ok and ok.body == RSS and ok.status is None and ok.final_url == feed.as_uri()
    assert over.error is not None and "1000-byte cap" in over.error.reason
    assert missing.error is not None and "cannot read" in missing.error.reason
    parsed = parse_fetched(ok, now=NOW)
    assert parsed is not None and parsed.title == "T"


def test_closed_fetcher_refuses_work() -> None:
    fetcher = Fetcher(policy=OPEN)
    fetcher.close()
    fetcher.close()  # idempotent
    with pytest.raises(RuntimeError):
        fetcher.fetch_many([FeedRequest("https://example.com/feed")])


def test_a_304_leaves_the_connection_reusable(server: FeedServer, fetcher: Fetcher) -> None:
    server.route("/feed", body=RSS, etag='"v1"')
    server.route("/other", body=RSS)
    first = fetcher.fetch(FeedRequest(server.url("/feed")))
    second = fetcher.fetch(FeedRequest(server.url("/feed"), first.etag))
    third = fetcher.fetch(FeedRequest(server.url("/other")))
    assert second.not_modified and third.status == 200
    assert len({r.client_port for r in server.requests}) == 1


def test_keep_alive_pools_are_kept_for_the_most_recent_hosts_only(server: FeedServer) -> None:
    server.route("/feed", body=RSS)
    # 127.0.0.1 and localhost are two host names for the one server.
    urls = [server.url("/feed"), server.url("/feed").replace("127.0.0.1", "localhost")]

    def ports(kept_hosts: int) -> list[int]:
        server.requests.clear()
        with Fetcher(policy=OPEN, timeout=5.0, kept_hosts=kept_hosts) as fetcher:
            for url in (urls[0], urls[1], urls[0]):
                assert fetcher.fetch(FeedRequest(url)).ok
        return [r.client_port for r in server.requests]

    kept = ports(2)
    assert kept[0] == kept[2] != kept[1]
    evicted = ports(1)  # localhost's request closed 127.0.0.1's idle connection
    assert len(set(evicted)) == 3


def test_kept_hosts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="kept_hosts"):
        Fetcher(kept_hosts=0)


def test_fetch_iter_yields_each_feed_as_it_completes() -> None:
    from tests.fakes.feed_server import FeedServer

    with FeedServer() as server, Fetcher(policy=OPEN, timeout=5) as fetcher:
        server.route("/slow.xml", body=b"<rss/>", delay=0.5)
        server.route("/fast.xml", body=b"<rss/>")
        requests = [FeedRequest(server.url("/slow.xml")), FeedRequest(server.url("/fast.xml"))]
        order = [index for index, _ in fetcher.fetch_iter(requests)]
    assert order == [1, 0]  # the fast one first; indexes map back to the requests


def test_feeds_go_through_the_configured_proxy_unless_no_proxy_says_otherwise(
    server: FeedServer,
) -> None:
    # A forward proxy gets the absolute URL as the request target; the fake server plays one.
    server.route("http://feeds.example/feed", body=RSS)
    server.route("/direct", body=RSS)
    proxies = {"http": server.url(""), "no": "127.0.0.1"}
    with Fetcher(policy=OPEN, timeout=5.0, proxies=proxies) as fetcher:
        proxied = fetcher.fetch(FeedRequest("http://feeds.example/feed"))
        direct = fetcher.fetch(FeedRequest(server.url("/direct")))
    assert proxied.ok and proxied.body == RSS and direct.ok
    assert [r.path for r in server.requests] == ["http://feeds.example/feed", "/direct"]
    assert server.requests[0].headers["host"] == "feeds.example"


@pytest.mark.parametrize("size", [0, 1, 2047, 2048, 4095, 50_000])
def test_content_digest_is_the_sha256_of_the_whole_body(size: int) -> None:
    body = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    assert content_digest(body) == hashlib.sha256(body).hexdigest()
