"""Threads through its real client stack (httpx) against the fake Threads API."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import Image

from bot.errors import AuthError, NetworkError, NotReady, RateLimited, Rejected, Transient
from bot.models import Post
from bot.net import PolicyTransport
from bot.netpolicy import NetworkPolicy
from bot.platforms.base import CONTAINER_RECHECK
from bot.platforms.state import Memory
from bot.platforms.threads.adapter import ThreadsPublisher
from bot.platforms.threads.text import threads_length, unique_links
from bot.platforms.threads.token import TokenKeeper
from bot.settings_values import Secret
from tests.fakes.platform_server import graph_error
from tests.fakes.threads_server import FakeThreadsServer

STORY = "https://news.example.com/story-1/"


@pytest.fixture
def server() -> Iterator[FakeThreadsServer]:
    with FakeThreadsServer(in_progress_reads=0) as fake:
        yield fake


def publisher(server: FakeThreadsServer, **kwargs: object) -> ThreadsPublisher:
    return ThreadsPublisher(server.threads_settings(), timeout=2.0, **kwargs)  # type: ignore[arg-type]


def post(text: str = f"De Beers opens a lab {STORY}", **kwargs: object) -> Post:
    return Post("threads", text, story_url=STORY, **kwargs)  # type: ignore[arg-type]


def since() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=5)


# --- pure parts ------------------------------------------------------------------------------


def test_length_is_counted_in_utf8_bytes_as_threads_counts() -> None:
    assert threads_length("a" * 500) == 500
    assert threads_length("😀") == 4
    assert threads_length("’") == 3  # a curly apostrophe: three bytes
    assert threads_length("宝石") == 6


def test_the_preview_card_is_the_link_written_in_the_text(server: FakeThreadsServer) -> None:
    tagged = STORY + "?utm_source=threads"
    publisher(server).publish(post(f"News: {tagged}."))
    assert server.posts[0]["link_attachment_url"] == tagged  # one link, not two


def test_unique_links_count_the_attachment_once() -> None:
    text = "a https://ex.com/a b https://ex.com/a. c www.ex.com/b"
    assert unique_links(text) == {"ex.com/a", "www.ex.com/b"}
    assert len(unique_links(text, "https://ex.com/a")) == 2
    assert len(unique_links(text, "https://ex.com/c")) == 3


# --- publishing ------------------------------------------------------------------------------


def test_text_post_is_a_container_then_publish_with_a_link_preview(
    server: FakeThreadsServer,
) -> None:
    adapter = publisher(server)
    handles: list[dict[str, str]] = []
    result = adapter.publish(post(), lambda h: handles.append(dict(h)))
    [made] = server.posts
    assert result.remote_id == made["id"] and result.remote_url == made["permalink"]
    assert made["link_attachment_url"] == STORY and made["media_type"] == "TEXT_POST"
    # The container id was kept before threads_publish, the media id after it.
    assert handles[0] == {"container_id": made["container_id"]}
    assert handles[-1] == {"container_id": made["container_id"], "media_id": made["id"]}
    order = [r.path.rsplit("/", 1)[-1] for r in server.requests if r.method == "POST"]
    assert order == ["threads", "threads_publish"]
    # The quota was read before anything was created, and no token went into a URL.
    first = [r.path.rsplit("/", 1)[-1] for r in server.requests][:2]
    assert first == ["threads_publishing_limit", "threads"]
    assert all(server.threads_token not in r.target for r in server.requests)


def test_an_image_post_takes_the_story_image_when_it_fits(server: FakeThreadsServer) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 10, 10)).save(buffer, "JPEG")
    url = server.add_image("story.jpg", buffer.getvalue(), "image/jpeg")
    adapter = publisher(server)
    adapter.publish(post(image_url=url, alt_text="A red ring"))
    [made] = server.posts
    assert made["media_type"] == "IMAGE" and made["image"] == buffer.getvalue()
    assert made["alt_text"] == "A red ring"


def test_an_unusable_image_costs_the_picture_not_the_post(server: FakeThreadsServer) -> None:
    adapter = publisher(server)
    adapter.publish(post(image_url=server.image_url("fake.jpg")))
    [made] = server.posts
    assert made["media_type"] == "TEXT_POST" and made["link_attachment_url"] == STORY


def test_a_container_not_ready_is_read_again_next_time_never_waited_for() -> None:
    with FakeThreadsServer(in_progress_reads=1) as server:
        adapter = publisher(server)
        kept: dict[str, str] = {}
        with pytest.raises(NotReady) as caught:
            adapter.publish(post(), kept.update)
        assert caught.value.code == "not_ready" and "next poll or tick" in caught.value.message
        assert caught.value.retry_after == CONTAINER_RECHECK
        assert server.posts == [] and len(server.containers) == 1
        assert adapter.find(post(), since(), kept) is None  # not out yet
        result = adapter.publish(post(), kept.update, dict(kept))  # the next tick
        assert len(server.containers) == 1, "the same container is published"
        assert [p["id"] for p in server.posts] == [result.remote_id]


def test_a_failed_container_is_a_clear_refusal_an_unknown_failure_a_retry() -> None:
    with FakeThreadsServer(in_progress_reads=0) as server:
        server.next_outcome = ("ERROR", "FAILED_PROCESSING_VIDEO")
        with pytest.raises(Rejected, match="FAILED_PROCESSING_VIDEO"):
            publisher(server).publish(post())
        server.next_outcome = ("ERROR", "UNKNOWN")
        with pytest.raises(Transient):
            publisher(server).publish(post())
        assert server.posts == []


def test_after_a_crash_a_published_container_is_found_not_published_again(
    server: FakeThreadsServer,
) -> None:
    adapter = publisher(server)
    kept: dict[str, str] = {}

    def crash_after_publish(handles: dict[str, str]) -> None:
        kept.update({k: v for k, v in handles.items() if k != "media_id"})
        if "media_id" in handles:
            raise KeyboardInterrupt  # killed right after threads_publish answered

    with pytest.raises(KeyboardInterrupt):
        adapter.publish(post(), crash_after_publish)  # type: ignore[arg-type]
    found = adapter.find(post(), since(), kept)
    assert found is not None and found.remote_id == server.posts[0]["id"]
    again = adapter.publish(post(), None, kept)
    assert again.remote_id == found.remote_id and len(server.posts) == 1


def test_find_without_handles_searches_the_profile(server: FakeThreadsServer) -> None:
    adapter = publisher(server)
    assert adapter.find(post(), since()) is None
    made = adapter.publish(post())
    adapter.publish(post("Another story https://news.example.com/story-2/"))
    found = adapter.find(post(), since())
    assert found is not None and found.remote_id == made.remote_id


def test_identical_texts_are_accepted_and_counted(server: FakeThreadsServer) -> None:
    adapter = publisher(server)
    adapter.publish(post())
    adapter.publish(post())
    assert len(server.posts) == 2  # Threads has no duplicate check: the bot must not repeat


def test_publish_refused_but_made_is_recorded_once(server: FakeThreadsServer) -> None:
    adapter = publisher(server)
    body = graph_error(10, "Application does not have permission for this action")
    server.fail("POST", "*/threads_publish", status=500, body=body, after_effect=True)
    result = adapter.publish(post())
    assert [p["id"] for p in server.posts] == [result.remote_id]


def test_media_not_found_is_transient_and_the_container_is_kept(server: FakeThreadsServer) -> None:
    adapter = publisher(server)
    server.not_found_publishes = 1
    kept: dict[str, str] = {}
    with pytest.raises(NotReady) as caught:
        adapter.publish(post(), kept.update)
    assert caught.value.code == "24/4279009"
    adapter.publish(post(), kept.update, dict(kept))
    assert len(server.containers) == 1 and len(server.posts) == 1


def test_quota_read_before_posting(server: FakeThreadsServer) -> None:
    server.quota_usage = server.quota_total
    with pytest.raises(RateLimited) as caught:
        publisher(server).publish(post())
    assert caught.value.retry_after == 3600.0 and "250 of 250" in caught.value.message
    assert server.containers == {}


def test_too_long_or_too_many_links_are_refused_before_sending(server: FakeThreadsServer) -> None:
    adapter = publisher(server)
    with pytest.raises(Rejected, match="UTF-8 bytes"):
        adapter.publish(post("😀" * 126))
    links = " ".join(f"https://ex.com/{n}" for n in range(6))
    with pytest.raises(Rejected, match="6 links"):
        adapter.publish(post(links))
    assert server.requests == []


# --- error rows through the real client --------------------------------------------------------

ERROR_ROWS = [
    (400, graph_error(190, "Error validating access token", 463), AuthError, "190/463"),
    (400, graph_error(190, "Invalid OAuth access token"), AuthError, "190"),
    (400, graph_error(10, "Application does not have permission"), AuthError, "10"),
    (400, graph_error(4, "Application request limit reached"), RateLimited, "4"),
    (400, graph_error(9, "Application request limit reached", 2207042), RateLimited, "9/2207042"),
    (400, graph_error(100, "Param text must be at most 500 characters long"), Rejected, "100"),
    (400, graph_error(100, "THREADS_API__LINK_LIMIT_EXCEEDED", 4279029), Rejected, "100/4279029"),
    (400, graph_error(24, "Media Not Found", 4279009), NotReady, "24/4279009"),
    (500, graph_error(2, "Service temporarily unavailable"), Transient, "2"),
    (500, b"<html>oops</html>", Transient, None),
]


@pytest.mark.parametrize(("status", "body", "kind", "code"), ERROR_ROWS)
def test_each_error_row(
    server: FakeThreadsServer, status: int, body: object, kind: type, code: str | None
) -> None:
    server.fail("POST", "*/threads", status=status, body=body)  # type: ignore[arg-type]
    with pytest.raises(kind) as caught:
        publisher(server).publish(post())
    assert caught.value.code == code and caught.value.platform == "threads"
    if kind is AuthError:
        assert caught.value.variable == "THREADS_ACCESS_TOKEN"


def test_an_unreachable_host_is_a_network_error() -> None:
    with FakeThreadsServer() as server:
        settings = server.threads_settings()
    with pytest.raises(NetworkError):
        ThreadsPublisher(settings, timeout=1.0).verify()


def test_the_shared_client_stack_carries_it(server: FakeThreadsServer) -> None:
    policy = NetworkPolicy.trusting([server.base_url])
    client = httpx.Client(transport=PolicyTransport(policy), timeout=2.0)
    try:
        adapter = ThreadsPublisher(server.threads_settings(), http=client)
        assert adapter.verify().name == "@" + server.threads_username
    finally:
        client.close()


# --- the token ---------------------------------------------------------------------------------


def test_the_token_is_refreshed_kept_and_used(server: FakeThreadsServer) -> None:
    state = Memory()
    adapter = publisher(server, state=state, wall=lambda: 1_000_000.0)
    worker = publisher(server, state=state)  # another worker, built before the refresh
    info = adapter.token_info()
    assert info.expires_at == 1_000_000.0 + 5183944 and server.refreshes == 1
    worker.publish(post())
    fresh = [t for t in server.valid_tokens if t.startswith("THAArefreshed")]
    publishes = server.requests_to("*/threads_publish")
    assert fresh and fresh[0] == publishes[-1].form()["access_token"]
    # A new process reads the kept token; a new configured token wins over it.
    again = publisher(server, state=state)
    assert again.tokens.current().reveal() == fresh[0]
    other = TokenKeeper(Secret("a-new-token"), state)
    assert other.current().reveal() == "a-new-token" and other.expires_at() is None


def test_a_failed_refresh_still_warns_with_the_known_expiry(server: FakeThreadsServer) -> None:
    state = Memory()
    publisher(server, state=state, wall=lambda: 1_000_000.0).token_info()
    server.fail("GET", "/refresh_access_token", status=500, body=graph_error(2, "down"))
    info = publisher(server, state=state).token_info()
    assert info.expires_at == 1_000_000.0 + 5183944
    server.fail("GET", "/refresh_access_token", status=500, body=graph_error(2, "down"))
    with pytest.raises(Transient):  # nothing known: the daily check logs it and tries tomorrow
        publisher(server).token_info()


# --- images through the image host -------------------------------------------------------------


def test_a_png_goes_out_as_a_hosted_fitted_copy_removed_afterwards(
    server: FakeThreadsServer,
) -> None:
    from bot.platforms.graph import GraphApi
    from bot.platforms.hosting import FacebookPageHost
    from tests.fakes.platform_server import FakePlatformServer

    buffer = io.BytesIO()
    Image.new("RGBA", (3000, 200), (0, 200, 10, 128)).save(buffer, "PNG")  # too wide, alpha
    url = server.add_image("wide.png", buffer.getvalue(), "image/png")
    with FakePlatformServer() as graph_fake, httpx.Client(timeout=2.0) as client:
        graph = GraphApi(
            platform="threads", base_url=graph_fake.base_url, version="v25.0",
            token=Secret(graph_fake.page_token), variable="FACEBOOK_PAGE_ACCESS_TOKEN",
            http=client,
        )  # fmt: skip
        adapter = publisher(server, host=FacebookPageHost(graph, graph_fake.page_id))
        kept: dict[str, str] = {}
        adapter.publish(post(image_url=url), kept.update)
        [made] = server.posts
        assert made["media_type"] == "IMAGE"
        fitted = Image.open(io.BytesIO(made["image"]))
        assert fitted.width <= 1440 and fitted.width / fitted.height <= 10
        assert kept.get("hosted_image") in graph_fake.fb_deleted  # the copy is gone
        assert graph_fake.fb_posts == []  # hosting never shows on the Page
