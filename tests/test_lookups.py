"""A look-up never decides by failing: post made, answer lost, look-ups refused, then allowed.

Real adapters over loopback against the fake platforms, which accept duplicates: every test
counts what arrived. And `resolve`, the person's way to settle what could not be confirmed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import Store
from tests.botenv import Item, run_main, write_feed
from tests.conftest import FakeClock
from tests.fakes.platform_server import FakePlatformServer, graph_error, x_problem
from tests.test_cli_post import json_lines, platform_env
from tests.test_cli_status import epoch
from tests.test_delivery import settings_for, tick

X_REFUSAL = x_problem(
    403,
    "Client Forbidden",
    "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens "
    "from a Twitter developer App that is attached to a Project.",
    "https://api.twitter.com/2/problems/client-not-enrolled",
    reason="client-not-enrolled",
)
GRAPH_REFUSAL = graph_error(10, "(#10) Application does not have permission for this action")

# platform: (the post whose answer is lost, the look-up that is refused, its answer)
CASES = {
    "twitter": (("POST", "/2/tweets"), ("GET", "/2/users/*/tweets"), (403, X_REFUSAL)),
    "facebook": (("POST", "*/feed"), ("GET", "*/published_posts"), (400, GRAPH_REFUSAL)),
    # Instagram looks its kept container up first.
    "instagram": (("POST", "*/media_publish"), ("GET", "/v*/179*"), (400, GRAPH_REFUSAL)),
}


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as s:
        yield s


def made(server: FakePlatformServer, platform: str) -> int:
    return len({"twitter": server.tweets, "facebook": server.fb_posts,
                "instagram": server.ig_media}[platform])  # fmt: skip


@pytest.mark.parametrize("platform", list(CASES))
def test_answer_lost_and_look_ups_refused_for_three_polls_then_published_once(
    server: FakePlatformServer, tmp_path: Path, platform: str
) -> None:
    clock = FakeClock(1_800_000_000.0)
    settings = settings_for(server, tmp_path, [Item(1)], platforms=(platform,), http_timeout=1.0)
    (post_method, post_path), (look_method, look_path), (status, body) = CASES[platform]
    server.hang(post_method, post_path, seconds=5)  # the post is made, its answer never comes
    [first] = tick(settings, clock)
    server.release()
    assert first["status"] == "deferred" and made(server, platform) == 1
    server.fail(look_method, look_path, status=status, body=body, times=3)
    for _ in range(3):
        clock.advance(3600)
        [row] = tick(settings, clock)
        assert row["status"] == "unconfirmed", row  # never failed, never re-sent
        assert row["error"] and row["next_attempt_at"]
        assert made(server, platform) == 1
    store = Store.open(settings.database_url)
    try:
        assert (
            not store.platforms.platform_states().get(platform, {}).get("paused")
        )  # a read refused
    finally:
        store.close()
    clock.advance(3600)
    [done] = tick(settings, clock)
    assert done["status"] == "published" and done["remote_url"]
    assert made(server, platform) == 1


def test_resolve_settles_what_could_not_be_confirmed(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    image = server.image_url()
    feed = write_feed(tmp_path / "feed.xml", [Item(n, image_url=image) for n in (1, 2)])
    env = platform_env(server, tmp_path, feed, PLATFORMS="twitter", BACKLOG="all",
                       RETRY_BASE_SECONDS="1s", HTTP_TIMEOUT="1s")  # fmt: skip
    # Story 1's post lands but its answer is lost; story 2's request never arrives.
    server.hang("POST", "/2/tweets", seconds=4)
    server.drop("POST", "/2/tweets", after_effect=False)
    server.fail("GET", "/2/users/*/tweets", status=403, body=X_REFUSAL, times=50)
    first = run_main(["poll", "--json"], env, tmp_path)
    server.release()
    deferred = json_lines(first.stdout)
    assert {line["status"] for line in deferred} == {"deferred"}, first.stderr
    assert len(server.tweets) == 1
    due = max(epoch(line["next_attempt_at"]) for line in deferred)
    time.sleep(max(0.0, due - time.time()))  # a subprocess: its retry time is real time
    second = run_main(["poll", "--json"], env, tmp_path)
    lines = json_lines(second.stdout)
    assert {line["status"] for line in lines} == {"unconfirmed"}, second.stderr
    assert second.returncode == 0  # waiting is not failing
    status = json.loads(run_main(["status", "--json"], env, tmp_path).stdout)
    waiting = {d["story_url"]: d for d in status["unconfirmed_deliveries"]}
    assert status["platforms"]["twitter"]["unconfirmed"] == 2
    landed = waiting["https://news.example.com/story-1/"]["delivery_id"]
    lost = waiting["https://news.example.com/story-2/"]["delivery_id"]
    text = run_main(["status"], env, tmp_path).stdout
    assert f"resolve {landed} --published URL" in text

    tweet_url = f"https://x.com/{server.x_username}/status/{server.tweets[0]['id']}"
    done = run_main(["resolve", str(landed), "--published", tweet_url], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "recorded as published" in done.stdout and tweet_url in done.stdout
    again = run_main(["resolve", str(landed), "--not-published"], env, tmp_path)
    assert again.returncode == 2 and "nothing to resolve" in again.stderr
    assert run_main(["resolve", "999", "--not-published"], env, tmp_path).returncode == 2
    both = run_main(["resolve", str(lost), "--published", tweet_url, "--not-published"],
                    env, tmp_path)  # fmt: skip
    assert both.returncode == 2 and "exactly one" in both.stderr

    queued = run_main(["resolve", str(lost), "--not-published"], env, tmp_path)
    assert queued.returncode == 0 and "queued again" in queued.stdout
    third = run_main(["poll", "--json"], env, tmp_path)
    assert [line["status"] for line in json_lines(third.stdout)] == ["published"], third.stderr
    assert len(server.tweets) == 2  # one post per story: resolved, not re-sent
    status = json.loads(run_main(["status", "--json"], env, tmp_path).stdout)
    assert status["platforms"]["twitter"]["published_total"] == 2
    assert status["unconfirmed_deliveries"] == []
