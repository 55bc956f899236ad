"""`find` reads past the first page: a busy account may have posted a lot since the attempt.

Without paging, an interrupted post buried under 150 newer ones reads as "not made" and is
posted twice (seen in the three-worker test before this was fixed).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Post
from bot.platforms.facebook.adapter import FacebookPublisher
from bot.platforms.instagram.adapter import InstagramPublisher
from bot.platforms.twitter.adapter import TwitterPublisher
from tests.fakes.platform_server import FakePlatformServer

NEWER = 150


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as s:
        yield s


def bury(records: list[dict[str, object]], time_key: str, id_key: str = "id") -> None:
    """Add NEWER copies of the last record, each a little newer, with other ids and texts."""
    last = dict(records[-1])
    for n in range(1, NEWER + 1):
        copy = {**last, id_key: f"{last[id_key]}9{n}", time_key: float(last[time_key]) + n}  # type: ignore[arg-type]
        for text_key in ("text", "input_text", "message", "caption"):
            if text_key in copy:
                copy[text_key] = f"other post {n}"
        if "urls" in copy:
            copy["urls"] = []
        if "link" in copy:
            copy["link"] = None
        records.append(copy)


def test_x_find_follows_next_token(server: FakePlatformServer) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    publisher = TwitterPublisher(server.twitter_settings())
    post = Post(
        "twitter",
        "The one we look for https://example.com/buried",
        story_url="https://example.com/buried",
    )
    made = publisher.publish(post)
    bury(server.tweets, "created_at")
    found = publisher.find(post, since)
    assert found is not None and found.remote_id == made.remote_id
    assert len(server.requests_to("/2/users/*/tweets")) == 2


def test_facebook_find_follows_the_cursor(server: FakePlatformServer) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    publisher = FacebookPublisher(server.facebook_settings())
    post = Post("facebook", "The one we look for", link="https://example.com/buried",
                story_url="https://example.com/buried")  # fmt: skip
    made = publisher.publish(post)
    bury(server.fb_posts, "created_time")
    found = publisher.find(post, since)
    assert found is not None and found.remote_id == made.remote_id


def test_instagram_find_follows_the_cursor(server: FakePlatformServer) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    publisher = InstagramPublisher(server.instagram_settings())
    post = Post("instagram", "The one we look for", image_url=server.image_url("photo.jpg"))
    made = publisher.publish(post)
    bury(server.ig_media, "created")
    found = publisher.find(post, since)  # no container id: the media listing is searched
    assert found is not None and found.remote_id == made.remote_id
