"""WebSub: discovery, the callback (verification, signatures), subscription and renewal against
a hub written for the tests, and the whole path in a real `run` process: a pushed story is
posted within seconds, a forged push is ignored, a story pushed and polled is posted once."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from pathlib import Path

import pytest

from bot.web.websub import signature_valid
from bot.websub.discover import discover, parse_link_header
from bot.websub.subscriber import Subscriber
from tests.botenv import BASE_TIME, Item, rss, run_main
from tests.conftest import FakeClock
from tests.fakes.feed_server import FeedServer
from tests.fakes.platform_server import FakePlatformServer
from tests.fakes.websub_hub import FakeHub
from tests.test_cli_post import platform_env
from tests.test_web_browser import free_port
from tests.test_worker import Proc
from tests.webkit import make_app, web_client

ATOM = "http://www.w3.org/2005/Atom"


def hub_feed(items: list[Item], hub: str, topic: str) -> bytes:
    links = (
        f'<atom:link xmlns:atom="{ATOM}" rel="hub" href="{hub}"/>'
        f'<atom:link xmlns:atom="{ATOM}" rel="self" href="{topic}"/>'
    )
    return (
        rss(items, image_base="https://img.example.com")
        .replace("<channel>", "<channel>" + links, 1)
        .encode()
    )


# --- discovery ---------------------------------------------------------------------------------


def test_discovery_reads_link_headers_first() -> None:
    found = discover(
        "https://news.example.com/feed/",
        ['<https://hub.example.com/>; rel="hub", </feed/?self>; rel="self"'],
        hub_feed([Item(1)], "https://other-hub.example.com/", "https://x.example.com/"),
    )
    assert found.hub == "https://hub.example.com/"
    assert found.topic == "https://news.example.com/feed/?self"


def test_discovery_reads_rss_atom_link_atom_link_and_json_feed_hubs() -> None:
    url = "https://news.example.com/feed/"
    rss_body = hub_feed([Item(1)], "https://hub.example.com/", "https://news.example.com/feed/")
    assert discover(url, [], rss_body).hub == "https://hub.example.com/"
    atom = (
        f'<feed xmlns="{ATOM}"><title>t</title><link rel="hub" href="/hub"/>'
        '<link rel="self" href="https://news.example.com/atom"/>'
        '<entry><link rel="hub" href="https://entry-hub.example.com/"/></entry></feed>'
    ).encode()
    found = discover(url, [], atom)
    assert (found.hub, found.topic) == (
        "https://news.example.com/hub",
        "https://news.example.com/atom",
    )
    json_feed = (
        b'{"version": "https://jsonfeed.org/version/1.1", "feed_url": "https://n.example.com/j",'
        b' "hubs": [{"type": "WebSub", "url": "https://hub.example.com/j"}], "items": []}'
    )
    found = discover(url, [], json_feed)
    assert (found.hub, found.topic) == ("https://hub.example.com/j", "https://n.example.com/j")


def test_discovery_without_a_hub_and_on_garbage() -> None:
    url = "https://news.example.com/feed/"
    assert discover(url, [], rss([Item(1)]).encode()).hub is None
    assert discover(url, [], b"\x00<not xml").hub is None
    assert discover(url, ["garbage"], b"{not json").hub is None
    assert parse_link_header(['<a>; rel="hub self", <b>; rel=next']) == {
        "hub": "a",
        "self": "a",
        "next": "b",
    }


# --- signatures --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha512"])
def test_signature_methods(method: str) -> None:
    body = b"<rss/>"
    good = hmac.new(b"s3cret", body, getattr(hashlib, method)).hexdigest()
    assert signature_valid("s3cret", body, f"{method}={good}")
    assert not signature_valid("other", body, f"{method}={good}")
    assert not signature_valid("s3cret", body + b" ", f"{method}={good}")


def test_signature_missing_or_unknown_method_is_invalid() -> None:
    assert not signature_valid("s3cret", b"x", None)
    assert not signature_valid("s3cret", b"x", "")
    assert not signature_valid("s3cret", b"x", "md5=" + hashlib.md5(b"x").hexdigest())


# --- the callback, in process ------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(BASE_TIME.timestamp())


def test_callback_verification_and_pushes(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock, PUBLIC_URL="https://bot.example.com")
    feed = app.settings.feed_urls[0]
    try:
        app.store.websub.websub_requested(
            feed, "https://hub.example.com/", "https://t/", "tok", "hub-secret-0123456789", 1.0
        )
        with web_client(app) as (client, ctx):
            pushed: list[tuple[str, bytes]] = []
            ctx.push = lambda url, body, _type: pushed.append((url, body))
            params = {"hub.mode": "subscribe", "hub.topic": "https://t/", "hub.challenge": "abc"}
            answer = client.get("/websub/tok", params={**params, "hub.lease_seconds": "600"})
            assert (answer.status_code, answer.text) == (200, "abc")
            sub = app.store.websub.subscriptions()[feed]
            assert sub.state == "active" and sub.expires_at == pytest.approx(clock() + 600)
            # Not what we asked for: another topic, an unsubscribe, an unknown callback.
            assert client.get("/websub/tok", params={**params, "hub.topic": "x"}).status_code == 404
            unsub = {**params, "hub.mode": "unsubscribe"}
            assert client.get("/websub/tok", params=unsub).status_code == 404
            assert client.get("/websub/nope", params=params).status_code == 404

            body = b"<rss>pushed</rss>"
            good = "sha256=" + hmac.new(b"hub-secret-0123456789", body, hashlib.sha256).hexdigest()
            for header in ({}, {"X-Hub-Signature": "sha256=00"}, {"X-Hub-Signature": "sha1=zz"}):
                forged = client.post("/websub/tok", content=body, headers=header)
                assert forged.status_code == 202  # answered 2xx, as the spec says
            assert pushed == []  # ...and ignored
            ok = client.post("/websub/tok", content=body, headers={"X-Hub-Signature": good})
            assert ok.status_code == 202
            assert pushed == [(feed, body)]
            assert app.store.websub.subscriptions()[feed].pushes == 1
            assert client.post("/websub/unknown", content=body).status_code == 410
            denied = client.get(
                "/websub/tok", params={"hub.mode": "denied", "hub.topic": "https://t/"}
            )
            assert denied.status_code == 200
            assert app.store.websub.subscriptions()[feed].state == "denied"
            for page in ("/metrics", "/healthz"):
                assert "hub-secret-0123456789" not in client.get(page).text
    finally:
        app.close()


# --- subscribing and renewing against the test hub ----------------------------------------------


def test_subscriber_discovers_subscribes_and_renews_before_the_lease_lapses(
    tmp_path: Path, clock: FakeClock
) -> None:
    from bot.web.server import BackgroundServer, make_server
    from bot.web.service import context_for

    port = free_port()
    with FeedServer() as feeds, FakeHub(lease_seconds=86400) as hub:
        topic = feeds.url("/feed.xml")
        feeds.route("/feed.xml", body=hub_feed([Item(1)], hub.url, topic))
        feeds.route("/plain.xml", body=rss([Item(2)]).encode())
        app = make_app(
            tmp_path,
            clock,
            FEED_URLS=f"{topic},{feeds.url('/plain.xml')}",
            PUBLIC_URL=f"http://127.0.0.1:{port}",
            BACKLOG="skip",
            ALLOW_PRIVATE_NETWORKS="true",  # the test hub is on loopback
        )
        server = BackgroundServer(make_server(context_for(app), port=port))
        server.start()
        try:
            subscriber = Subscriber(
                app.settings, app.store.websub, app.store.feeds, app.http, clock=clock
            )
            subscriber.maintain()
            assert app.store.websub.subscriptions() == {}  # nothing before the first good poll
            app.engine.tick()
            subscriber.maintain()
            sub = hub.wait_verified(topic)
            assert sub.callback.startswith(f"http://127.0.0.1:{port}/websub/")
            assert sub.secret and len(sub.secret) >= 32
            form = hub.subscribe_requests[0]
            assert form["hub.topic"] == topic and form["hub.mode"] == "subscribe"
            states = app.store.websub.subscriptions()
            assert states[topic].state == "active"
            assert states[feeds.url("/plain.xml")].state == "no_hub"
            subscriber.maintain()  # nothing due: no second request
            assert len(hub.subscribe_requests) == 1
            first_expiry = states[topic].expires_at
            assert first_expiry is not None
            clock.advance(86400 - 6 * 3600)  # six hours left of a day: not yet
            subscriber.maintain()
            assert len(hub.subscribe_requests) == 1
            clock.advance(2 * 3600)  # four hours left, under a fifth of the lease: renew
            subscriber.maintain()
            hub.wait_verified(topic, requests=2)
            renewed = app.store.websub.subscriptions()[topic]
            assert renewed.expires_at is not None and renewed.expires_at > first_expiry
            assert hub.subscribe_requests[1]["hub.secret"] == form["hub.secret"]
        finally:
            server.stop()
            app.close()


def test_a_hub_inside_our_network_is_refused_by_the_network_policy(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A hub address comes from the feed, a stranger's text: on loopback it is refused unless
    ALLOW_PRIVATE_NETWORKS; polling goes on, and the overview shows why."""
    with FeedServer() as feeds, FakeHub() as hub:
        topic = feeds.url("/feed.xml")
        feeds.route("/feed.xml", body=hub_feed([Item(1)], hub.url, topic))
        app = make_app(tmp_path, clock, FEED_URLS=topic, PUBLIC_URL="https://bot.example.com")
        try:
            app.engine.tick()
            Subscriber(
                app.settings, app.store.websub, app.store.feeds, app.http, clock=clock
            ).maintain()
            sub = app.store.websub.subscriptions()[topic]
            assert sub.state != "active"
            assert sub.last_error and "hub refused by the network policy" in sub.last_error
            assert "ALLOW_PRIVATE_NETWORKS" in sub.last_error
            assert hub.subscribe_requests == []  # nothing reached it
            assert "hub refused by the network policy" in app.store.websub.websub_states()[topic]
        finally:
            app.close()


# --- the whole path, in a real `run` process ------------------------------------------------------


def _tweets_for(server: FakePlatformServer, story: int) -> list[dict]:
    url = f"https://news.example.com/story-{story}/"
    return [t for t in server.tweets if url in t.get("input_text", "")]


@pytest.mark.slow
def test_pushed_story_is_posted_in_seconds_once_and_forgeries_are_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    with FeedServer() as feeds, FakeHub() as hub, FakePlatformServer() as server:
        topic = feeds.url("/feed.xml")
        feeds.route("/feed.xml", body=hub_feed([Item(1, image=False)], hub.url, topic))
        env = platform_env(
            server,
            tmp_path,
            topic,
            PLATFORMS="twitter",
            WEB_PORT=str(port),
            WEB_PASSWORD="push-test-password",
            PUBLIC_URL=f"http://127.0.0.1:{port}",
            POLL_INTERVAL="1h",
            ALLOW_PRIVATE_NETWORKS="true",  # the test hub is on loopback
        )
        proc = Proc(["run"], env, tmp_path)
        try:
            assert proc.wait_for(lambda ls: any("poll finished" in x for x in ls), 60)
            hub.wait_verified(topic, timeout=30)
            assert len(_tweets_for(server, 1)) == 1  # the first poll (BACKLOG=all)

            # A new story, pushed: posted within seconds, not at the next poll (an hour away).
            items = [Item(2, image=False), Item(1, image=False)]
            body = hub_feed(items, hub.url, topic)
            feeds.route("/feed.xml", body=body)  # the feed has it too, for the poll below
            pushed_at = time.monotonic()
            assert [p.status for p in hub.publish(topic, body)] == [202]
            deadline = pushed_at + 10
            while not _tweets_for(server, 2) and time.monotonic() < deadline:
                time.sleep(0.05)
            latency = time.monotonic() - pushed_at
            assert _tweets_for(server, 2), "".join(proc.lines)
            with capsys.disabled():
                print(f"\nWebSub push-to-published latency: {latency:.2f} s (target <= 10 s)")
            assert latency <= 10

            # Forged pushes (wrong secret, no signature): answered 2xx, ignored.
            forged = hub_feed([Item(3, image=False)], hub.url, topic)
            assert {p.status for p in hub.publish(topic, forged, forge="wrong")} == {202}
            assert {p.status for p in hub.publish(topic, forged, forge="missing")} == {202}
            # A valid push after them (sha1 this time) goes through: by then the forgeries
            # would have been handled too, had they been accepted.
            hub.publish(topic, hub_feed([Item(4, image=False)], hub.url, topic), algorithm="sha1")
            deadline = time.monotonic() + 10
            while not _tweets_for(server, 4) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _tweets_for(server, 4)
            assert _tweets_for(server, 3) == []

            # The pushed story 2 is in the feed: a poll (another process) and a second push
            # of the same content post nothing again.
            polled = run_main(["poll"], {**env, "WEB_PORT": "", "PUBLIC_URL": ""}, tmp_path)
            assert polled.returncode == 0, polled.stderr
            hub.publish(topic, body)
            time.sleep(1.0)
        finally:
            code, _ = proc.stop()
        assert code == 0
        assert len(_tweets_for(server, 2)) == 1
        assert len(_tweets_for(server, 1)) == 1
        assert len(server.tweets) == 3
        log = "".join(proc.lines)
        assert "push with a missing or wrong X-Hub-Signature ignored" in log
        assert not re.search(r"push-test-password", log)
