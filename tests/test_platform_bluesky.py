"""Bluesky: record keys, facets, the session, exactly-once writes and every error row, through
the real httpx stack against the fake PDS (tests/fakes/bluesky_server.py)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import AuthError, NetworkError, PublishError, RateLimited, Rejected, Transient
from bot.models import Post
from bot.platforms.bluesky import tid
from bot.platforms.bluesky.adapter import BlueskyPublisher, created_at, graphemes, text_problem
from bot.platforms.bluesky.errors import ROWS, map_error
from bot.platforms.bluesky.richtext import facets, mentioned_handles, spans
from bot.platforms.bluesky.settings import BlueskySettings
from bot.platforms.bluesky.xrpc import pds_endpoint
from bot.settings_values import Secret
from tests.fakes.bluesky_server import BlueskyServer, xrpc_error
from tests.fakes.images import jpeg_bytes

URL = "https://www.jckonline.com/editorial-article/de-beers-prices/"


@pytest.fixture
def server() -> Iterator[BlueskyServer]:
    with BlueskyServer() as fake:
        yield fake


def publisher(server: BlueskyServer, **overrides: Any) -> BlueskyPublisher:
    settings = BlueskySettings(
        overrides.pop("handle", server.bsky_handle),
        Secret(overrides.pop("password", server.bsky_password)),
        overrides.pop("service", server.base_url),
    )
    return BlueskyPublisher(settings, timeout=2.0, **overrides)


def story_post(server: BlueskyServer, text: str | None = None, **kw: Any) -> Post:
    values: dict[str, Any] = {
        "link": URL,
        "image_url": server.image_url(),
        "alt_text": "De Beers cuts rough prices",
        "story_url": URL,
        "parts": {"title": "De Beers cuts rough prices", "summary": "The miner cut prices."},
    }
    values.update(kw)
    return Post("bluesky", text or "De Beers cuts rough prices #Diamonds", **values)


def since() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=1)


# --- record keys ---------------------------------------------------------------------------------


def test_tids_are_what_the_pds_accepts_and_sort_by_time() -> None:
    rng = random.Random(1)
    keys = [tid.new_tid(1_765_000_000.0 + n / 1000, rng) for n in range(200)]
    assert all(tid.TID.fullmatch(k) for k in keys)
    assert keys == sorted(keys)  # base32-sortable: later is greater
    micros, clock_id = tid.decode(tid.make_tid(1_765_000_000.123456, 513))
    assert (micros, clock_id) == (1_765_000_000_123_456, 513)
    assert tid.decode("3jzfcijpj2z2a")[0] > 0  # the spec's example is a TID
    for bad in ("3jzfcijpj2z2", "kjzfcijpj2z2a", "3jzfcijpj2z21", "3JZFCIJPJ2Z2A"):
        assert not tid.is_tid(bad)
    with pytest.raises(ValueError):
        tid.make_tid(0.0, 1024)


# --- facets --------------------------------------------------------------------------------------


def test_facets_count_utf8_bytes_as_the_docs_example() -> None:
    text = "Café @alice.bsky.social #news"
    found = facets(text, {"alice.bsky.social": "did:plc:alice"})
    assert [f["index"] for f in found] == [
        {"byteStart": 6, "byteEnd": 24},
        {"byteStart": 25, "byteEnd": 30},
    ]
    assert found[0]["features"] == [
        {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:alice"}
    ]
    assert found[1]["features"] == [{"$type": "app.bsky.richtext.facet#tag", "tag": "news"}]


def test_links_keep_their_whole_url_and_leave_punctuation_out() -> None:
    text = f"💎 Prices (see {URL}#top). Also https://x.example/a_(b)?q=1&r=@me, ok"
    found = [s for s in spans(text) if s.kind.endswith("#link")]
    assert [s.value for s in found] == [URL + "#top", "https://x.example/a_(b)?q=1&r=@me"]
    encoded = text.encode()
    for facet in facets(text, {}):
        index = facet["index"]
        uri = facet["features"][0]["uri"]
        assert encoded[index["byteStart"] : index["byteEnd"]].decode() == uri
    assert not [s for s in spans(text) if not s.kind.endswith("#link")]  # no tag, no mention


def test_neutralised_sigils_numbers_and_unresolved_handles_get_no_facet() -> None:
    text = "@\u2060stranger.bsky.social said #\u2060ad and #2026 to @ghost.example.com #Gold"
    assert mentioned_handles(text) == ["ghost.example.com"]
    found = facets(text, {})
    assert [f["features"][0]["$type"].rsplit("#")[1] for f in found] == ["tag"]
    assert found[0]["features"][0]["tag"] == "Gold"


def test_graphemes_and_bytes_are_what_the_pds_counts() -> None:
    family = "👨‍👩‍👧‍👦"  # 7 code points, 25 bytes, one grapheme
    assert graphemes(family * 300) == 300 and text_problem(family * 100) is None
    assert "graphemes" in (text_problem("é" * 301) or "")
    assert "UTF-8 bytes" in (text_problem(family * 121) or "")  # 121 graphemes, 3,025 bytes
    assert created_at(0.5) == "1970-01-01T00:00:00.500Z"


def test_the_pds_named_in_the_did_document_is_used_when_safe() -> None:
    def doc(endpoint: str) -> dict[str, Any]:
        return {"service": [{"id": "#atproto_pds", "serviceEndpoint": endpoint}]}

    service = "https://bsky.social"
    assert pds_endpoint(doc("https://morel.us-east.host.bsky.network"), service) == (
        "https://morel.us-east.host.bsky.network"
    )
    for unsafe in ("http://evil.example", "https://x.example/path", "ftp://x.example", ""):
        assert pds_endpoint(doc(unsafe), service) == service
    assert pds_endpoint(None, service) == service


# --- publishing against the fake ---------------------------------------------------------------


def test_a_post_carries_facets_and_the_story_card_with_its_thumbnail(
    server: BlueskyServer,
) -> None:
    server.bsky_handles["debeers.bsky.social"] = "did:plc:debeers"
    text = "De Beers (@debeers.bsky.social) cuts prices #Diamonds"
    handles: list[dict[str, str]] = []
    result = publisher(server).publish(story_post(server, text), handles.append)
    [made] = server.bsky_posts
    record = made["value"]
    assert record["text"] == text
    kinds = [f["features"][0]["$type"].rsplit("#")[1] for f in record["facets"]]
    assert kinds == ["mention", "tag"]
    assert record["facets"][0]["features"][0]["did"] == "did:plc:debeers"
    external = record["embed"]["external"]
    assert external["uri"] == URL and external["title"] == "De Beers cuts rough prices"
    assert external["description"] == "The miner cut prices."
    assert server.bsky_blobs[external["thumb"]["ref"]["$link"]][1] == "image/jpeg"
    assert handles == [{"rkey": made["rkey"], "created_at": record["createdAt"]}]
    assert result.remote_id == f"at://{server.bsky_did}/app.bsky.feed.post/{made['rkey']}"
    assert result.remote_url == f"https://bsky.app/profile/{server.bsky_did}/post/{made['rkey']}"


def test_a_retry_with_the_kept_key_makes_no_second_post(server: BlueskyServer) -> None:
    post = story_post(server)
    handles: list[dict[str, str]] = []
    first = publisher(server).publish(post, handles.append)
    again = publisher(server).publish(post, handles.append, handles[0])
    assert again == first and len(server.bsky_posts) == 1
    # A retry whose record differs (here: the picture is gone) finds the key taken: same post.
    server.images["photo.jpg"] = (b"gone", "text/html")
    third = publisher(server).publish(post, handles.append, handles[0])
    assert third.remote_id == first.remote_id and len(server.bsky_posts) == 1
    assert server.requests_to("/xrpc/com.atproto.repo.getRecord")


def test_find_by_the_kept_key_then_by_listing(server: BlueskyServer) -> None:
    post = story_post(server)
    bsky = publisher(server)
    handles: list[dict[str, str]] = []
    assert bsky.find(post, since(), {"rkey": tid.new_tid(1.8e9)}) is None  # RecordNotFound
    assert bsky.find(post, since()) is None
    made = bsky.publish(post, handles.append)
    assert bsky.find(post, since(), handles[0]) == made
    assert bsky.find(post, since()) == made  # by text, without a key
    other = story_post(server, "Other words entirely", link=URL)
    assert bsky.find(other, since()) == made  # by the card's link
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert bsky.find(post, later) is None


def test_duplicates_are_accepted_as_the_real_pds_does(server: BlueskyServer) -> None:
    post = story_post(server)
    bsky = publisher(server)
    bsky.publish(post)
    bsky.publish(post)  # no kept key: a second attempt chooses a second one
    assert len(server.bsky_posts) == 2


def test_an_expired_access_token_is_refreshed_once_without_logging_in(
    server: BlueskyServer,
) -> None:
    bsky = publisher(server)
    bsky.verify()
    server.bsky_expire_access()
    bsky.publish(story_post(server))
    assert server.bsky_refreshes == 1 and len(server.bsky_logins) == 1
    server.bsky_expire_access()
    server.bsky_revoke_refresh()  # "Token has been revoked": log in again
    bsky.publish(story_post(server, "Second"))
    assert len(server.bsky_logins) == 2 and len(server.bsky_posts) == 2


def test_one_session_per_process(server: BlueskyServer) -> None:
    bsky = publisher(server)
    for n in range(3):
        bsky.publish(story_post(server, f"Post {n}"))
    assert len(server.bsky_logins) == 1


def test_a_wrong_password_names_the_variables(server: BlueskyServer) -> None:
    with pytest.raises(AuthError) as caught:
        publisher(server, password="zzzz-zzzz-zzzz-zzzz").verify()
    assert caught.value.variable == "BLUESKY_APP_PASSWORD"
    assert "Invalid identifier or password" in caught.value.message
    assert "BLUESKY_HANDLE" in caught.value.message


def test_an_unresolvable_mention_keeps_its_text_and_tags_nobody(server: BlueskyServer) -> None:
    text = "Met @nobody.example.com today"
    publisher(server).publish(story_post(server, text))
    [made] = server.bsky_posts
    assert made["value"]["text"] == text and "facets" not in made["value"]


def test_a_card_without_a_usable_picture_still_goes(server: BlueskyServer) -> None:
    post = story_post(server, image_url=server.image_url("fake.jpg"))
    publisher(server).publish(post)
    [made] = server.bsky_posts
    assert "thumb" not in made["value"]["embed"]["external"]
    big = server.add_image("big.jpg", jpeg_bytes(3_000_000), "image/jpeg")
    publisher(server).publish(story_post(server, "Big picture", image_url=big))
    thumb = server.bsky_posts[-1]["value"]["embed"]["external"]["thumb"]
    assert thumb["size"] <= 1_000_000


def test_text_too_long_is_refused_before_anything_is_sent(server: BlueskyServer) -> None:
    with pytest.raises(Rejected, match="graphemes"):
        publisher(server).publish(story_post(server, "ä" * 301))
    assert server.requests == []


# --- every error row, through the real stack ---------------------------------------------------

KINDS: dict[str, type[PublishError]] = {
    "InvalidRequest": Rejected,
    "InvalidSwap": Rejected,
    "BlobTooLarge": Rejected,
    "PayloadTooLarge": Rejected,
    "RateLimitExceeded": RateLimited,
    "InternalServerError": Transient,
    "UpstreamFailure": Transient,
    "NotEnoughResources": Transient,
    "UpstreamTimeout": Transient,
    "AccountTakedown": AuthError,
    "AuthenticationRequired": AuthError,
    "AuthMissing": AuthError,
}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.status}-{r.error}")
def test_each_error_row_through_the_client_stack(server: BlueskyServer, row: Any) -> None:
    bsky = publisher(server)
    bsky.verify()
    if row.error in ("ExpiredToken", "InvalidToken"):
        # Refused twice: the call, then the refresh; and the new log-in too.
        server.fail("POST", "/xrpc/com.atproto.repo.putRecord", status=row.status,
                    body=xrpc_error(row.error, "Token has expired"))  # fmt: skip
        server.fail("POST", "/xrpc/com.atproto.server.refreshSession", status=row.status,
                    body=xrpc_error(row.error, "Token has been revoked"))  # fmt: skip
        server.fail("POST", "/xrpc/com.atproto.server.createSession", status=row.status,
                    body=xrpc_error(row.error, "Token has been revoked"))  # fmt: skip
        expected: type[PublishError] = AuthError
    else:
        headers = (
            {"RateLimit-Reset": "9999999999", "Retry-After": "42"} if row.status == 429 else {}
        )
        server.fail("POST", "/xrpc/com.atproto.repo.putRecord", status=row.status,
                    body=xrpc_error(row.error, f"{row.error} here"), headers=headers)  # fmt: skip
        expected = KINDS[row.error]
    with pytest.raises(PublishError) as caught:
        bsky.publish(story_post(server))
    assert type(caught.value) is expected, caught.value
    assert row.error in caught.value.message
    if expected is RateLimited:
        assert caught.value.retry_after == 42  # type: ignore[attr-defined]
    if expected is AuthError:
        assert caught.value.variable == "BLUESKY_APP_PASSWORD"  # type: ignore[attr-defined]


def test_rate_limit_without_retry_after_reads_the_reset_and_a_daily_window() -> None:
    headers = {"ratelimit-reset": "1000", "ratelimit-policy": "35000;w=86400"}
    error = map_error(429, xrpc_error("RateLimitExceeded", "Rate Limit Exceeded"), headers, 900.0)
    assert isinstance(error, RateLimited) and error.retry_after == 100 and error.long_pause
    assert isinstance(map_error(502, b"<html>", {}, 0.0), Transient)
    assert isinstance(map_error(418, None, {}, 0.0), Rejected)
    assert isinstance(map_error(403, {"error": "Forbidden"}, {}, 0.0), AuthError)


def test_an_unreachable_service_is_a_network_error_naming_the_host() -> None:
    settings = BlueskySettings("a.bsky.social", Secret("abcd-efgh-ijkl-mnop"), "http://127.0.0.1:9")
    with pytest.raises(NetworkError) as caught:
        BlueskyPublisher(settings, timeout=1.0).verify()
    assert "127.0.0.1:9" in caught.value.message and caught.value.kind == "refused"


def test_a_session_answer_without_tokens_is_transient(server: BlueskyServer) -> None:
    server.fail("POST", "/xrpc/com.atproto.server.createSession", status=200, body={"did": "x"})
    with pytest.raises(Transient, match=r"accessJwt|handle"):
        publisher(server).verify()


# --- the settings section ----------------------------------------------------------------------


class Env:
    """The settings' reader, over a plain dict."""

    def __init__(self, **values: str) -> None:
        self.values = values

    def raw(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value and value.strip() else None

    def get(self, name: str, parse: Any, default: Any) -> Any:
        raw = self.raw(name)
        return default if raw is None else parse(name, raw)

    def secret(self, name: str) -> Secret | None:
        raw = self.raw(name)
        return Secret(raw) if raw is not None else None


def test_the_section_reads_handle_password_and_service() -> None:
    from bot.errors import ConfigError
    from bot.platforms.bluesky.settings import read

    assert read(Env()) is None
    assert read(Env(BLUESKY_HANDLE="@JCK-Mag.bsky.social")) is None  # a brand handle only
    found = read(
        Env(BLUESKY_HANDLE="@JCK-Mag.bsky.social", BLUESKY_APP_PASSWORD="abcd-efgh-ijkl-mnop")
    )
    assert found is not None and found.handle == "jck-mag.bsky.social"
    assert found.service == "https://bsky.social"
    custom = read(
        Env(
            BLUESKY_HANDLE="a.example.com",
            BLUESKY_APP_PASSWORD="abcd-efgh-ijkl-mnop",
            BLUESKY_SERVICE="https://pds.example.com/",
        )
    )
    assert custom is not None and custom.service == "https://pds.example.com"
    cases = {
        "BLUESKY_HANDLE": Env(BLUESKY_APP_PASSWORD="abcd-efgh-ijkl-mnop"),
        "BLUESKY_APP_PASSWORD": Env(BLUESKY_HANDLE="a.bsky.social", BLUESKY_APP_PASSWORD="hunter2"),
        "BLUESKY_SERVICE": Env(
            BLUESKY_HANDLE="a.bsky.social",
            BLUESKY_APP_PASSWORD="abcd-efgh-ijkl-mnop",
            BLUESKY_SERVICE="bsky.social",
        ),
    }
    for variable, env in cases.items():
        with pytest.raises(ConfigError) as caught:
            read(env)
        assert caught.value.variable == variable
        assert "hunter2" not in str(caught.value)
    with pytest.raises(ConfigError, match="not a Bluesky handle"):
        read(Env(BLUESKY_HANDLE="jckmagazine", BLUESKY_APP_PASSWORD="abcd-efgh-ijkl-mnop"))


# --- facets over hostile text (property) -------------------------------------------------------

PIECES = [
    "👨‍👩‍👧‍👦", "🇺🇸", "e\u0301", "日本語", "Zürich", "—", "…", "(", ")", ".", ",", "#", "@",
    "#Diamonds", "#日本", "#2026", "#\u2060ad", "@debeers.bsky.social", "@\u2060x.bsky.social",
    "@someone", "info@example.com", URL, f"({URL})", f"{URL}.", "https://x.example/a#b@c",
    "http://example.com/a?b=c&d=e", "example.org", "\n", " ", "  ",
]  # fmt: skip


@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
@settings(max_examples=300, deadline=None)
def test_facets_always_point_at_whole_tokens_inside_the_text(text: str) -> None:
    encoded = text.encode()
    found = facets(text, {h: f"did:plc:{n}" for n, h in enumerate(mentioned_handles(text))})
    last_end = 0
    for facet in found:
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        assert last_end <= start < end <= len(encoded)  # ordered, no overlap, inside the text
        last_end = end
        piece = encoded[start:end].decode()  # never splits a character
        [feature] = facet["features"]
        if feature["$type"].endswith("#link"):
            assert piece == feature["uri"] and piece.startswith(("http://", "https://"))
            assert piece[-1] not in ".,"
            assert not piece.endswith(")") or piece.count(")") <= piece.count("(")
        elif feature["$type"].endswith("#mention"):
            assert piece.startswith("@") and piece[1:].lower() in mentioned_handles(text)
        else:
            assert piece == "#" + feature["tag"] and not feature["tag"].isdigit()
    links = [f["features"][0]["uri"] for f in found if f["features"][0]["$type"].endswith("#link")]
    # A URL after a space or a line break (as templates place it), in brackets or not, is
    # always a whole link.
    if re.search(r"(?:^|\s)\(?" + re.escape(URL), text):
        assert any(link.startswith(URL) for link in links)


def test_check_names_the_pds_the_did_document_gives(server: BlueskyServer) -> None:
    server.bsky_pds = server.base_url.replace("127.0.0.1", "localhost")
    bsky = publisher(server)
    assert bsky.access_lines() == [
        f"posts go to the account's PDS at {server.bsky_pds} (DID {server.bsky_did})"
    ]
    bsky.publish(story_post(server))
    [write] = server.requests_to("/xrpc/com.atproto.repo.putRecord")
    assert write.headers["host"] == server.bsky_pds.split("//")[1]  # calls go to the PDS


def test_the_session_is_kept_between_runs_for_this_account_only(server: BlueskyServer) -> None:
    from bot.platforms.state import Memory

    state = Memory()
    publisher(server, state=state).publish(story_post(server, "First run"))
    publisher(server, state=state).publish(story_post(server, "Second run"))
    assert publisher(server, state=state).verify().id == server.bsky_did
    assert len(server.bsky_logins) == 1  # one log-in for three processes
    other = publisher(server, state=state, handle="other.bsky.social")
    with pytest.raises(AuthError):  # another account's kept session is not used
        other.verify()
    state.values["bluesky.session"] = "{not json"
    publisher(server, state=state).verify()
    assert len(server.bsky_logins) == 3
    assert "eyJ.access" in state.values["bluesky.session"]  # kept for the next run


def test_the_edge_hands_the_store_s_state_to_the_session(server: BlueskyServer) -> None:
    from bot.platforms.base import Wiring
    from bot.platforms.state import Memory

    state = Memory()
    settings = BlueskySettings(server.bsky_handle, Secret(server.bsky_password), server.base_url)
    BlueskyPublisher.from_section(settings, Wiring(state=state)).verify()
    assert "bluesky.session" in state.values


def test_the_kept_session_is_read_at_the_first_call_not_when_built(
    server: BlueskyServer,
) -> None:
    from bot.platforms.state import Later, Memory

    kept = Memory()
    publisher(server, state=kept).verify()
    later = Later()
    bsky = publisher(server, state=later)  # built before the store is open, as the app does
    later.use(kept)
    bsky.verify()
    assert len(server.bsky_logins) == 1
