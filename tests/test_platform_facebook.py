"""The Facebook Page adapter through httpx against the fake Graph API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import AlreadyPublished, AuthError
from bot.models import Post
from bot.platforms.facebook.adapter import FacebookPublisher
from bot.settings import Secret
from tests.fakes.platform_server import FakePlatformServer


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer() as fake:
        yield fake


def make(server: FakePlatformServer, **overrides: object) -> FacebookPublisher:
    return FacebookPublisher(server.facebook_settings(**overrides), timeout=1.0)


def since() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=5)


def test_verify_names_the_page(server: FakePlatformServer) -> None:
    account = make(server).verify()
    assert (account.platform, account.id, account.name) == (
        "facebook",
        server.page_id,
        "JCK Test Page",
    )
    (request,) = server.graph_requests()
    assert request.headers["authorization"] == f"Bearer {server.page_token}"
    assert request.params() == {"fields": "id,name"}
    assert request.path == "/v25.0/me"


def test_bad_token_is_an_auth_error_naming_the_variable(server: FakePlatformServer) -> None:
    with pytest.raises(AuthError) as caught:
        make(server, page_access_token=Secret("expired")).verify()
    assert caught.value.variable == "FACEBOOK_PAGE_ACCESS_TOKEN"
    assert "Invalid OAuth access token" in caught.value.message


def test_link_post(server: FakePlatformServer) -> None:
    result = make(server).publish(Post("facebook", "A story", link="https://example.com/s"))
    (post,) = server.fb_posts
    assert (post["message"], post["link"]) == ("A story", "https://example.com/s")
    assert result.remote_id == post["id"]
    assert result.remote_url == f"https://www.facebook.com/{post['id']}"
    request = server.requests_to("*/feed")[0]
    assert request.form()["access_token"] == server.page_token
    assert request.query == ""


def test_photo_post_carries_the_link_in_the_caption(server: FakePlatformServer) -> None:
    publisher = make(server, post_type="photo")
    post = Post(
        "facebook", "Photo story", link="https://example.com/p", image_url=server.image_url()
    )
    result = publisher.publish(post)
    (made,) = server.fb_posts
    assert made["photo_id"] and made["message"] == "Photo story\n\nhttps://example.com/p"
    assert result.remote_id == made["id"]
    assert server.requests_to("*/feed") == []
    found = publisher.find(post, since())
    assert found is not None and found.remote_id == made["id"]


def test_photo_mode_without_an_image_falls_back_to_a_link_post(server: FakePlatformServer) -> None:
    make(server, post_type="photo").publish(Post("facebook", "No image", link="https://e.com/x"))
    assert server.requests_to("*/photos") == []
    assert server.fb_posts[0]["link"] == "https://e.com/x"


def test_duplicate_message_is_already_published(server: FakePlatformServer) -> None:
    server.fb_refuse_duplicates = True  # (fake option) Graph's 506, where a Page answers it
    publisher = make(server)
    publisher.publish(Post("facebook", "Twice"))
    with pytest.raises(AlreadyPublished, match="Duplicate status message"):
        publisher.publish(Post("facebook", "Twice"))


def test_find_after_publish_returns_the_permalink(server: FakePlatformServer) -> None:
    publisher = make(server)
    post = Post("facebook", "Find me", link="https://example.com/f")
    made = publisher.publish(post)
    found = publisher.find(post, since())
    assert found is not None and found.remote_id == made.remote_id
    assert found.remote_url and "/posts/" in found.remote_url
    request = server.requests_to("*/published_posts")[0]
    params = request.params()
    assert (
        params["fields"] == "id,message,created_time,permalink_url,attachments{url,unshimmed_url}"
    )
    assert int(params["since"]) <= since().timestamp()
    assert "access_token" not in params


def test_find_matches_by_link_when_the_message_was_edited(server: FakePlatformServer) -> None:
    publisher = make(server)
    made = publisher.publish(Post("facebook", "Original", link="https://example.com/e"))
    server.fb_posts[0]["message"] = "Edited by a human"
    found = publisher.find(Post("facebook", "Original", link="https://example.com/e"), since())
    assert found is not None and found.remote_id == made.remote_id


def test_find_returns_none_when_absent(server: FakePlatformServer) -> None:
    publisher = make(server)
    publisher.publish(Post("facebook", "Other", link="https://example.com/1"))
    assert publisher.find(Post("facebook", "Mine", link="https://example.com/2"), since()) is None
