"""The Instagram adapter: container, one status read per call (never a wait), publish, recovery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import NotReady, RateLimited, Rejected, Transient, Unsuitable
from bot.models import Post
from bot.platforms.base import CONTAINER_RECHECK
from bot.platforms.instagram.adapter import InstagramPublisher
from tests.fakes.images import jpeg_bytes
from tests.fakes.platform_server import FakePlatformServer


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as fake:  # ready at once unless a test says
        yield fake


def make(server: FakePlatformServer) -> InstagramPublisher:
    return InstagramPublisher(server.instagram_settings(), timeout=1.0)


def status_reads(server: FakePlatformServer) -> int:
    return len(server.requests_to("*/179*", "GET"))  # the fake numbers containers 179...


def post(server: FakePlatformServer, image: str | None = "photo.jpg", **kw: str) -> Post:
    url = server.image_url(image) if image else None
    return Post("instagram", kw.pop("text", "A ring #jewelry"), image_url=url, **kw)


def since() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=5)


def test_verify_names_the_account(server: FakePlatformServer) -> None:
    account = make(server).verify()
    assert (account.platform, account.id, account.name) == (
        "instagram",
        server.ig_user_id,
        "@jcktest.ig",
    )


def test_a_container_not_ready_ends_the_call_and_a_later_call_publishes_it(
    server: FakePlatformServer,
) -> None:
    """One status read per call, never a wait: not ready is NotReady (the engine calls again at
    the next poll or tick with the kept container), ready is published, once."""
    server.ig_in_progress_reads = 3
    checkpoints: list[dict[str, str]] = []

    def checkpoint(handles: dict[str, str]) -> None:
        if "media_id" not in handles:
            assert server.ig_media == [], "the container checkpoints come before media_publish"
        checkpoints.append(dict(handles))

    publisher = make(server)
    the_post = post(server, alt_text="gold ring")
    with pytest.raises(NotReady, match="not ready yet") as caught:
        publisher.publish(the_post, checkpoint)
    assert caught.value.retry_after == CONTAINER_RECHECK
    (container_id,) = server.ig_containers
    assert checkpoints == [{"container_id": container_id}]  # kept before the call ended
    assert status_reads(server) == 1 and server.ig_media == []
    for reads in (2, 3):
        with pytest.raises(NotReady):
            publisher.publish(the_post, checkpoint, checkpoints[0])
        assert status_reads(server) == reads
    result = publisher.publish(the_post, checkpoint, checkpoints[0])
    (media,) = server.ig_media
    assert len(server.ig_containers) == 1 and status_reads(server) == 4
    # Kept at once, proven again right before publishing, then the media id once known.
    assert checkpoints == [
        {"container_id": container_id},
        {"container_id": container_id},
        {"container_id": container_id, "media_id": media["id"]},
    ]
    assert (result.remote_id, result.container_id) == (media["id"], container_id)
    assert result.remote_url == media["permalink"]
    assert media["caption"] == "A ring #jewelry" and media["alt_text"] == "gold ring"
    assert server.ig_containers[container_id]["status_code"] == "PUBLISHED"
    create = server.requests_to(f"*/{server.ig_user_id}/media", "POST")[0].form()
    assert create["image_url"] == server.image_url()


@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        (("ERROR", "Error: something went wrong"), Rejected),
        (("ERROR", "Error: 2207005 unsupported image format"), Unsuitable),
    ],
)
def test_a_kept_container_in_error_is_refused_clearly_and_never_published(
    server: FakePlatformServer, outcome: tuple[str, str], kind: type
) -> None:
    server.ig_in_progress_reads = 1
    server.ig_next_outcome = outcome
    handles: list[dict[str, str]] = []
    publisher = make(server)
    with pytest.raises(NotReady):
        publisher.publish(post(server), lambda h: handles.append(dict(h)))
    with pytest.raises(kind) as caught:
        publisher.publish(post(server), lambda h: handles.append(dict(h)), handles[0])
    (container_id,) = server.ig_containers
    assert type(caught.value) is kind
    assert container_id in caught.value.message and outcome[1] in caught.value.message
    assert server.requests_to("*/media_publish") == [] and len(handles) == 1


def test_a_kept_container_that_failed_for_a_passing_reason_is_made_again(
    server: FakePlatformServer,
) -> None:
    server.ig_in_progress_reads = 1
    server.ig_next_outcome = ("ERROR", "Error: 2207003 media download timed out")
    handles: list[dict[str, str]] = []
    publisher = make(server)
    with pytest.raises(NotReady):
        publisher.publish(post(server), lambda h: handles.append(dict(h)))
    server.ig_next_outcome = None
    server.ig_in_progress_reads = 0
    result = publisher.publish(post(server), lambda h: handles.append(dict(h)), handles[0])
    assert len(server.ig_containers) == 2 and result.container_id != handles[0]["container_id"]
    assert len(server.ig_media) == 1


@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        (("ERROR", "Error: 2207003 media download timed out"), Transient),
        (("ERROR", "Error: 2207001 server error"), Transient),
        (("ERROR", "Error: 2207005 unsupported image format"), Unsuitable),
        (("ERROR", "Error: something went wrong"), Rejected),
        (("EXPIRED", "Expired: not published within 24 hours"), Transient),
    ],
)
def test_container_failures_carry_the_status_text(
    server: FakePlatformServer, outcome: tuple[str, str], kind: type
) -> None:
    server.ig_next_outcome = outcome
    with pytest.raises(kind) as caught:
        make(server).publish(post(server))
    assert type(caught.value) is kind
    assert outcome[1] in caught.value.message
    assert server.requests_to("*/media_publish") == []


def test_spent_quota_is_rate_limited_before_any_container(server: FakePlatformServer) -> None:
    server.ig_quota_usage = server.ig_quota_total = 50
    with pytest.raises(RateLimited, match="50 of 50") as caught:
        make(server).publish(post(server))
    assert caught.value.retry_after == 3600
    assert server.ig_containers == {}


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        ("photo.png", "image/png, not image/jpeg"),
        ("big.jpg", "over the 8388608 limit"),
        ("missing.jpg", "HTTP 404"),
        (None, "no image"),
    ],
)
def test_unsuitable_images_are_refused_before_any_graph_write(
    server: FakePlatformServer, image: str | None, reason: str
) -> None:
    server.add_image("big.jpg", jpeg_bytes(8 * 1024 * 1024 + 1), "image/jpeg")
    with pytest.raises(Unsuitable, match=reason):
        make(server).publish(post(server, image))
    assert [r for r in server.graph_requests() if r.method == "POST"] == []


def test_non_http_image_url_is_unsuitable(server: FakePlatformServer) -> None:
    bad = Post("instagram", "ftp", image_url="ftp://example.com/a.jpg")
    with pytest.raises(Unsuitable, match="not an absolute http"):
        make(server).publish(bad)


def test_image_server_failure_is_transient(server: FakePlatformServer) -> None:
    server.fail("GET", "/images/photo.jpg", status=503, body=b"")
    with pytest.raises(Transient, match="HTTP 503"):
        make(server).publish(post(server))


def test_bytes_that_are_not_an_image_are_refused_before_meta(server: FakePlatformServer) -> None:
    """The label says JPEG, the bytes are HTML: caught from the bytes, nothing sent to Meta."""
    with pytest.raises(Unsuitable, match="not an image"):
        make(server).publish(post(server, "fake.jpg"))
    assert server.ig_containers == {}


# --- recovery -----------------------------------------------------------------------------------


def test_lost_publish_call_is_found_by_container(server: FakePlatformServer) -> None:
    publisher = make(server)
    handles: list[dict[str, str]] = []
    server.drop("POST", "*/media_publish", after_effect=True)
    the_post = post(server)
    with pytest.raises(Transient):
        publisher.publish(the_post, lambda h: handles.append(dict(h)))
    (media,) = server.ig_media
    found = publisher.find(the_post, since(), handles[0])
    assert found is not None
    assert (found.remote_id, found.container_id) == (media["id"], handles[0]["container_id"])
    again = publisher.publish(the_post, None, handles[0])
    assert again.remote_id == media["id"] and len(server.ig_media) == 1


def test_finished_container_is_not_found_and_is_reused(server: FakePlatformServer) -> None:
    publisher = make(server)
    handles: list[dict[str, str]] = []
    server.drop("POST", "*/media_publish")  # the call never arrived
    the_post = post(server)
    with pytest.raises(Transient):
        publisher.publish(the_post, lambda h: handles.append(dict(h)))
    assert publisher.find(the_post, since(), handles[0]) is None
    assert len(handles) == 2  # kept after creation, checked again before media_publish
    result = publisher.publish(the_post, lambda h: handles.append(dict(h)), handles[0])
    assert len(server.ig_containers) == 1
    assert {h["container_id"] for h in handles} == {result.container_id}
    assert handles[-1] == {"container_id": result.container_id, "media_id": result.remote_id}
    assert len(server.ig_media) == 1


def test_expired_container_in_recovery_gets_a_new_one(server: FakePlatformServer) -> None:
    publisher = make(server)
    server.ig_next_outcome = ("EXPIRED", "Expired")
    handles: list[dict[str, str]] = []
    with pytest.raises(Transient):
        publisher.publish(post(server), lambda h: handles.append(dict(h)))
    server.ig_next_outcome = None
    result = publisher.publish(post(server), lambda h: handles.append(dict(h)), handles[0])
    assert len(handles) == 4 and result.container_id == handles[1]["container_id"]
    assert result.container_id != handles[0]["container_id"]


def test_a_kept_media_id_settles_a_retry_without_a_second_post(server: FakePlatformServer) -> None:
    """The answer to media_publish was read, then the worker died before recording it."""
    publisher = make(server)
    handles: list[dict[str, str]] = []
    made = publisher.publish(post(server), lambda h: handles.append(dict(h)))
    kept = handles[-1]
    assert kept["media_id"] == made.remote_id
    assert publisher.find(post(server), since(), kept) == made
    again = publisher.publish(post(server), lambda h: handles.append(dict(h)), kept)
    assert again.remote_id == made.remote_id and len(server.ig_media) == 1


def test_find_without_container_matches_the_caption(server: FakePlatformServer) -> None:
    publisher = make(server)
    made = publisher.publish(post(server, text="Caption  one"))
    found = publisher.find(post(server, text="Caption one"), since())
    assert found is not None and found.remote_id == made.remote_id
    assert publisher.find(post(server, text="Caption two"), since()) is None
