"""Feed handling at the engine level, over real HTTP: validators, backoff, 410, redirects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.settings import load_settings
from tests.botenv import BASE_TIME, Item, bot_env, rss
from tests.conftest import FakeClock
from tests.fakes.feed_server import FeedServer


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(BASE_TIME.timestamp())


def app_for(tmp: Path, clock: FakeClock, urls: list[str]) -> App:
    env = bot_env(tmp, FEED_URLS=" ".join(urls), DRY_RUN="true", PLATFORMS="twitter",
                  POLL_INTERVAL="10m")  # fmt: skip
    return build_app(load_settings(env, tmp), clock=clock, db_clock=clock)


def feed_state(app: App, url: str) -> object:
    return next(f for f in app.store.feeds.feed_rows() if f.url == url)


def test_second_poll_sends_validators_and_304_costs_nothing(
    feeds: FeedServer, tmp_path: Path, clock: FakeClock
) -> None:
    feeds.route("/feed.xml", body=rss([Item(1)]).encode(), etag='"v1"',
                last_modified="Fri, 15 Jan 2027 11:00:00 GMT")  # fmt: skip
    url = feeds.url("/feed.xml")
    app = app_for(tmp_path, clock, [url])
    try:
        first = app.engine.tick(force=True)
        assert [f.status for f in first.feeds] == ["ok"]
        clock.advance(600)
        second = app.engine.tick(force=True)
        assert [f.status for f in second.feeds] == ["not_modified"]
        assert second.deliveries == []
        sent = feeds.requests_to("/feed.xml")[-1].headers
        assert sent["if-none-match"] == '"v1"'
        assert sent["if-modified-since"] == "Fri, 15 Jan 2027 11:00:00 GMT"
    finally:
        app.close()


def test_failing_feed_backs_off_honouring_retry_after_beside_a_good_one(
    feeds: FeedServer, tmp_path: Path, clock: FakeClock
) -> None:
    feeds.route("/good.xml", body=rss([Item(1)]).encode())
    feeds.route("/busy.xml", status=503, body=b"busy", headers={"Retry-After": "3600"})
    good, busy = feeds.url("/good.xml"), feeds.url("/busy.xml")
    app = app_for(tmp_path, clock, [good, busy])
    try:
        report = app.engine.tick(force=True)
        assert {f.url: f.status for f in report.feeds} == {good: "ok", busy: "error"}
        assert len(report.deliveries) == 1  # the good feed went through
        assert report.failed
        state = feed_state(app, busy)
        assert state.failures == 1 and state.next_poll_at >= clock() + 3600
        clock.advance(1800)
        app.engine.tick(force=True)
        assert len(feeds.requests_to("/busy.xml")) == 1  # not asked again before Retry-After
        clock.advance(1801)
        app.engine.tick(force=True)
        assert len(feeds.requests_to("/busy.xml")) == 2
    finally:
        app.close()


def test_gone_feed_is_disabled_loudly(
    feeds: FeedServer, tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    feeds.route("/gone.xml", status=410, body=b"gone")
    url = feeds.url("/gone.xml")
    app = app_for(tmp_path, clock, [url])
    try:
        report = app.engine.tick(force=True)
        assert [f.status for f in report.feeds] == ["gone"]
        assert feed_state(app, url).disabled
        assert any("FEED DISABLED" in r.message and r.levelname == "ERROR" for r in caplog.records)
        clock.advance(86400)
        app.engine.tick(force=True)
        assert len(feeds.requests_to("/gone.xml")) == 1
    finally:
        app.close()


def test_permanent_redirect_updates_the_stored_address(
    feeds: FeedServer, tmp_path: Path, clock: FakeClock
) -> None:
    feeds.route("/new.xml", body=rss([Item(1)]).encode())
    feeds.redirect("/old.xml", "/new.xml", status=301)
    old = feeds.url("/old.xml")
    app = app_for(tmp_path, clock, [old])
    try:
        app.engine.tick(force=True)
        assert feed_state(app, old).current_url == feeds.url("/new.xml")
        clock.advance(600)
        app.engine.tick(force=True)
        assert len(feeds.requests_to("/old.xml")) == 1  # the second poll went straight there
        assert len(feeds.requests_to("/new.xml")) == 2
    finally:
        app.close()


def test_html_page_is_not_a_feed(feeds: FeedServer, tmp_path: Path, clock: FakeClock) -> None:
    feeds.route("/page", body=b"<!doctype html><html><body>Hi</body></html>",
                content_type="text/html")  # fmt: skip
    url = feeds.url("/page")
    app = app_for(tmp_path, clock, [url])
    try:
        [feed] = app.engine.tick(force=True).feeds
        assert feed.status == "error" and "not a feed" in (feed.error or "")
    finally:
        app.close()


def test_many_feeds_are_polled_in_shares_each_once(tmp_path: Path, clock: FakeClock) -> None:
    from tests.botenv import write_feed

    urls = [write_feed(tmp_path / f"f{n}.xml", [Item(n)]) for n in range(70)]
    env = bot_env(tmp_path, FEED_URLS=" ".join(urls), DRY_RUN="true", PLATFORMS="twitter",
                  FEED_CONCURRENCY="1")  # fmt: skip
    app = build_app(load_settings(env, tmp_path), clock=clock)
    try:
        report = app.engine.tick(force=True)
        assert sorted(f.url for f in report.feeds) == sorted(urls)  # all, each once
        assert len(report.deliveries) == 70
    finally:
        app.close()


def test_the_same_body_again_without_validators_is_not_parsed_again(
    feeds: FeedServer, tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No ETag, no Last-Modified: every poll is a full 200, as with many real feeds.
    route = feeds.route("/plain.xml", body=rss([Item(1)]).encode())
    url = feeds.url("/plain.xml")
    app = app_for(tmp_path, clock, [url])
    parsed: list[str] = []
    submit = app.engine.parser.submit
    monkeypatch.setattr(
        app.engine.parser,
        "submit",
        lambda body, **kw: parsed.append(kw["url"]) or submit(body, **kw),
    )
    try:
        assert [f.status for f in app.engine.tick(force=True).feeds] == ["ok"]
        clock.advance(600)
        again = app.engine.tick(force=True)
        assert [f.status for f in again.feeds] == ["not_modified"] and again.deliveries == []
        assert parsed == [url]  # the unchanged body was not parsed a second time
        route.body = rss([Item(2), Item(1)]).encode()  # a new story: the body changes
        clock.advance(600)
        changed = app.engine.tick(force=True)
        assert [f.status for f in changed.feeds] == ["ok"] and changed.feeds[0].new_stories == 1
        assert parsed == [url, url]
        assert len(feeds.requests_to("/plain.xml")) == 3
    finally:
        app.close()


def test_a_body_whose_processing_failed_is_processed_when_it_comes_again(
    feeds: FeedServer, tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds.route("/plain.xml", body=rss([Item(1)]).encode())
    app = app_for(tmp_path, clock, [feeds.url("/plain.xml")])
    add_skipped = app.store.stories.add_skipped

    def crash(*args: object) -> None:
        raise RuntimeError("disk full")

    try:
        monkeypatch.setattr(app.store.stories, "add_skipped", crash)
        with pytest.raises(RuntimeError):
            app.engine.tick(force=True)
        assert feed_state(app, feeds.url("/plain.xml")).body_digest is None
        monkeypatch.setattr(app.store.stories, "add_skipped", add_skipped)
        clock.advance(600)
        report = app.engine.tick(force=True)
        assert [f.status for f in report.feeds] == ["ok"] and report.feeds[0].new_stories == 1
        assert feed_state(app, feeds.url("/plain.xml")).body_digest is not None
    finally:
        app.close()


def test_feeds_go_through_the_proxy_the_settings_name(
    feeds: FeedServer, tmp_path: Path, clock: FakeClock
) -> None:
    feeds.route("http://news.example/feed.xml", body=rss([Item(1)]).encode())  # as a proxy
    env = bot_env(tmp_path, FEED_URLS="http://news.example/feed.xml", DRY_RUN="true",
                  PLATFORMS="twitter", HTTP_PROXY=feeds.url(""))  # fmt: skip
    app = build_app(load_settings(env, tmp_path), clock=clock)
    try:
        assert [f.status for f in app.engine.tick(force=True).feeds] == ["ok"]
    finally:
        app.close()
    assert [r.path for r in feeds.requests] == ["http://news.example/feed.xml"]
