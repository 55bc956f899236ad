"""`status [--json]`: per platform and per feed, from the store; exit 1 when polling stalled."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.store import Store
from tests.botenv import Item, run_main, write_feed
from tests.fakes.feed_server import FeedServer
from tests.fakes.platform_server import FakePlatformServer, graph_error, x_problem
from tests.test_cli_post import Articles, platform_env


@pytest.fixture(scope="module")
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as s:
        yield s


@pytest.fixture(scope="module")
def articles(server: FakePlatformServer) -> Iterator[Articles]:
    with FeedServer() as pages:
        yield Articles(pages, server)


def status_json(env: dict[str, str], tmp: Path) -> tuple[int, dict[str, Any]]:
    result = run_main(["status", "--json"], env, tmp)
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout + result.stderr
    return result.returncode, json.loads(lines[0])


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_status_after_posts_a_rejection_a_pause_and_a_rate_limit(
    server: FakePlatformServer, articles: Articles, tmp_path: Path
) -> None:
    image = server.image_url()
    feed = write_feed(tmp_path / "feed.xml", [Item(n, image_url=image) for n in (701, 702)])
    bad = articles.pages.url("/missing-feed.xml")
    env = platform_env(server, tmp_path, f"{feed} {bad}", BACKLOG="all")

    code, before = status_json(env, tmp_path)
    assert code == 1 and before["healthy"] is False and before["last_poll_at"] is None
    assert [f["url"] for f in before["feeds"]] == [feed, bad]  # listed before their first poll
    assert all(f["last_poll_at"] is None for f in before["feeds"])

    poll = run_main(["poll"], env, tmp_path)
    assert poll.returncode == 1  # the missing feed
    # Facebook refuses the token (paused), X is rate limited (deferred), Instagram rejects.
    server.fail(
        "POST", "*/feed", status=400, body=graph_error(190, "Error validating access token")
    )
    reset = int(time.time()) + 1200
    server.fail(
        "POST",
        "/2/tweets",
        status=429,
        body=x_problem(429, "Too Many Requests"),
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)},
    )
    server.fail("POST", "*/media", status=400, body=graph_error(100, "(#100) Invalid image"))
    url, _ = articles.page("status-troubles")
    assert run_main(["post", url], env, tmp_path).returncode == 1

    code, info = status_json(env, tmp_path)
    # Paused Facebook and Instagram's post failed for good: unhealthy, each with its reason. The
    # rate limit heals by itself, and the missing feed has failed only once: no reasons.
    assert code == 1 and info["healthy"] is False
    reasons = {(r["kind"], r.get("platform")): r["message"] for r in info["reasons"]}
    assert set(reasons) == {("platform_paused", "facebook"), ("delivery_failed", "instagram")}
    assert "Error validating access token" in reasons["platform_paused", "facebook"]
    assert "(#100) Invalid image" in reasons["delivery_failed", "instagram"]
    assert abs(epoch(info["last_poll_at"]) - time.time()) < 120
    tw, fb, ig = (info["platforms"][p] for p in ("twitter", "facebook", "instagram"))
    assert (tw["published_24h"], tw["published_total"], tw["deferred"]) == (2, 2, 1)
    assert abs(epoch(tw["next_deferred_at"]) - reset) < 5
    assert abs(epoch(tw["rate_limited_until"]) - reset) < 5
    assert tw["last_error"] == "Too Many Requests" and tw["last_success_at"]
    assert fb["paused"] is True and fb["queued"] == 1 and fb["published_total"] == 2
    assert "Error validating access token" in fb["paused_reason"]
    assert "FACEBOOK_PAGE_ACCESS_TOKEN" in fb["paused_reason"]
    assert (ig["failed"], ig["published_total"]) == (1, 2)
    assert ig["last_error"] == "(#100) Invalid image" and ig["paused"] is False
    good, missing = info["feeds"]
    assert good["url"] == feed and good["last_error"] is None and good["last_poll_at"]
    assert missing["url"] == bad and "404" in missing["last_error"]
    assert missing["failures"] == 1 and missing["backoff_until"]

    human = run_main(["status"], env, tmp_path)
    assert human.returncode == 1, human.stderr
    assert "health: UNHEALTHY" in human.stdout and "facebook is paused" in human.stdout
    out = human.stdout
    assert "PAUSED: Error validating access token" in out
    assert "rate limited: next try in " in out and "next deferred attempt" in out
    assert "(#100) Invalid image" in out
    assert "last success:" in out
    assert "missing-feed.xml" in out and "backing off: next try in " in out and "404" in out
    assert "next poll:" in out


def test_status_json_exits_1_when_the_last_poll_is_older_than_three_intervals(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    env = platform_env(server, tmp_path, POLL_INTERVAL="10m")
    database = env["DATABASE_URL"]
    store = Store.open(database)
    try:
        store.platforms.set_meta("last_poll_at", repr(time.time() - 3 * 600 + 60))  # 29 min ago
    finally:
        store.close()
    code, info = status_json(env, tmp_path)
    assert code == 0 and info["healthy"] is True
    store = Store.open(database)
    try:
        store.platforms.set_meta("last_poll_at", repr(time.time() - 3 * 600 - 60))  # 31 min ago
    finally:
        store.close()
    code, info = status_json(env, tmp_path)
    assert code == 1 and info["healthy"] is False
    assert info["stale_after_seconds"] == 1800
