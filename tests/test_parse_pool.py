"""The parse helper process gives exactly what inline parsing gives, errors included."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.errors import FeedError
from bot.feeds.parse_pool import ParsePool
from bot.settings import PROJECT_ROOT

NOW = datetime(2026, 11, 29, tzinfo=UTC)


@pytest.fixture(scope="module")
def pool() -> ParsePool:
    p = ParsePool(workers=1, threshold=2)
    p.warm_up()
    yield p
    p.close()


def test_pool_and_inline_agree(pool: ParsePool) -> None:
    body = (PROJECT_ROOT / "config" / "sample-feed.xml").read_bytes()
    kw = {"url": "https://www.jckonline.com/feed/", "now": NOW, "content_type": "text/xml"}
    pooled = pool.submit(body, in_pool=True, **kw)
    pool.flush()
    in_pool = pooled.result(timeout=60)
    inline = pool.submit(body, in_pool=False, **kw).result()
    assert in_pool == inline
    assert len(in_pool.stories) == 6


def test_a_feed_error_crosses_the_process_boundary(pool: ParsePool) -> None:
    html = b"<!doctype html><html><body>not a feed</body></html>"
    future = pool.submit(html, url="https://x.example/page", now=NOW, content_type="text/html",
                         in_pool=True)  # fmt: skip
    pool.flush()
    with pytest.raises(FeedError) as info:
        future.result(timeout=60)
    assert info.value.url == "https://x.example/page" and "not a feed" in info.value.reason


def test_small_batches_stay_inline() -> None:
    assert not ParsePool(workers=1, threshold=64).wants_pool(10)
    assert not ParsePool(workers=0).wants_pool(1000)


def test_the_helper_leaves_ctrl_c_to_the_worker(pool: ParsePool) -> None:
    import os
    import signal

    assert pool._pool is not None
    [pid] = list(pool._pool._processes)
    os.kill(pid, signal.SIGINT)  # what a terminal's Ctrl-C sends to the whole group
    body = (PROJECT_ROOT / "config" / "sample-feed.xml").read_bytes()
    future = pool.submit(body, url="https://x.example/feed", now=NOW, content_type=None,
                         in_pool=True)  # fmt: skip
    pool.flush()
    assert len(future.result(timeout=60).stories) == 6  # the helper is still alive


def test_this_process_parses_while_the_helper_has_enough_queued() -> None:
    body = (PROJECT_ROOT / "config" / "sample-feed.xml").read_bytes()
    kw = {"url": "https://www.jckonline.com/feed/", "now": NOW, "content_type": "text/xml"}
    expected = ParsePool(workers=0).submit(body, in_pool=False, **kw).result()
    pool = ParsePool(workers=1, threshold=1, chunk=1, backlog=1)
    pool.warm_up()
    try:
        # Submitted back to back: the helper cannot answer each one-document chunk before
        # the next arrives, so some documents are parsed here and some there.
        futures = [pool.submit(body, in_pool=True, **kw) for _ in range(20)]
        pool.flush()
        results = [f.result(timeout=60) for f in futures]
    finally:
        pool.close()
    assert 0 < pool.inline_in_pool < 20
    assert all(result == expected for result in results)


def test_finish_parses_a_part_filled_chunk_here() -> None:
    body = (PROJECT_ROOT / "config" / "sample-feed.xml").read_bytes()
    kw = {"url": "https://www.jckonline.com/feed/", "now": NOW, "content_type": "text/xml"}
    pool = ParsePool(workers=1, threshold=1, chunk=16)  # never started: nothing is shipped
    futures = [pool.submit(body, in_pool=True, **kw) for _ in range(3)]
    assert not any(f.done() for f in futures)
    pool.finish()
    assert pool._pool is None and pool.inline_in_pool == 3
    assert all(len(f.result(timeout=0).stories) == 6 for f in futures)
