"""The X adapter through real tweepy + requests + OAuth1 signing against the fake X API."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from PIL import Image

from bot.errors import AlreadyPublished, AuthError, NetworkError, RateLimited, Rejected, Transient
from bot.models import Post
from bot.platforms.twitter.adapter import TwitterPublisher, normalise_text
from bot.platforms.twitter.session import XSession
from bot.settings import Secret
from tests.fakes.images import bomb_png, jpeg_bytes
from tests.fakes.platform_server import FakePlatformServer, oauth1_signature, x_problem

TWITTER_VARS = (
    "TWITTER_API_KEY, TWITTER_API_SECRET, TWITTER_ACCESS_TOKEN, TWITTER_ACCESS_TOKEN_SECRET"
)


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer() as fake:
        yield fake


def make(
    server: FakePlatformServer, clock: Callable[[], float] = time.time, **overrides: object
) -> TwitterPublisher:
    return TwitterPublisher(server.twitter_settings(**overrides), timeout=1.0, clock=clock)


def since() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=5)


# --- verify and the signature ------------------------------------------------------------------


def test_verify_names_the_account(server: FakePlatformServer) -> None:
    account = make(server).verify()
    assert (account.platform, account.id, account.name) == ("twitter", server.x_user_id, "@jcktest")


@pytest.mark.parametrize("field", ["api_secret", "access_token_secret", "api_key", "access_token"])
def test_a_wrong_credential_is_an_auth_error_naming_the_variables(
    server: FakePlatformServer, field: str
) -> None:
    publisher = make(server, **{field: Secret("wrong")})
    with pytest.raises(AuthError) as caught:
        publisher.verify()
    assert caught.value.variable == TWITTER_VARS
    assert caught.value.message == "Unauthorized"
    assert server.tweets == []


def test_the_fake_checks_the_signature_against_the_url_it_received(
    server: FakePlatformServer,
) -> None:
    """A request signed for api.twitter.com but sent elsewhere must fail, as it would at X."""
    from requests_oauthlib import OAuth1

    c = server.x_credentials
    auth = OAuth1(c.consumer_key, c.consumer_secret, c.access_token, c.access_token_secret)
    signed = requests.Request("GET", "https://api.twitter.com/2/users/me", auth=auth).prepare()
    response = requests.get(
        server.base_url + "/2/users/me", headers={"Authorization": signed.headers["Authorization"]}
    )
    assert response.status_code == 401
    good = requests.get(server.base_url + "/2/users/me", auth=auth)
    assert good.status_code == 200


def test_signature_helper_matches_the_rfc5849_example() -> None:
    """RFC 5849 section 1.2's request (HMAC-SHA1), so the fake's verifier is independent."""
    params = [
        ("file", "vacation.jpg"),
        ("size", "original"),
        ("oauth_consumer_key", "dpf43f3p2l4k3l03"),
        ("oauth_token", "nnch734d00sl2jdk"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "1191242096"),
        ("oauth_nonce", "kllo9940pd9333jh"),
        ("oauth_version", "1.0"),
    ]
    signature = oauth1_signature(
        "GET", "http://photos.example.net/photos", params, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00"
    )
    assert signature == "tR3+Ty81lMeYAr/Fid0kMTYa/WM="


# --- the base URL is honoured by every call ----------------------------------------------------


def test_every_request_goes_to_the_base_url_and_nowhere_else(
    server: FakePlatformServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    original = requests.adapters.HTTPAdapter.send

    def spy(self: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, **kw: object):
        sent.append(str(request.url))
        return original(self, request, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", spy)
    publisher = make(server)
    post = Post(
        "twitter",
        "Base URL https://example.com/a",
        image_url=server.image_url(),
        alt_text="ring",
        story_url="https://example.com/a",
    )
    publisher.verify()
    publisher.publish(post)
    assert publisher.find(post, since()) is not None
    paths = {r.path for r in server.requests if r.path.startswith("/2/")}
    assert paths == {
        "/2/users/me",
        "/2/media/upload",
        "/2/media/metadata",
        "/2/tweets",
        f"/2/users/{server.x_user_id}/tweets",
    }
    assert len(sent) == 5  # users/me once (cached), upload, metadata, tweet, timeline
    assert all(url.startswith(server.base_url + "/2/") for url in sent), sent


def test_the_session_refuses_other_hosts() -> None:
    session = XSession("http://127.0.0.1:9", timeout=0.1)
    with pytest.raises(requests.exceptions.InvalidURL):
        session.get("https://upload.twitter.com/1.1/media/upload.json")


# --- publishing ---------------------------------------------------------------------------------


def test_text_post_returns_id_and_url(server: FakePlatformServer) -> None:
    result = make(server).publish(Post("twitter", "Just words"))
    assert server.tweets[0]["input_text"] == "Just words"
    assert server.tweets[0]["media_ids"] == []
    assert result.remote_id == server.tweets[0]["id"]
    assert result.remote_url == f"https://x.com/jcktest/status/{result.remote_id}"
    assert server.requests_to("/images/*") == []


def test_image_is_uploaded_with_alt_text_and_attached(server: FakePlatformServer) -> None:
    post = Post("twitter", "With a ring", image_url=server.image_url(), alt_text="A gold ring")
    make(server).publish(post)
    (media_id,) = server.tweets[0]["media_ids"]
    assert server.media[media_id]["category"] == "tweet_image"
    uploaded = server.media[media_id]["bytes"]
    assert uploaded.startswith(b"\xff\xd8") and uploaded != jpeg_bytes()  # re-encoded, clean
    assert server.tweets[0]["alt_texts"] == ["A gold ring"]
    upload = server.requests_to("/2/media/upload")[0]
    assert upload.headers["content-type"].startswith("multipart/form-data")


@pytest.mark.parametrize(
    ("image", "fault"),
    [
        ("missing.jpg", None),  # 404 at the image host
        ("fake.jpg", None),  # labelled JPEG, bytes are HTML
        ("page.html", None),  # not an image type
        ("bomb.png", None),  # a decompression bomb
        ("pixel.gif", None),  # a 1x1 tracking pixel, no picture
        ("photo.jpg", 503),  # the upload endpoint fails
        ("photo.jpg", 429),  # the upload endpoint is rate limited
    ],
)
def test_image_failure_posts_without_the_image_and_warns(
    server: FakePlatformServer, caplog: pytest.LogCaptureFixture, image: str, fault: int | None
) -> None:
    server.add_image("bomb.png", bomb_png(), "image/png")
    pixel = io.BytesIO()
    Image.new("P", (1, 1)).save(pixel, "GIF")
    server.add_image("pixel.gif", pixel.getvalue(), "image/gif")
    if fault:
        server.fail("POST", "/2/media/upload", status=fault, body=x_problem(fault, "Nope"))
    post = Post("twitter", "Story with a broken image", image_url=server.image_url(image))
    with caplog.at_level(logging.WARNING, logger="bot.platforms.twitter"):
        result = make(server).publish(post)
    assert result.remote_id == server.tweets[0]["id"]
    assert server.tweets[0]["media_ids"] == []
    assert any("without the image" in r.getMessage() for r in caplog.records)


def test_failed_alt_text_keeps_the_image(
    server: FakePlatformServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail("POST", "/2/media/metadata", status=500, body=x_problem(500, "Internal Error"))
    post = Post("twitter", "Alt text fails", image_url=server.image_url(), alt_text="ring")
    with caplog.at_level(logging.WARNING, logger="bot.platforms.twitter"):
        make(server).publish(post)
    assert len(server.tweets[0]["media_ids"]) == 1
    assert any("without alt text" in r.getMessage() for r in caplog.records)


# --- the error table, row by row ----------------------------------------------------------------

RESET = 2_000_000_000
CAP = x_problem(
    429,
    "UsageCapExceeded",
    "Usage cap exceeded: Monthly product cap",
    "https://api.twitter.com/2/problems/usage-capped",
    period="Monthly",
)
PERMS = x_problem(
    403,
    "Forbidden",
    "Your client app is not configured with the appropriate "
    "oauth1 app permissions for this endpoint.",
    "https://api.twitter.com/2/problems/oauth1-permissions",
)


@pytest.mark.parametrize(
    ("status", "body", "kind", "text"),
    [
        (429, x_problem(429, "Too Many Requests"), RateLimited, "Too Many Requests"),
        (429, CAP, RateLimited, "Usage cap exceeded: Monthly product cap"),
        (
            403,
            x_problem(403, "Forbidden", "You are not permitted to perform this action."),
            Rejected,
            "You are not permitted to perform this action.",
        ),
        (403, PERMS, AuthError, "oauth1 app permissions"),
        (
            400,
            x_problem(
                400,
                "Invalid Request",
                "One or more parameters to your request was invalid.",
                errors=[{"message": "text: bad"}],
            ),
            Rejected,
            "text: bad",
        ),
        (401, x_problem(401, "Unauthorized"), AuthError, "Unauthorized"),
        (500, x_problem(500, "Internal Server Error"), Transient, "Internal Server Error"),
        (503, x_problem(503, "Service Unavailable"), Transient, "Service Unavailable"),
        (502, "<html>bad gateway</html>", Transient, "HTTP 502"),
        (404, x_problem(404, "Not Found Error"), Rejected, "Not Found Error"),
    ],
)
def test_error_rows(
    server: FakePlatformServer, status: int, body: object, kind: type, text: str
) -> None:
    server.fail(
        "POST",
        "/2/tweets",
        status=status,
        body=body,  # type: ignore[arg-type]
        headers={"x-rate-limit-reset": str(RESET)},
    )
    publisher = make(server, clock=lambda: RESET - 120.0)
    with pytest.raises(kind) as caught:
        publisher.publish(Post("twitter", "Error row"))
    assert type(caught.value) is kind
    assert text in caught.value.message
    assert caught.value.platform == "twitter"
    if caught.value.message.startswith("Usage cap"):
        assert caught.value.long_pause and caught.value.retry_after == 24 * 3600
    elif kind is RateLimited:
        assert caught.value.retry_after == 120 and not caught.value.long_pause
    if kind is AuthError:
        assert caught.value.variable == TWITTER_VARS


def test_duplicate_text_is_already_published(server: FakePlatformServer) -> None:
    server.x_refuse_duplicates = True  # X's refusal, an option of the fake
    publisher = make(server)
    publisher.publish(Post("twitter", "Same words twice"))
    with pytest.raises(AlreadyPublished, match="duplicate content"):
        publisher.publish(Post("twitter", "Same words twice"))
    assert len(server.tweets) == 1


def test_too_long_text_is_rejected_by_the_platform(server: FakePlatformServer) -> None:
    with pytest.raises(Rejected, match="too long"):
        make(server).publish(Post("twitter", "x" * 281))


@pytest.mark.parametrize("after_effect", [False, True])
def test_dropped_connection_is_transient(server: FakePlatformServer, after_effect: bool) -> None:
    server.drop("POST", "/2/tweets", after_effect=after_effect)
    with pytest.raises(Transient):
        make(server).publish(Post("twitter", "Dropped"))
    assert len(server.tweets) == (1 if after_effect else 0)


def test_hang_after_the_post_is_transient_and_find_recovers_it(server: FakePlatformServer) -> None:
    publisher = make(server)
    publisher.verify()
    server.hang("POST", "/2/tweets", seconds=3)
    post = Post("twitter", "Hung & lost https://example.com/hung")
    with pytest.raises(Transient, match="in time"):
        publisher.publish(post)
    server.release()
    found = publisher.find(post, since())
    assert found is not None and found.remote_id == server.tweets[0]["id"]


def test_connection_refused_is_transient(server: FakePlatformServer) -> None:
    publisher = make(server, base_url="http://127.0.0.1:9")
    with pytest.raises(Transient, match=r"the connection to 127\.0\.0\.1:9 was refused") as caught:
        publisher.verify()
    assert isinstance(caught.value, NetworkError) and caught.value.kind == "refused"


# --- find ---------------------------------------------------------------------------------------


def test_find_matches_the_expanded_link_despite_tco(server: FakePlatformServer) -> None:
    publisher = make(server)
    post = Post(
        "twitter",
        "Gems & rings https://www.jckonline.com/story?id=1 #gems",
        story_url="https://www.jckonline.com/story?id=1",
    )
    made = publisher.publish(post)
    assert "https://t.co/" in server.tweets[0]["text"]
    assert "&amp;" in server.tweets[0]["text"]
    found = publisher.find(post, since())
    assert found == made


def test_find_matches_the_text_when_links_differ(server: FakePlatformServer) -> None:
    publisher = make(server)
    made = publisher.publish(Post("twitter", "Café <b> & co https://example.com/x"))
    recorded = Post("twitter", "Café <b> & co https://example.com/x", story_url="https://other/")
    assert publisher.find(recorded, since()) == made


def test_find_returns_none_for_a_post_never_made(server: FakePlatformServer) -> None:
    publisher = make(server)
    publisher.publish(
        Post("twitter", "Something else https://example.com/1", story_url="https://example.com/1")
    )
    missing = Post("twitter", "Not posted https://example.com/2", story_url="https://example.com/2")
    assert publisher.find(missing, since()) is None
    query = server.requests_to("/2/users/*/tweets")[0].params()
    assert query["exclude"] == "retweets"
    assert query["tweet.fields"] == "created_at,entities"
    assert 5 <= int(query["max_results"]) <= 100
    start = datetime.fromisoformat(query["start_time"].replace("Z", "+00:00"))
    assert start <= since() - timedelta(seconds=59)


def test_find_ignores_posts_before_the_window(server: FakePlatformServer) -> None:
    now = [1_700_000_000.0]
    server.clock = lambda: now[0]
    publisher = make(server, clock=lambda: now[0])
    post = Post("twitter", "Old words")
    publisher.publish(post)
    now[0] += 3600
    after = datetime.fromtimestamp(now[0] - 10, UTC)
    assert publisher.find(post, after) is None
    assert publisher.find(post, after - timedelta(hours=1)) is not None


def test_normalise_text_removes_links_and_entities() -> None:
    ours = normalise_text("A & B  https://example.com/long/path?x=1 end")
    theirs = normalise_text("A &amp; B https://t.co/abc123 end")
    assert ours == theirs
    assert normalise_text("A https://example.org") != normalise_text("B https://example.org")
