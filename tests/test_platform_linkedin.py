"""LinkedIn Pages through its real client stack (httpx) against the fake LinkedIn REST API."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from bot.errors import AlreadyPublished, AuthError, NetworkError, RateLimited, Rejected, Transient
from bot.models import Post
from bot.net import PolicyTransport
from bot.netpolicy import NetworkPolicy
from bot.platforms.linkedin.adapter import LinkedInPublisher
from bot.platforms.linkedin.api import map_error
from bot.platforms.linkedin.little import escape, unescape, visible_length
from bot.platforms.state import Memory
from tests.fakes.linkedin_server import FakeLinkedInServer, linkedin_error, shown

STORY = "https://news.example.com/story-1/"
TEXT = "Signet (NYSE: SIG) names a CEO: 3 things to know #jewelry"


@pytest.fixture
def server() -> Iterator[FakeLinkedInServer]:
    with FakeLinkedInServer() as fake:
        yield fake


def publisher(server: FakeLinkedInServer, **kwargs: object) -> LinkedInPublisher:
    return LinkedInPublisher(server.linkedin_settings(), timeout=2.0, **kwargs)  # type: ignore[arg-type]


def post(text: str = TEXT, **kwargs: object) -> Post:
    parts = {"title": "Signet names a CEO", "summary": "The jeweler (NYSE: SIG) said…"}
    return Post("linkedin", text, link=STORY, story_url=STORY, parts=parts, **kwargs)  # type: ignore[arg-type]


def since() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=5)


def jpeg(width: int = 1200, height: int = 627) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


# --- the little text format --------------------------------------------------------------------


def test_every_reserved_character_is_escaped_outside_elements() -> None:
    text = "A (b) [c] {d} <e> *f* _g_ ~h~ | \\ @\u2060x # #tag @[Acme](urn:li:organization:12)"
    out = escape(text)
    assert out == (
        "A \\(b\\) \\[c\\] \\{d\\} \\<e\\> \\*f\\* \\_g\\_ \\~h\\~ \\| \\\\ \\@\u2060x \\# #tag "
        "@[Acme](urn:li:organization:12)"
    )
    assert shown(out) == out  # LinkedIn keeps it all


def test_urls_stay_whole_and_closing_brackets_stay_outside() -> None:
    out = escape("Read (https://ex.com/a_b/c) now. https://ex.com/x?y=1_2.")
    assert "https://ex.com/a_b/c\\)" in out and "https://ex.com/x?y=1_2." in out


def test_without_escaping_linkedin_cuts_the_post() -> None:
    assert shown(TEXT) == "Signet "  # the failure this prevents
    assert shown(escape(TEXT)) == escape(TEXT)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_escaping_round_trips_and_is_never_cut(text: str) -> None:
    out = escape(text)
    assert shown(out) == out
    assert unescape(out) == unescape(escape(unescape(out)))


def test_visible_length_counts_mention_names() -> None:
    assert visible_length("@[Acme](urn:li:organization:12) x") == len("Acme x")


# --- publishing --------------------------------------------------------------------------------


def test_an_article_share_with_an_uploaded_thumbnail(server: FakeLinkedInServer) -> None:
    url = server.add_image("story.jpg", jpeg(), "image/jpeg")
    adapter = publisher(server)
    result = adapter.publish(post(image_url=url))
    [made] = server.li_posts
    assert result.remote_id == made["id"]
    assert result.remote_url == f"https://www.linkedin.com/feed/update/{made['id']}/"
    article = server.article(made)
    assert article["source"] == STORY and article["title"] == "Signet names a CEO"
    assert article["description"] == "The jeweler (NYSE: SIG) said…"
    image = server.li_images[article["thumbnail"]]
    assert image["status"] == "AVAILABLE" and image["type"] == "image/jpeg"
    assert made["commentary"] == escape(TEXT) and shown(made["raw_commentary"]) == escape(TEXT)
    for request in server.requests_to("/rest/*"):
        assert request.headers["linkedin-version"] == "202607"
        assert request.headers["x-restli-protocol-version"] == "2.0.0"
    assert all(server.linkedin_token not in r.target for r in server.requests)


def test_an_unusable_image_leaves_a_card_without_thumbnail(server: FakeLinkedInServer) -> None:
    publisher(server).publish(post(image_url=server.image_url("fake.jpg")))
    [made] = server.li_posts
    assert "thumbnail" not in server.article(made) and server.li_images == {}


def test_a_repeat_is_recorded_as_the_first_post(server: FakeLinkedInServer) -> None:
    adapter = publisher(server)
    first = adapter.publish(post())
    with pytest.raises(AlreadyPublished) as caught:
        adapter.publish(post())
    assert caught.value.remote_id == first.remote_id and len(server.li_posts) == 1
    assert caught.value.remote_url == first.remote_url


def test_find_lists_the_organization_posts(server: FakeLinkedInServer) -> None:
    adapter = publisher(server)
    assert adapter.find(post(), since()) is None
    made = adapter.publish(post())
    adapter.publish(Post("linkedin", "Other news", link="https://news.example.com/story-2/"))
    found = adapter.find(post(), since())
    assert found is not None and found.remote_id == made.remote_id
    by_text = adapter.find(Post("linkedin", TEXT), since())  # no link: the text decides
    assert by_text is not None and by_text.remote_id == made.remote_id


def test_find_pages_through_a_busy_page(server: FakeLinkedInServer) -> None:
    adapter = publisher(server)
    made = adapter.publish(post())
    for n in range(120):
        adapter.publish(Post("linkedin", f"Story {n}", link=f"https://news.example.com/n{n}/"))
    found = adapter.find(post(), since())
    assert found is not None and found.remote_id == made.remote_id


def test_too_long_is_refused_before_sending(server: FakeLinkedInServer) -> None:
    with pytest.raises(Rejected, match="3000"):
        publisher(server).publish(post("x" * 3001))
    assert server.requests == []


def test_check_lines_say_whether_posts_can_be_read(server: FakeLinkedInServer) -> None:
    adapter = publisher(server)
    assert adapter.verify().name == server.organization_name
    assert "can read" in adapter.access_lines()[0]
    server.can_read_organization = False  # a token with the posting scopes only
    assert adapter.verify().name == server.author
    server.can_read_posts = False
    assert "r_organization_social" in adapter.access_lines()[0]
    with pytest.raises(AuthError):
        adapter.verify()


def test_token_expiry_is_counted_from_first_use(server: FakeLinkedInServer) -> None:
    state = Memory()
    info = publisher(server, state=state, wall=lambda: 1000.0).token_info()
    assert info.expires_at == 1000.0 + 60 * 86400
    later = publisher(server, state=state, wall=lambda: 99999.0).token_info()
    assert later.expires_at == info.expires_at  # the same token: the first use stands


# --- error rows through the real client --------------------------------------------------------


def _body(status: int, code: str, message: str, service: int | None = None) -> object:
    return linkedin_error(status, code, message, service).body


ERROR_ROWS = [
    (401, _body(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600), AuthError),
    (
        401,
        _body(401, "REVOKED_ACCESS_TOKEN", "The token used in the request has been revoked", 65601),
        AuthError,
    ),
    (
        401,
        _body(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65602),
        AuthError,
    ),
    (
        403,
        _body(403, "ACCESS_DENIED", "Not enough permissions to access: posts.CREATE", 100),
        AuthError,
    ),
    (426, _body(426, "NONEXISTENT_VERSION", "Requested version 202401 is not active"), AuthError),
    (
        429,
        _body(429, "TOO_MANY_REQUESTS", "Resource level throttle APPLICATION DAY limit"),
        RateLimited,
    ),
    (
        422,
        {"status": 422, "message": "/content :: unrecognized field found but not allowed"},
        Rejected,
    ),
    (400, _body(400, "ILLEGAL_ARGUMENT", "Invalid author"), Rejected),
    (500, _body(500, "INTERNAL_SERVER_ERROR", "Internal Server Error"), Transient),
    (504, b"<html>Gateway Timeout</html>", Transient),
]


@pytest.mark.parametrize(("status", "body", "kind"), ERROR_ROWS)
def test_each_error_row(server: FakeLinkedInServer, status: int, body: object, kind: type) -> None:
    server.fail("POST", "/rest/posts", status=status, body=body)  # type: ignore[arg-type]
    with pytest.raises(kind) as caught:
        publisher(server).publish(post())
    assert caught.value.platform == "linkedin" and caught.value.message
    if kind is AuthError:
        expected = "LINKEDIN_API_VERSION" if status == 426 else "LINKEDIN_ACCESS_TOKEN"
        assert caught.value.variable == expected
    assert server.li_posts == []


def test_a_sunset_version_names_the_setting(server: FakeLinkedInServer) -> None:
    adapter = LinkedInPublisher(server.linkedin_settings(version="202401"), timeout=2.0)
    with pytest.raises(AuthError) as caught:
        adapter.verify()
    assert caught.value.variable == "LINKEDIN_API_VERSION" and "YYYYMM" in caught.value.message


def test_the_daily_limit_waits_until_midnight_utc() -> None:
    noon = datetime(2026, 12, 5, 12, 0, tzinfo=UTC).timestamp()
    error = map_error(429, {"status": 429, "message": "limit"}, {}, noon)
    assert isinstance(error, RateLimited) and error.retry_after == 12 * 3600


def test_an_unreachable_host_is_a_network_error() -> None:
    with FakeLinkedInServer() as server:
        settings = server.linkedin_settings()
    with pytest.raises(NetworkError):
        LinkedInPublisher(settings, timeout=1.0).verify()


def test_the_shared_client_stack_carries_it(server: FakeLinkedInServer) -> None:
    policy = NetworkPolicy.trusting([server.base_url])
    client = httpx.Client(transport=PolicyTransport(policy), timeout=2.0)
    try:
        url = server.add_image("story.jpg", jpeg(), "image/jpeg")
        LinkedInPublisher(server.linkedin_settings(), http=client).publish(post(image_url=url))
        assert len(server.li_posts) == 1
    finally:
        client.close()
