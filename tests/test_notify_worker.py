"""Notifications from a running worker and from `check`, through Apprise to a local webhook."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botenv import Item, run_main, write_feed
from tests.fakes.platform_server import FakePlatformServer, graph_error
from tests.fakes.webhook import Webhook
from tests.test_cli_post import platform_env
from tests.test_worker import Proc


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as s:
        yield s


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with Webhook() as h:
        yield h


def test_worker_notifies_a_pause_its_resume_and_an_expiring_token_once_each(
    server: FakePlatformServer, hook: Webhook, tmp_path: Path
) -> None:
    server.token_expiry[server.page_token] = (int(time.time()) + 5 * 86400 + 1800, 0)
    image = server.image_url()
    feed = write_feed(tmp_path / "feed.xml", [Item(801, image_url=image)])
    env = platform_env(server, tmp_path, feed, PLATFORMS="facebook", POLL_INTERVAL="1s",
                       NOTIFY_URLS=hook.url(), NOTIFY_LEVEL="info")  # fmt: skip
    server.fail("POST", "*/feed", status=400, body=graph_error(190, "Error validating token"))
    proc = Proc(["run"], env, tmp_path)
    try:
        wanted = {"feedbot: facebook paused", "feedbot: facebook resumed"}
        assert proc.wait_for(lambda _: wanted <= set(hook.titles()), timeout=60), (
            hook.titles(), "".join(proc.lines))  # fmt: skip
        assert proc.wait_for(lambda ls: sum("poll finished" in x for x in ls) >= 4)
    finally:
        code, _ = proc.stop()
    assert code == 0
    titles = hook.titles()
    assert titles.count("feedbot: facebook paused") == 1
    assert titles.count("feedbot: facebook resumed") == 1
    expiring = [t for t in titles if "token expires" in t]
    assert expiring == ["feedbot: the facebook token expires in 5 days"]
    assert len(titles) == 3, titles
    assert len(server.fb_posts) == 1  # the paused post went out after the resume
    assert not any("Traceback" in x for x in proc.lines)
    assert not any(server.page_token in x or "hook-secret-token" in x for x in proc.lines)
    # The daily check ran once however many cycles there were.
    assert len(server.requests_to("*/debug_token")) == 1


def test_check_reads_the_token_and_notifies_its_expiry_once(
    server: FakePlatformServer, hook: Webhook, tmp_path: Path
) -> None:
    server.token_expiry[server.page_token] = (0, int(time.time()) + 3 * 86400 + 1800)
    env = platform_env(server, tmp_path, PLATFORMS="facebook", NOTIFY_URLS=hook.url())
    for _ in range(2):
        result = run_main(["check"], env, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "token type: PAGE" in out and "pages_manage_posts" in out
    assert "expires: never" in out and "data access expires: " in out and "RENEW IT SOON" in out
    assert hook.titles() == ["feedbot: the facebook data access expires in 3 days"]
    [debug] = server.requests_to("*/debug_token")[:1]
    assert debug.params()["input_token"] == server.page_token  # the token inspects itself
    assert debug.params()["access_token"] == server.page_token


def test_a_failed_expiry_check_is_logged_and_never_pauses(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    server.fail("GET", "*/debug_token", status=500, body=graph_error(2, "Service unavailable"))
    env = platform_env(server, tmp_path, PLATFORMS="facebook")
    result = run_main(["check"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr  # the token itself is fine
    assert "could not read the token's expiry" in result.stderr
    status = run_main(["status", "--json"], env, tmp_path)
    assert '"paused": true' not in status.stdout


def test_a_bad_notify_url_stops_the_worker_at_start(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    env = platform_env(server, tmp_path, NOTIFY_URLS="nosuch://hooks.example/s3cret-token-value")
    result = run_main(["run"], env, tmp_path)
    assert result.returncode == 2
    [line] = [x for x in result.stderr.splitlines() if " starting: " not in x]
    assert line.startswith("error: NOTIFY_URLS: entry 1 (nosuch://hooks.example/***)")
    assert "s3cret-token-value" not in result.stderr
