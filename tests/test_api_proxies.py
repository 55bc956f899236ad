"""The platforms' API calls and image downloads leave through the proxies the settings name.

The proxy variables may sit in the env file, which httpx and requests never read (they look at
the process environment only): the clients route by the settings instead, NO_PROXY included.
The fake feed server plays a forward proxy, which gets the absolute URL as its request target.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.app import make_fetcher, make_http
from bot.feeds.fetch import FeedRequest
from bot.net import RefusedRequest, proxy_for
from bot.platforms import registry
from bot.platforms.twitter.adapter import TwitterPublisher
from bot.platforms.twitter.session import XSession
from bot.publishers import wiring
from bot.settings import load_settings
from tests.botenv import bot_env
from tests.fakes.feed_server import FeedServer

DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture
def proxy() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def test_the_shared_client_uses_the_env_files_proxy_and_honours_no_proxy(
    proxy: FeedServer, tmp_path: Path
) -> None:
    proxy.route("http://graph.example/v21.0/me", body=b'{"id": "1"}', content_type="text/json")
    proxy.route("/direct", body=b"ok", content_type="text/plain")
    # The direct request goes to a loopback server, which only ALLOW_PRIVATE_NETWORKS lets through.
    env_file = f"HTTP_PROXY={proxy.url('')}\nNO_PROXY=127.0.0.1\nALLOW_PRIVATE_NETWORKS=true\n"
    (tmp_path / ".env").write_text(env_file)
    settings = load_settings(bot_env(tmp_path, FEED_URLS="https://news.example/feed"), tmp_path)
    with make_http(settings) as client:
        via_proxy = client.get("http://graph.example/v21.0/me")
        direct = client.get(proxy.url("/direct"))
    assert via_proxy.json() == {"id": "1"} and direct.text == "ok"
    assert [r.path for r in proxy.requests] == ["http://graph.example/v21.0/me", "/direct"]
    assert proxy.requests[0].headers["host"] == "graph.example"


def test_x_requests_go_through_the_env_files_proxy(proxy: FeedServer, tmp_path: Path) -> None:
    proxy.route("http://api.x.example/2/users/me", body=b'{"data": {}}', content_type="text/json")
    (tmp_path / ".env").write_text(f"HTTP_PROXY={proxy.url('')}\n")
    credentials = {name: "x" for name in registry.auth_variables("twitter")}
    env = bot_env(tmp_path, FEED_URLS="https://news.example/feed", PLATFORMS="twitter",
                  TWITTER_API_BASE_URL="http://api.x.example", **credentials)  # fmt: skip
    settings = load_settings(env, tmp_path)
    publisher = TwitterPublisher.from_section(settings.section("twitter"), wiring(settings))
    try:
        # tweepy asks for api.twitter.com; XSession sends it to the base URL, via the proxy
        answer = publisher.session.get("https://api.twitter.com/2/users/me")
    finally:
        publisher.close()
    assert answer.json() == {"data": {}}
    assert [r.path for r in proxy.requests] == ["http://api.x.example/2/users/me"]


def test_x_requests_bypass_the_environments_proxy_when_no_proxy_says_so(
    proxy: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy.route("/2/users/me", body=b'{"data": {}}', content_type="text/json")
    monkeypatch.setenv("HTTP_PROXY", DEAD_PROXY)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    # Left to itself, requests takes the environment's proxy (and fails on the dead one) ...
    with XSession(proxy.url(""), 5.0) as plain, pytest.raises(requests.exceptions.ProxyError):
        plain.get(proxy.url("/2/users/me"))
    # ... but the settings, which read the same variable and NO_PROXY from the env file, win.
    routed = {"http": DEAD_PROXY, "no": "127.0.0.1"}
    with XSession(proxy.url(""), 5.0, routed) as session:
        assert session.get(proxy.url("/2/users/me")).json() == {"data": {}}
    assert [r.path for r in proxy.requests] == ["/2/users/me"]


@pytest.mark.parametrize(
    ("proxies", "scheme", "host", "expected"),
    [
        ({}, "https", "graph.facebook.com", None),
        ({"https": "http://p:3128"}, "https", "graph.facebook.com", "http://p:3128"),
        ({"https": "http://p:3128"}, "http", "graph.facebook.com", None),
        ({"all": "http://p:3128"}, "http", "api.x.com", "http://p:3128"),
        ({"all": "http://p:3128", "no": "x.com"}, "https", "api.x.com", None),
        ({"all": "http://p:3128", "no": "*"}, "https", "api.x.com", None),
        ({"all": "http://p:3128", "no": "facebook.com"}, "https", "api.x.com", "http://p:3128"),
    ],
)
def test_proxy_for_reads_the_variables_as_curl_does(
    proxies: dict[str, str], scheme: str, host: str, expected: str | None
) -> None:
    assert proxy_for(proxies, scheme, host) == expected


def test_the_network_policy_vets_proxied_requests_too(proxy: FeedServer, tmp_path: Path) -> None:
    # A proxy resolves names itself, but an internal address written in the URL is refused
    # before anything is sent, by the shared client and the feed fetcher alike.
    (tmp_path / ".env").write_text(f"HTTP_PROXY={proxy.url('')}\n")
    settings = load_settings(bot_env(tmp_path, FEED_URLS="https://news.example/feed"), tmp_path)
    with make_http(settings) as client, pytest.raises(RefusedRequest):
        client.get("http://10.1.2.3/admin")
    with make_fetcher(settings) as fetcher:
        result = fetcher.fetch(FeedRequest("http://10.1.2.3/feed"))
    assert result.error is not None and "refused" in str(result.error)
    assert proxy.requests == []
