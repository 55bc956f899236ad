"""No credential ever shows: not in logs (DEBUG included), errors, status, --json, the database.

The bot runs at LOG_LEVEL=DEBUG, where httpx, tweepy, requests-oauthlib and oauthlib print
headers, signature base strings and URLs, through publishing, failures (401, 500, a rejection),
status and `check` with bad tokens; everything it wrote is searched for every credential value in
its plain and percent-encoded forms.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from bot.errors import PublishError
from bot.publishers import build_publishers
from tests.botenv import Item, run_main, write_feed
from tests.fakes.feed_server import FeedServer
from tests.fakes.platform_server import (
    FakePlatformServer,
    XCredentials,
    graph_error,
    iter_tokens_in_urls,
    x_problem,
)
from tests.test_cli_post import Articles, platform_env

# Distinctive values, some with characters that percent-encoding changes (/ + = and space).
CREDENTIALS = XCredentials(
    consumer_key="ckZQ7consumerKEYx91",
    consumer_secret="csW3consumer/SECRET+x92=",
    access_token="1500000000000000001-atR5accessTOKENx93",
    access_token_secret="tsK8token SECRET&x94",
)
PAGE_TOKEN = "EAAJpageTOKEN+x95/Zq=="
IG_TOKEN = "IGQVJinstagramTOKENx96"
WRONG = ("EAAJwrongPAGEx97", "tsK8wrongSECRETx98")
SECRETS = (*vars(CREDENTIALS).values(), PAGE_TOKEN, IG_TOKEN, *WRONG)


def forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}


def leaks(text: str) -> list[str]:
    return sorted(f for s in SECRETS for f in forms(s) if f in text)


@pytest.fixture(scope="module")
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(
        x_credentials=CREDENTIALS, page_token=PAGE_TOKEN, ig_token=IG_TOKEN, ig_in_progress_reads=0
    ) as s:
        yield s


def test_no_credential_in_anything_the_bot_writes_at_debug(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    image = server.image_url()
    feed = write_feed(tmp_path / "feed.xml", [Item(n, image_url=image) for n in (601, 602)])
    env = platform_env(server, tmp_path, feed, BACKLOG="latest:1", LOG_LEVEL="DEBUG")
    outputs: list[str] = []

    def run(args: list[str], environment: dict[str, str] = env) -> int:
        result = run_main(args, environment, tmp_path)
        outputs.append(f"$ {' '.join(args)}\n{result.stdout}\n{result.stderr}")
        return result.returncode

    assert run(["poll", "--json"]) == 0  # publishes story 601 (the newest) everywhere
    assert len(server.tweets) == len(server.fb_posts) == len(server.ig_media) == 1
    with FeedServer() as pages:
        articles = Articles(pages, server)
        url, _ = articles.page("secrets-failures")
        # X refuses the token (401), Graph fails (500), Instagram rejects the image.
        server.fail("POST", "/2/tweets", status=401, body=x_problem(401, "Unauthorized"))
        server.fail("POST", "*/feed", status=500, body=graph_error(2, "Service unavailable"))
        server.fail("POST", "*/media", status=400, body=graph_error(100, "(#100) Bad image"))
        assert run(["post", url, "--json"], {**env, "MAX_ATTEMPTS": "1"}) == 1
        assert run(["preview", url, "--json"]) == 0
    assert run(["status"]) == 1  # unhealthy: X paused, posts failed; shown with the reasons
    assert run(["status", "--json"]) == 1
    assert run(["check", "--json"]) == 0
    bad = {
        **env,
        "FACEBOOK_PAGE_ACCESS_TOKEN": WRONG[0],
        "TWITTER_ACCESS_TOKEN_SECRET": WRONG[1],
        "LOG_FORMAT": "json",
    }
    assert run(["check"], bad) == 1

    written = "\n".join(outputs)
    assert "Unauthorized" in written and "Service unavailable" in written  # failures were seen
    assert "Signing" in written  # and oauthlib's DEBUG lines (they carry tokens when unmasked)
    assert leaks(written) == [], [
        written[max(0, written.find(f) - 200) :][:400] for f in leaks(written)
    ]
    database = b"".join(p.read_bytes() for p in tmp_path.glob("bot.db*"))
    assert database, "the database was not where the test looked"
    assert [s for s in SECRETS for f in forms(s) if f.encode() in database] == []
    # Tokens travel in headers or bodies, never in a URL (access logs, proxies). The one
    # exception is the contract's token look-up, GET /debug_token?input_token=&access_token=
    # (contract-notes: "Token expiry"): a GET has no body, and Graph reads input_token only there.
    in_urls = [r.target for s in SECRETS for r in iter_tokens_in_urls(server, s)]
    assert [t for t in in_urls if not t.split("?")[0].endswith("/debug_token")] == []


def test_no_credential_in_the_repr_or_traceback_of_a_platform_error(
    server: FakePlatformServer,
) -> None:
    from bot.app import make_http

    settings = server.settings(http_timeout=5.0)
    http = make_http(settings)
    publishers = build_publishers(settings, dry_run=False, http=http)
    server.fail("GET", "/2/users/me", status=401, body=x_problem(401, "Unauthorized"))
    server.fail("GET", "/v*/me", status=400, body=graph_error(190, "Invalid OAuth access token"))
    server.fail("GET", f"/v*/{server.ig_user_id}", status=500, body=graph_error(1, "Unknown"))
    errors: list[PublishError] = []
    try:
        for publisher in publishers.values():
            with pytest.raises(PublishError) as caught:
                publisher.verify()
            errors.append(caught.value)
    finally:
        for publisher in publishers.values():
            publisher.close()
        http.close()
    assert len(errors) == 3
    for exc in errors:
        text = repr(exc) + str(exc) + "".join(traceback.format_exception(exc))
        text += repr(exc.__cause__) + repr(exc.__context__) + repr(vars(exc))
        assert leaks(text) == [], text
    assert leaks(repr(settings)) == []


def test_doubly_encoded_credentials_in_oauthlib_debug_lines_are_masked(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    env = platform_env(
        server,
        tmp_path,
        PLATFORMS="twitter",
        LOG_LEVEL="DEBUG",
        TWITTER_API_KEY="ck/doubly+encoded=key",
    )
    result = run_main(["check"], env, tmp_path)  # refused (wrong key), but signed and logged
    twice = quote(quote("ck/doubly+encoded=key", safe=""), safe="")
    assert "signature base string" in result.stderr
    assert twice not in result.stderr
    # the signature itself (which could be replayed) is never logged either
    signatures = re.findall(r'oauth_signature="?([^"&,\s]+)', result.stderr)
    signatures += re.findall(r"Signature: (\S+)", result.stderr)
    assert signatures and set(signatures) == {"***"}
