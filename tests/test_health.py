"""Health that tells the truth: each unhealthy state gives `healthy: false`, a reason and exit 1."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot import health
from bot.health import Reason, duration, relative
from bot.models import DeliveryStatus, Post
from bot.settings import PROJECT_ROOT, Settings
from bot.status import format_status, gather_status
from bot.store import FeedUpdate, NewDelivery, Store
from tests.botenv import bot_env, run_main, write_feed
from tests.test_store import story

S = DeliveryStatus
NOW = 1_800_000_000.0
FEED = "https://news.example.com/feed/"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'bot.db'}")
    yield s
    s.close()


def settings(**changes: Any) -> Settings:
    base: dict[str, Any] = dict(
        feed_urls=(FEED,), platforms=("twitter", "facebook"), poll_interval=600.0
    )
    base.update(changes)
    return Settings(**base)


def healthy_store(store: Store) -> Store:
    store.feeds.ensure_feeds([FEED])
    store.platforms.set_meta("last_poll_at", repr(NOW - 60))
    return store


def kinds(info: dict[str, Any]) -> list[str]:
    return [r["kind"] for r in info["reasons"]]


def add_delivery(store: Store, n: int, platform: str = "twitter") -> Any:
    store.stories.add_story(
        story(n),
        NOW - 3600,
        status="queued",
        new_deliveries=[NewDelivery(platform, Post(platform, "t"))],
    )
    [row] = store.deliveries.claim_due(platform, NOW, "w1", 60)
    return row


def test_a_recent_poll_and_nothing_wrong_is_healthy(store: Store) -> None:
    info = gather_status(healthy_store(store), settings(), NOW)
    assert info["healthy"] is True and info["reasons"] == []
    assert info["last_poll_at"] == "2027-01-15T07:59:00Z"  # ISO 8601, UTC
    assert "health: ok" in format_status(info)


def test_never_polled_and_stale(store: Store) -> None:
    store.feeds.ensure_feeds([FEED])
    assert kinds(gather_status(store, settings(), NOW)) == ["never_polled"]
    store.platforms.set_meta("last_poll_at", repr(NOW - 3 * 600 + 1))
    assert gather_status(store, settings(), NOW)["healthy"] is True
    store.platforms.set_meta("last_poll_at", repr(NOW - 3 * 600 - 1))
    info = gather_status(store, settings(), NOW)
    assert kinds(info) == ["stale"] and "no poll for 30 min" in info["reasons"][0]["message"]


def test_a_paused_platform(store: Store) -> None:
    healthy_store(store).platforms.pause_platform(
        "facebook", "token expired (fix FACEBOOK_PAGE_ACCESS_TOKEN)", NOW - 180
    )
    info = gather_status(store, settings(), NOW)
    assert info["healthy"] is False
    [reason] = info["reasons"]
    assert reason["kind"] == "platform_paused" and reason["platform"] == "facebook"
    assert "FACEBOOK_PAGE_ACCESS_TOKEN" in reason["message"]
    text = format_status(info)
    assert "health: UNHEALTHY" in text and "facebook is paused" in text
    assert "PAUSED: token expired" in text and "; since 3 min ago (" in text
    store.platforms.resume_platform("facebook", NOW)
    assert gather_status(store, settings(), NOW)["healthy"] is True
    store.platforms.pause_by_hand(
        "twitter", NOW - 60
    )  # a person's pause is unhealthy too: nothing goes out
    info = gather_status(store, settings(), NOW)
    [reason] = info["reasons"]
    assert reason["kind"] == "platform_paused" and reason["platform"] == "twitter"
    assert "paused by hand" in reason["message"] and "main.py resume twitter" in reason["message"]
    assert "PAUSED by hand" in format_status(info)


def test_a_delivery_failed_for_good_within_24_hours(store: Store) -> None:
    row = add_delivery(healthy_store(store), 1)
    store.deliveries.finish(row, S.FAILED, NOW - 3600, reason="(#100) Invalid image")
    info = gather_status(store, settings(), NOW)
    [reason] = info["reasons"]
    assert reason["kind"] == "delivery_failed" and reason["platform"] == "twitter"
    assert "1 twitter post failed for good" in reason["message"]
    assert "(#100) Invalid image" in reason["message"]
    assert info["platforms"]["twitter"]["failed_24h"] == 1
    # A day later it is history: still counted, no longer a reason.
    later = gather_status(store, settings(), NOW + 86400)
    assert "delivery_failed" not in kinds(later) and later["platforms"]["twitter"]["failed"] == 1


def test_a_delivery_needing_attention(store: Store) -> None:
    row = add_delivery(healthy_store(store), 1)
    store.deliveries.finish(row, S.SENDING, NOW - 60, reason="could not tell whether it went out")
    with store.engine.begin() as conn:  # the status issue 14 gives such a delivery
        conn.exec_driver_sql("UPDATE deliveries SET status = 'needs_attention'")
    info = gather_status(store, settings(), NOW)
    [reason] = info["reasons"]
    assert reason["kind"] == "delivery_needs_attention"
    assert "1 twitter post needs attention" in reason["message"]


def test_a_disabled_feed_and_a_feed_failing_for_more_than_three_intervals(store: Store) -> None:
    healthy_store(store)
    [row] = store.feeds.feed_rows()
    store.feeds.feeds_polled([FeedUpdate(row.id, None, None, None, NOW - 800)], NOW - 1200)
    store.feeds.feed_failed(row, NOW - 1000, "HTTP 404", next_poll_at=NOW + 60)
    info = gather_status(store, settings(), NOW)
    assert info["healthy"] is True  # failing, but not for long yet: it backs off and retries
    assert info["feeds"][0]["backoff_until"] and info["feeds"][0]["failures"] == 1
    store.feeds.feed_failed(row, NOW + 900, "HTTP 404", next_poll_at=NOW + 2000)
    store.platforms.set_meta("last_poll_at", repr(NOW + 1700))
    info = gather_status(store, settings(), NOW + 1801)
    [reason] = info["reasons"]
    assert reason["kind"] == "feed_failing" and reason["feed"] == FEED
    assert "failing for 46 min (2 tries): HTTP 404" in reason["message"]
    store.feeds.feed_failed(row, NOW, "HTTP 410 Gone", next_poll_at=NOW, disabled=True)
    info = gather_status(store, settings(), NOW)
    assert kinds(info) == ["feed_disabled"] and "HTTP 410 Gone" in info["reasons"][0]["message"]
    assert "[DISABLED]" in format_status(info)


def test_a_healthy_feed_waits_for_its_next_poll_and_does_not_back_off(store: Store) -> None:
    healthy_store(store)
    [row] = store.feeds.feed_rows()
    store.feeds.claim_feeds([FEED], NOW, "w1", 60)
    store.feeds.feeds_polled([FeedUpdate(row.id, None, None, None, NOW + 480)], NOW)
    info = gather_status(store, settings(), NOW)
    assert info["feeds"][0]["backoff_until"] is None
    assert "backing off" not in format_status(info)


def test_a_registered_check_such_as_a_budget_turns_status_red(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def budget(_store: Store, _settings: Settings, _now: float) -> list[Reason]:
        return [Reason("budget", "twitter: the monthly budget is spent", platform="twitter")]

    monkeypatch.setattr(health, "EXTRA_CHECKS", [budget])
    info = gather_status(healthy_store(store), settings(), NOW)
    assert kinds(info) == ["budget"]


def test_dry_run_active_platforms_and_dry_run_counts(store: Store) -> None:
    row = add_delivery(healthy_store(store), 1)
    store.deliveries.finish(row, S.DRY_RUN, NOW - 120)
    info = gather_status(store, settings(dry_run=True), NOW)
    assert info["dry_run"] is True and info["active_platforms"] == ["twitter", "facebook"]
    tw = info["platforms"]["twitter"]
    assert (tw["dry_run_24h"], tw["dry_run_total"], tw["published_total"]) == (1, 1, 0)
    text = format_status(info)
    assert "mode: DRY RUN" in text and "active platforms: twitter, facebook" in text
    line = next(x for x in text.splitlines() if x.startswith("twitter"))
    assert line.split()[1:4] == ["0", "0", "1"]  # 24h, total, dry-run
    assert "mode: live" in format_status(gather_status(store, settings(), NOW))


def test_relative_times() -> None:
    assert relative(NOW - 180, NOW) == "3 min ago"
    assert relative(NOW + 240, NOW) == "in 4 min"
    assert relative(NOW - 7500, NOW) == "2 h 5 min ago"
    assert relative(NOW - 3 * 86400, NOW) == "3 days ago"
    assert relative(NOW, NOW) == "just now"
    assert relative(None, NOW) == "never"
    assert duration(45) == "45 s"


# --- through the command line, as a probe runs it ---------------------------------------------


def healthcheck_command() -> list[str]:
    """The Dockerfile's HEALTHCHECK CMD, exactly as the image runs it (in /app)."""
    text = (PROJECT_ROOT / "Dockerfile").read_text()
    match = re.search(r"HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])", text)
    assert match, "the Dockerfile has a HEALTHCHECK CMD in exec form"
    argv = json.loads(match.group(1))
    assert argv[0] == "python"
    return [sys.executable, *(str(PROJECT_ROOT / a) if a.endswith(".py") else a for a in argv[1:])]


def test_a_paused_platform_turns_the_docker_health_check_red(tmp_path: Path) -> None:
    """The image's check asks the web face's /healthz (WEB_PORT, set in the image)."""
    from tests.test_web_browser import free_port
    from tests.test_worker import Proc

    env = bot_env(tmp_path, FEED_URLS=write_feed(tmp_path / "feed.xml", []), DRY_RUN="true",
                  PLATFORMS="twitter,facebook", WEB_PORT=str(free_port()))  # fmt: skip
    store = Store.open(env["DATABASE_URL"])
    try:
        store.platforms.set_meta("last_poll_at", repr(time.time() - 30))
    finally:
        store.close()
    command = healthcheck_command()
    web = Proc(["web"], env, tmp_path)  # the web face alone: no worker to poll or resume
    try:
        assert web.wait_for(lambda ls: any("web face listening" in x for x in ls), 60)
        green = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True)
        assert green.returncode == 0, green.stdout + green.stderr
        store = Store.open(env["DATABASE_URL"])
        try:
            store.platforms.pause_platform("facebook", "Error validating access token", time.time())
        finally:
            store.close()
        red = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True)
    finally:
        web.stop()
    assert red.returncode == 1, red.stdout + red.stderr
    info = json.loads(red.stdout)
    assert info["healthy"] is False
    assert info["reasons"][0]["kind"] == "platform_paused"
    human = run_main(["status"], env, tmp_path)
    assert human.returncode == 1 and "facebook is paused" in human.stdout


def test_running_stopped_and_vanished_workers(store: Store) -> None:
    healthy_store(store)
    info = gather_status(store, settings(), NOW)
    assert (info["worker"], info["next_poll_at"]) == ("none", None)
    assert "no worker is running" in format_status(info)
    store.notices.worker_heartbeat("host:1:a", NOW - 20, next_poll_at=NOW + 240, started=True)
    info = gather_status(store, settings(), NOW)
    assert info["worker"] == "running" and info["next_poll_at"] == "2027-01-15T08:04:00Z"
    text = format_status(info)
    assert "next poll: in 4 min (2027-01-15T08:04:00Z)" in text
    assert "worker host:1:a: running since 20 s ago" in text
    store.notices.worker_stopped("host:1:a", NOW - 180)
    info = gather_status(store, settings(), NOW)
    assert (info["worker"], info["next_poll_at"]) == ("stopped", None)
    assert info["workers"][0]["state"] == "stopped"
    text = format_status(info)
    assert "worker host:1:a: STOPPED 3 min ago" in text and "next poll: none" in text
    store.notices.worker_heartbeat("host:2:b", NOW - 600, next_poll_at=NOW - 500, started=True)
    info = gather_status(store, settings(), NOW)  # killed: its heartbeats stopped 10 min ago
    assert [w["state"] for w in info["workers"]] == ["stopped", "gone"]
    assert info["next_poll_at"] is None
    assert "GONE: not seen since 10 min ago" in format_status(info)


def test_a_worker_process_shows_as_running_then_stopped(tmp_path: Path) -> None:
    from tests.test_worker import Proc

    env = bot_env(tmp_path, FEED_URLS=write_feed(tmp_path / "feed.xml", []), DRY_RUN="true",
                  PLATFORMS="twitter", POLL_INTERVAL="10m")  # fmt: skip
    proc = Proc(["run"], env, tmp_path)
    try:
        assert proc.wait_for(lambda ls: any("poll finished" in x for x in ls)), proc.lines
        running = json.loads(run_main(["status", "--json"], env, tmp_path).stdout)
    finally:
        proc.stop()
    assert running["worker"] == "running" and running["healthy"] is True
    next_poll = datetime.fromisoformat(running["next_poll_at"].replace("Z", "+00:00"))
    assert 500 < next_poll.timestamp() - time.time() <= 600
    stopped = run_main(["status"], env, tmp_path)
    assert re.search(r"worker \S+: STOPPED (just now|\d+ s ago)", stopped.stdout), stopped.stdout
    assert "next poll: none scheduled" in stopped.stdout
