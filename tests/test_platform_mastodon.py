"""Mastodon: the instance's own rules, the Idempotency-Key, media with alt text, reconciling and
every error row, through the real httpx stack against the fake instance."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.errors import (
    AuthError,
    NetworkError,
    NotReady,
    PublishError,
    RateLimited,
    Rejected,
)
from bot.models import Post
from bot.platforms.mastodon.adapter import MastodonPublisher, html_text
from bot.platforms.mastodon.errors import ROWS, map_error, reset_seconds
from bot.platforms.mastodon.instance import InstanceRules, length, parse_instance
from bot.platforms.mastodon.settings import MastodonSettings
from bot.settings_values import Secret
from tests.fakes.mastodon_server import MastodonServer, masto_error

URL = "https://www.jckonline.com/editorial-article/de-beers-cuts-rough-prices-again-2026/"


@pytest.fixture
def server() -> Iterator[MastodonServer]:
    with MastodonServer() as fake:
        yield fake


class Clock:
    def __init__(self, server: MastodonServer) -> None:
        self.now = datetime.now(UTC).timestamp()
        server.clock = self

    def __call__(self) -> float:
        return self.now


def publisher(server: MastodonServer, **kw: Any) -> MastodonPublisher:
    settings = MastodonSettings(
        server.base_url, Secret(kw.pop("token", server.masto_token)), kw.pop("visibility", "public")
    )
    return MastodonPublisher(settings, timeout=2.0, **kw)


def story_post(server: MastodonServer, text: str | None = None, **kw: Any) -> Post:
    values: dict[str, Any] = {
        "image_url": server.image_url(),
        "alt_text": "De Beers cuts rough prices",
        "story_url": URL,
    }
    values.update(kw)
    return Post("mastodon", text or f"De Beers cuts rough prices {URL} #Diamonds", **values)


def since() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=1)


# --- the instance's rules and its counting -----------------------------------------------------


def test_instance_rules_from_v2_v1_forks_and_nonsense() -> None:
    v2 = {"version": "4.3.2", "configuration": {
        "statuses": {"max_characters": 5000, "characters_reserved_per_url": 30},
        "media_attachments": {"description_limit": 1000, "image_size_limit": 10_000_000,
                              "supported_mime_types": ["image/jpeg", "video/mp4"]}}}  # fmt: skip
    rules = parse_instance(v2)
    assert (rules.max_characters, rules.url_weight, rules.description_limit) == (5000, 30, 1000)
    assert rules.image_types == ("image/jpeg",) and rules.image_size_limit == 10_000_000
    assert parse_instance({"max_toot_chars": 1024}).max_characters == 1024  # Pleroma-style
    for nonsense in (None, [], {"configuration": {"statuses": {"max_characters": "lots"}}},
                     {"configuration": {"statuses": {"max_characters": -5}}}):  # fmt: skip
        assert parse_instance(nonsense) == InstanceRules()


def test_length_as_the_instance_counts_it() -> None:
    rules = InstanceRules()
    assert length(f"Read {URL}", rules) == 5 + 23
    assert length("Hi @someone@mastodon.social", rules) == len("Hi @someone")
    assert length("👨‍👩‍👧‍👦 café", rules) == 6  # one grapheme for the family
    assert length("bare example.com stays text", rules) == len("bare example.com stays text")
    wide = InstanceRules(url_weight=40)
    assert length(URL, wide) == 40


def test_the_fake_counts_as_the_adapter_does(server: MastodonServer) -> None:
    for text in (f"Read {URL} now", "Hi @a@b.social 👨‍👩‍👧‍👦 é", f"{URL} {URL}"):
        assert server.masto_length(text) == length(text, InstanceRules())


def test_status_html_gives_the_whole_url_back(server: MastodonServer) -> None:
    publisher(server).publish(story_post(server, f"Prices & more\n{URL}", image_url=None))
    [status] = server.masto_statuses
    assert "…" not in html_text(status["content"]) and URL in html_text(status["content"])


# --- publishing ---------------------------------------------------------------------------------


def test_a_status_with_its_image_alt_text_and_idempotency_key(server: MastodonServer) -> None:
    handles: list[dict[str, str]] = []
    masto = publisher(server, new_key=lambda: "key-1")
    result = masto.publish(story_post(server), handles.append)
    [status] = server.masto_statuses
    assert status["text"].startswith("De Beers") and status["visibility"] == "public"
    [media] = status["media_attachments"]
    assert media["description"] == "De Beers cuts rough prices"
    [sent] = server.requests_to("/api/v1/statuses", "POST")
    assert sent.headers["idempotency-key"] == "key-1"
    assert sent.headers["authorization"] == f"Bearer {server.masto_token}"
    assert server.masto_token not in sent.target
    assert handles[-1]["idempotency_key"] == "key-1" and handles[-1]["media_id"] == media["id"]
    assert result.remote_id == status["id"]
    assert result.remote_url == server.masto_status_url(status["id"])


def test_a_retry_with_the_kept_key_returns_the_first_status(server: MastodonServer) -> None:
    handles: list[dict[str, str]] = []
    post = story_post(server)
    first = publisher(server).publish(post, handles.append)
    again = publisher(server).publish(post, handles.append, handles[-1])
    assert again == first and len(server.masto_statuses) == 1


def test_duplicates_are_accepted_as_the_real_instance_does(server: MastodonServer) -> None:
    masto = publisher(server)
    masto.publish(story_post(server, image_url=None))
    masto.publish(story_post(server, image_url=None))  # a new key each time: two statuses
    assert len(server.masto_statuses) == 2


def test_visibility_is_sent(server: MastodonServer) -> None:
    publisher(server, visibility="unlisted").publish(story_post(server, image_url=None))
    assert server.masto_statuses[0]["visibility"] == "unlisted"


def test_the_instance_limit_is_read_and_obeyed(server: MastodonServer) -> None:
    server.masto_max_characters, server.masto_url_weight = 100, 40
    masto = publisher(server)
    assert masto.live_limits().max_length == 100
    assert "100 characters" in masto.access_lines()[0]
    with pytest.raises(Rejected, match="over its 100"):
        masto.publish(story_post(server, "x" * 61 + " " + URL))  # 61 + 1 + 40 = 102
    assert server.masto_statuses == []
    masto.publish(story_post(server, "x" * 59 + " " + URL, image_url=None))  # exactly 100
    assert len(server.masto_statuses) == 1
    assert len(server.requests_to("/api/v2/instance")) == 1  # read once


def test_an_old_instance_without_v2_is_read_through_v1(server: MastodonServer) -> None:
    server.masto_v2_instance, server.masto_max_characters = False, 1000
    assert publisher(server).rules().max_characters == 1000


def test_media_still_processing_defers_without_sleeping_then_attaches(
    server: MastodonServer,
) -> None:
    server.masto_processing_reads = 2
    handles: dict[str, str] = {}
    masto = publisher(server)
    post = story_post(server)
    with pytest.raises(NotReady, match="processing") as first:
        masto.publish(post, handles.update)
    assert first.value.retry_after == 30
    assert server.masto_statuses == [] and "media_id" in handles
    with pytest.raises(NotReady, match="processing"):  # 206: not yet
        masto.publish(post, handles.update, dict(handles))
    masto.publish(post, handles.update, dict(handles))
    [status] = server.masto_statuses
    assert [m["id"] for m in status["media_attachments"]] == [handles["media_id"]]
    assert len(server.requests_to("/api/v2/media", "POST")) == 1  # uploaded once


def test_an_unusable_image_leaves_the_words_to_go_alone(server: MastodonServer) -> None:
    publisher(server).publish(story_post(server, image_url=server.image_url("fake.jpg")))
    assert server.masto_statuses[0]["media_attachments"] == []


# --- reconciling -------------------------------------------------------------------------------


def test_find_replays_the_key_within_the_hour(server: MastodonServer) -> None:
    clock = Clock(server)
    handles: list[dict[str, str]] = []
    masto = publisher(server, clock=clock)
    post = story_post(server)
    made = masto.publish(post, handles.append)
    clock.now += 50 * 60
    assert masto.find(post, since(), handles[-1]) == made
    assert len(server.masto_statuses) == 1
    # Past the hour: the key protects nothing any more, the statuses are read instead.
    clock.now += 10 * 60
    before = len(server.requests_to("/api/v1/statuses", "POST"))
    assert masto.find(post, since(), handles[-1]) == made
    assert len(server.requests_to("/api/v1/statuses", "POST")) == before


def test_a_replay_of_a_request_that_never_arrived_makes_the_post_once(
    server: MastodonServer,
) -> None:
    handles: list[dict[str, str]] = []
    masto = publisher(server)
    post = story_post(server, image_url=None)
    server.drop("POST", "/api/v1/statuses")  # before the effect: nothing was made
    with pytest.raises(NetworkError):
        masto.publish(post, handles.append)
    assert server.masto_statuses == []
    found = masto.find(post, since(), handles[-1])
    assert found is not None and len(server.masto_statuses) == 1
    assert masto.find(post, since(), handles[-1]) == found  # and only once


def test_a_refused_replay_means_nothing_was_posted(server: MastodonServer) -> None:
    handles = {"idempotency_key": "k", "sent_at": datetime.now(UTC).isoformat()}
    too_long = story_post(server, "x" * 600, image_url=None)
    assert publisher(server).find(too_long, since(), handles) is None


def test_find_by_listing_matches_link_or_text_and_stops_at_since(server: MastodonServer) -> None:
    masto = publisher(server)
    post = story_post(server, image_url=None)
    assert masto.find(post, since()) is None
    for n in range(45):  # more than one page of 40
        masto.publish(story_post(server, f"Other story {n}", image_url=None))
    made = masto.publish(post)
    for n in range(45):
        masto.publish(story_post(server, f"Later story {n}", image_url=None))
    assert masto.find(post, since()) == made
    assert masto.find(story_post(server, f"Reworded {URL}", image_url=None), since()) == made
    assert masto.find(post, datetime.now(UTC) + timedelta(minutes=5)) is None


# --- every error row ---------------------------------------------------------------------------

BODIES = {
    401: masto_error("The access token is invalid"),
    403: masto_error("This action is not allowed"),
    404: masto_error("Record not found"),
    410: masto_error("Gone"),
    413: b"<html>413 Request Entity Too Large</html>",
    422: masto_error("Validation failed: Text character limit of 500 exceeded"),
    429: masto_error("Too many requests"),
    500: masto_error("We're sorry, but something went wrong"),
    502: b"<html>502 Bad Gateway</html>",
    503: masto_error("A temporary problem occurred; try again in a moment"),
    504: b"<html>504 Gateway Time-out</html>",
}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.status}-{r.words or 'any'}")
def test_each_error_row_through_the_client_stack(server: MastodonServer, row: Any) -> None:
    body: Any = BODIES[row.status]
    if row.words:
        body = masto_error("Cannot attach files that have not finished processing. Try again")
    headers = {"X-RateLimit-Reset": "2099-01-01T00:00:00.000000Z"} if row.status == 429 else {}
    server.fail("POST", "/api/v1/statuses", status=row.status, body=body, headers=headers)
    with pytest.raises(PublishError) as caught:
        publisher(server).publish(story_post(server, image_url=None))
    assert type(caught.value) is row.kind, caught.value
    assert caught.value.code == str(row.status) and caught.value.message
    if row.kind is AuthError:
        assert caught.value.variable == "MASTODON_ACCESS_TOKEN"  # type: ignore[attr-defined]
    if row.kind is RateLimited:
        assert caught.value.retry_after and caught.value.retry_after > 86400  # type: ignore[attr-defined]


def test_a_wrong_token_is_an_auth_error_naming_the_variable(server: MastodonServer) -> None:
    with pytest.raises(AuthError) as caught:
        publisher(server, token="wrong").verify()
    assert "access token is invalid" in caught.value.message
    assert "MASTODON_ACCESS_TOKEN" in caught.value.message


def test_reset_is_iso_8601_not_epoch() -> None:
    now = datetime(2026, 12, 5, 10, 0, tzinfo=UTC).timestamp()
    assert reset_seconds({"x-ratelimit-reset": "2026-12-05T10:15:00.000000Z"}, now) == 900
    assert reset_seconds({"x-ratelimit-reset": "1765000000"}, now) is None
    error = map_error(429, masto_error("Too many requests"), {}, now)
    assert isinstance(error, RateLimited) and error.retry_after is None


def test_an_unreachable_instance_is_a_network_error_naming_the_host() -> None:
    settings = MastodonSettings("http://127.0.0.1:9", Secret("t"))
    with pytest.raises(NetworkError) as caught:
        MastodonPublisher(settings, timeout=1.0).verify()
    assert "127.0.0.1:9" in caught.value.message and caught.value.kind == "refused"


# --- the settings section ----------------------------------------------------------------------


def test_the_section_reads_instance_token_and_visibility() -> None:
    from bot.errors import ConfigError
    from bot.platforms.mastodon.settings import read
    from tests.test_platform_bluesky import Env

    assert read(Env()) is None
    found = read(Env(MASTODON_BASE_URL="https://mastodon.social/", MASTODON_ACCESS_TOKEN="t0k"))
    assert found is not None and found.base_url == "https://mastodon.social"
    assert found.visibility == "public" and found.access_token.reveal() == "t0k"
    unlisted = read(Env(MASTODON_BASE_URL="https://m.example", MASTODON_ACCESS_TOKEN="t",
                        MASTODON_VISIBILITY="Unlisted"))  # fmt: skip
    assert unlisted is not None and unlisted.visibility == "unlisted"
    cases = {
        "MASTODON_BASE_URL": Env(MASTODON_ACCESS_TOKEN="secret-token"),
        "MASTODON_ACCESS_TOKEN": Env(MASTODON_BASE_URL="https://mastodon.social"),
        "MASTODON_VISIBILITY": Env(MASTODON_VISIBILITY="direct"),
    }
    for variable, env in cases.items():
        with pytest.raises(ConfigError) as caught:
            read(env)
        assert caught.value.variable == variable
        assert "secret-token" not in str(caught.value)
    with pytest.raises(ConfigError, match="instance's address only"):
        read(Env(MASTODON_BASE_URL="https://mastodon.social/@jck", MASTODON_ACCESS_TOKEN="t"))


def test_check_says_what_the_token_can_read(server: MastodonServer) -> None:
    masto = publisher(server)
    lines = masto.access_lines()
    assert lines[0].startswith("instance: 500 characters a post, links count 23 (Mastodon 4.3.2)")
    assert lines[1].startswith("reads its own posts: yes")
    server.fail("GET", "/api/v1/accounts/*/statuses", status=403,
                body=masto_error("This action is outside the authorized scopes"))  # fmt: skip
    assert "CANNOT read its own posts" in masto.access_lines()[1]


def test_a_publisher_s_limits_are_its_instance_s_the_class_s_the_defaults(
    server: MastodonServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.masto_max_characters, server.masto_url_weight = 5000, 30
    masto = publisher(server)
    assert (masto.limits.max_length, masto.limits.url_weight) == (5000, 30)
    assert masto.limits.counting.value == "graphemes"
    assert (MastodonPublisher.limits.max_length, MastodonPublisher.limits.url_weight) == (500, 23)
    masto.limits  # noqa: B018 - read once
    assert len(server.requests_to("/api/v2/instance")) == 1
    server.fail("GET", "/api/v2/instance", status=503, body=masto_error("down"), times=9)
    fallback = publisher(server)
    assert fallback.limits == MastodonPublisher.limits
    assert "could not be read" in caplog.text and "500 characters" in caplog.text
