"""Every transfer is bounded as a whole: HTTP_TIMEOUT ends a trickling page, image or probe (not
each read), gzip is decoded against the cap a step at a time on both clients, and a poll's
article pages are fetched together within one budget."""

from __future__ import annotations

import gzip
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import build_app, make_http
from bot.feeds.fetch import FeedRequest, Fetcher
from bot.net import DownloadError, download
from bot.netpolicy import OPEN
from bot.platforms.media import ImageProblem, fetch_image, probe_image
from bot.settings import Backlog, Settings
from tests.fakes.feed_server import FeedServer
from tests.fakes.images import jpeg_bytes

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def _settings(server: FeedServer, **kw: object) -> Settings:
    values: dict[str, object] = {"feed_urls": (server.url("/feed.xml"),), "http_timeout": 1.0}
    values.update(kw)
    return Settings(**values)  # type: ignore[arg-type]


def test_a_trickle_is_cut_at_http_timeout_for_the_whole_transfer(server: FeedServer) -> None:
    # 40 chunks, 0.2 s apart: every read is quick, the whole takes 8 s
    trickle = {"chunk_size": 100, "chunk_delay": 0.2}
    server.route("/page", body=b"<html>" + b"x" * 3994, content_type="text/html", **trickle)
    server.route("/img.jpg", body=jpeg_bytes(4000), content_type="image/jpeg", **trickle)
    with make_http(_settings(server)) as client:
        started = time.monotonic()
        with pytest.raises(DownloadError, match=r"timed out after 1 s"):
            download(client, server.url("/page"), max_bytes=100_000)
        with pytest.raises(ImageProblem, match="timed out") as caught:
            fetch_image(client, server.url("/img.jpg"), max_bytes=100_000, types=("image/jpeg",))
        assert caught.value.transient
        assert time.monotonic() - started < 4  # two transfers of 1 s each, not 16 s


def test_a_probe_that_hangs_after_the_headers_is_cut_too(server: FeedServer) -> None:
    server.route("/img.jpg", body=b"\xff\xd8\xff" + b"x" * 99, content_type="image/jpeg",
                 chunk_size=1, chunk_delay=0.5)  # fmt: skip
    with make_http(_settings(server)) as client:
        started = time.monotonic()
        with pytest.raises(ImageProblem, match="timed out"):
            probe_image(client, server.url("/img.jpg"), max_bytes=100_000, types=("image/jpeg",))
        assert time.monotonic() - started < 3


def _bomb(size: int) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as handle:
        for _ in range(size // (1 << 20)):
            handle.write(b" " * (1 << 20))
    return out.getvalue()


def test_a_gzip_bomb_is_cut_at_the_cap_on_both_clients(server: FeedServer) -> None:
    bomb = _bomb(256 << 20)  # 256 MB inflated, 250 KB on the wire
    headers = {"Content-Encoding": "gzip"}
    server.route("/feed.xml", body=bomb, headers=headers)
    server.route("/page", body=bomb, headers=headers, content_type="text/html")
    cap = pytest.raises(DownloadError, match="over the 1000000-byte cap")
    with make_http(_settings(server)) as client, cap:
        download(client, server.url("/page"), max_bytes=1_000_000)
    with Fetcher(policy=OPEN, timeout=5, max_bytes=1_000_000) as fetcher:
        result = fetcher.fetch(FeedRequest(server.url("/feed.xml")))
    assert result.error is not None and "over the 1000000-byte cap" in result.error.reason


def test_gzip_and_deflate_bodies_under_the_cap_are_decoded(server: FeedServer) -> None:
    import zlib

    server.route("/g", body=gzip.compress(b"hello " * 1000), headers={"Content-Encoding": "gzip"})
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    server.route("/d", body=raw.compress(b"raw deflate") + raw.flush(),
                 headers={"Content-Encoding": "deflate"})  # fmt: skip
    with make_http(_settings(server)) as client:
        assert download(client, server.url("/g"), max_bytes=10_000).body == b"hello " * 1000
        assert download(client, server.url("/d"), max_bytes=10_000).body == b"raw deflate"


def test_a_polls_article_pages_are_fetched_together_within_one_budget(
    server: FeedServer, tmp_path: Path
) -> None:
    items = "".join(
        f"<item><title>Story {n}</title><link>{server.url(f'/article-{n}')}</link>"
        f"<guid>s{n}</guid></item>"
        for n in range(1, 7)
    )
    server.route("/feed.xml", body=f'<rss version="2.0"><channel>{items}</channel></rss>'.encode())
    for n in range(1, 6):
        page = f'<html><head><meta property="og:image" content="/img-{n}.jpg"></head></html>'
        server.route(f"/article-{n}", body=page.encode(), content_type="text/html", delay=0.5)
    # the sixth page never finishes: it costs its own HTTP_TIMEOUT, within the poll's budget
    server.route("/article-6", body=b"<html>" + b" " * 600, content_type="text/html",
                 chunk_size=10, chunk_delay=0.5)  # fmt: skip
    settings = _settings(
        server,
        platforms=("instagram",),
        dry_run=True,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        backlog=Backlog("all"),
        max_story_age=None,
    )
    app = build_app(settings)
    try:
        started = time.monotonic()
        report = app.engine.tick()
        elapsed = time.monotonic() - started
    finally:
        app.close()
    images = {d.story_url: d.image_url for d in report.deliveries}
    assert all(images[server.url(f"/article-{n}")] for n in range(1, 6))
    assert images[server.url("/article-6")] is None
    assert server.max_in_flight >= 5  # the pages were fetched together
    assert elapsed < 6  # one after the other: 2.5 s of delays plus the trickle's 1 s
