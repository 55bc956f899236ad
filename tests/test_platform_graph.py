"""The Graph error table, row by row, driven through the real adapters and httpx stack."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from bot.errors import (
    AlreadyPublished,
    AuthError,
    NetworkError,
    PublishError,
    RateLimited,
    Rejected,
    Transient,
    Unsuitable,
)
from bot.models import Post
from bot.platforms.facebook.adapter import FacebookPublisher
from bot.platforms.graph import map_graph_error, usage_peak, usage_retry_after
from bot.platforms.instagram.adapter import InstagramPublisher
from tests.fakes.platform_server import FakePlatformServer, graph_error, graph_status

H = 3600.0

# (code, subcode, expected class, retry_after, long_pause)
ROWS: list[tuple[int, int | None, type[PublishError], float | None, bool]] = [
    (1, None, Transient, None, False),
    (2, None, Transient, None, False),
    (4, None, RateLimited, 900, False),
    (17, None, RateLimited, 900, False),
    (32, None, RateLimited, 900, False),
    (613, None, RateLimited, 900, False),
    (80000, None, RateLimited, 900, False),
    (80001, None, RateLimited, 900, False),
    (80009, None, RateLimited, 900, False),
    (80014, None, RateLimited, 900, False),
    (341, None, RateLimited, 4 * H, True),
    (368, None, RateLimited, 24 * H, True),
    (190, 463, AuthError, None, False),
    (190, None, AuthError, None, False),
    (10, None, AuthError, None, False),
    (200, None, AuthError, None, False),
    (299, None, AuthError, None, False),
    (506, None, AlreadyPublished, None, False),
    (100, None, Rejected, None, False),
    (-2, 2207003, Transient, None, False),
    (-1, 2207001, Transient, None, False),
    (-1, 2207032, Transient, None, False),
    (9, 2207042, RateLimited, H, False),
    (9004, 2207052, Unsuitable, None, False),
    (9007, 2207027, Transient, None, False),
    (12345, None, Rejected, None, False),  # unknown code, HTTP 400
]


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer() as fake:
        yield fake


def facebook(server: FakePlatformServer) -> FacebookPublisher:
    return FacebookPublisher(server.facebook_settings(), timeout=1.0)


def instagram(server: FakePlatformServer) -> InstagramPublisher:
    server.ig_in_progress_reads = 0  # containers ready at once: one call publishes
    return InstagramPublisher(server.instagram_settings(), timeout=1.0)


@pytest.mark.parametrize(("code", "subcode", "kind", "retry_after", "long_pause"), ROWS)
@pytest.mark.parametrize("platform", ["facebook", "instagram"])
def test_each_row_through_the_adapter(
    server: FakePlatformServer,
    platform: str,
    code: int,
    subcode: int | None,
    kind: type[PublishError],
    retry_after: float | None,
    long_pause: bool,
) -> None:
    message = f"(#{code}) the platform's own words"
    body = graph_error(code, message, subcode)
    if platform == "facebook":
        server.fail("POST", "*/feed", status=graph_status(code), body=body)
        publisher: FacebookPublisher | InstagramPublisher = facebook(server)
        post = Post("facebook", "Row test", link="https://example.com/a")
        variable = "FACEBOOK_PAGE_ACCESS_TOKEN"
    else:
        server.fail("POST", "*/media", status=graph_status(code), body=body)
        publisher = instagram(server)
        post = Post("instagram", "Row test", image_url=server.image_url())
        variable = "INSTAGRAM_ACCESS_TOKEN"
    with pytest.raises(PublishError) as caught:
        publisher.publish(post)
    error = caught.value
    assert type(error) is kind
    assert message in error.message
    assert error.platform == platform
    assert error.code == (f"{code}/{subcode}" if subcode else str(code))
    if isinstance(error, RateLimited):
        assert (error.retry_after, error.long_pause) == (retry_after, long_pause)
    if isinstance(error, AuthError):
        assert error.variable == variable
    if subcode == 2207052:
        assert "image could not be fetched" in error.message
    assert server.fb_posts == [] and server.ig_media == []


def test_unknown_code_with_5xx_is_transient_and_is_transient_flag_counts() -> None:
    body = graph_error(99999, "odd")
    assert type(map_graph_error("facebook", 503, body, {}, "V")) is Transient
    assert type(map_graph_error("facebook", 400, body, {}, "V")) is Rejected
    flagged = graph_error(99999, "odd", is_transient=True)
    assert type(map_graph_error("facebook", 400, flagged, {}, "V")) is Transient


def test_answers_without_graph_error_json() -> None:
    assert type(map_graph_error("facebook", 502, None, {}, "V")) is Transient
    assert type(map_graph_error("facebook", 404, "<html>", {}, "V")) is Rejected


def test_business_usage_header_sets_the_wait(server: FakePlatformServer) -> None:
    server.business_usage = {
        "type": "pages",
        "call_count": 100,
        "total_cputime": 20,
        "total_time": 30,
        "estimated_time_to_regain_access": 7,
    }
    server.fail("POST", "*/feed", status=400, body=graph_error(80001, "(#80001) too many calls"))
    with pytest.raises(RateLimited) as caught:
        facebook(server).publish(Post("facebook", "x"))
    assert caught.value.retry_after == 7 * 60


def test_usage_helpers() -> None:
    headers = {
        "x-business-use-case-usage": json.dumps(
            {
                "1": [{"call_count": 95, "estimated_time_to_regain_access": 0}],
                "2": [{"total_time": 40, "estimated_time_to_regain_access": 3}],
            }
        ),
        "x-app-usage": '{"call_count": 12, "total_cputime": 3, "total_time": 5}',
    }
    assert usage_retry_after(headers) == 180
    assert usage_peak(headers) == 95
    assert usage_retry_after({"x-business-use-case-usage": "not json"}) is None
    assert usage_retry_after({}) is None


@pytest.mark.parametrize("after_effect", [False, True])
def test_dropped_connection_is_transient(server: FakePlatformServer, after_effect: bool) -> None:
    server.drop("POST", "*/feed", after_effect=after_effect)
    with pytest.raises(Transient):
        facebook(server).publish(Post("facebook", "dropped"))
    assert len(server.fb_posts) == (1 if after_effect else 0)


def test_hang_is_transient_after_the_timeout(server: FakePlatformServer) -> None:
    server.hang("POST", "*/feed", seconds=3)
    publisher = FacebookPublisher(server.facebook_settings(), timeout=0.3)
    with pytest.raises(Transient, match="did not answer in time") as caught:
        publisher.publish(Post("facebook", "hung"))
    assert isinstance(caught.value, NetworkError) and caught.value.kind == "timeout"
    assert caught.value.host == server.base_url.split("://")[1]
    server.release()
    assert len(server.fb_posts) == 1


def test_garbage_success_answer_is_transient(server: FakePlatformServer) -> None:
    server.fail("GET", "*/me", status=200, body=b"<html>proxy page</html>")
    with pytest.raises(Transient, match="without JSON"):
        facebook(server).verify()


def test_no_graph_request_ever_carries_the_token_in_its_url(server: FakePlatformServer) -> None:
    server.ig_token = "IGQfake-instagram-token-42"
    fb, ig = facebook(server), instagram(server)
    fb.verify()
    fb_post = Post("facebook", "Token test", link="https://example.com/t")
    fb.publish(fb_post)
    from datetime import UTC, datetime, timedelta

    since = datetime.now(UTC) - timedelta(minutes=1)
    assert fb.find(fb_post, since) is not None
    ig.verify()
    ig_post = Post("instagram", "Token test", image_url=server.image_url())
    handles: list[dict[str, str]] = []
    ig.publish(ig_post, lambda h: handles.append(dict(h)))
    assert ig.find(ig_post, since, handles[0]) is not None
    graph = server.graph_requests()
    assert len(graph) >= 10
    for token in (server.page_token, server.ig_token):
        carried = [
            r
            for r in graph
            if token in r.headers.get("authorization", "")
            or token in r.body.decode(errors="replace")
        ]
        assert carried, "the token must travel somewhere"
        leaked = [
            r.target
            for r in graph
            if token in httpx.URL(r.target).path or token in str(httpx.URL(r.target).params)
        ]
        assert leaked == []
    # the scan itself can see a leak
    httpx.get(f"{server.base_url}/v25.0/me", params={"access_token": server.page_token})
    assert any(server.page_token in r.query for r in server.graph_requests())
