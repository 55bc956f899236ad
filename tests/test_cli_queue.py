"""Queue control through main.py beside a worker (`main.py run`) running in another process.

The worker posts to the fake X / Graph server of this test process; the commands change the
shared SQLite store; what reached the fake is counted, so "never sent" means never arrived.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.botenv import Item, run_main, write_feed
from tests.fakes.platform_server import FakePlatformServer, x_problem
from tests.test_cli_post import platform_env
from tests.test_crash import counts
from tests.test_worker import Proc

STORY = "https://news.example.com/story-{}/"


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as s:
        yield s


def worker_env(server: FakePlatformServer, tmp: Path, feed: str, **extra: str) -> dict[str, str]:
    return platform_env(server, tmp, feed, POLL_INTERVAL="1s", LOG_FORMAT="json", **extra)


def main_json(args: list[str], env: dict[str, str], tmp: Path) -> list[dict[str, Any]]:
    """The JSON Lines of a command (`status` may exit 1: it judges health, not this test)."""
    result = run_main([*args, "--json"], env, tmp)
    assert result.returncode in ((0, 1) if args == ["status"] else (0,)), result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def polls(proc: Proc) -> int:
    return sum('"poll finished"' in line for line in proc.lines)


def more_polls(proc: Proc, n: int) -> bool:
    """Wait until the worker has finished `n` more polls (each one also drains the queue)."""
    target = polls(proc) + n
    return proc.wait_for(lambda _: polls(proc) >= target, timeout=60)


def tweeted(server: FakePlatformServer) -> dict[str, int]:
    return dict(counts(server)["twitter"])


def test_cancel_pause_resume_and_history_beside_a_running_worker(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    feed_path = tmp_path / "feed.xml"
    items = [Item(n, image_url=server.image_url()) for n in range(901, 906)]
    feed = write_feed(feed_path, items[:2])
    env = worker_env(server, tmp_path, feed, PLATFORMS="twitter,facebook")
    proc = Proc(["run"], env, tmp_path)
    try:
        assert wait_until(lambda: len(server.tweets) == 2 and len(server.fb_posts) == 2)

        paused = run_main(["pause", "twitter"], env, tmp_path)
        assert paused.returncode == 0, paused.stderr
        assert paused.stdout.startswith("twitter paused: nothing is sent there until")
        [state] = [main_json(["status"], env, tmp_path)[0]["platforms"]["twitter"]]
        assert (state["paused"], state["paused_by"]) == (True, "hand")

        write_feed(feed_path, items)  # three new stories while X is paused
        assert wait_until(lambda: len(server.fb_posts) == 5)  # Facebook goes on
        assert more_polls(proc, 2)
        waiting = main_json(["queue"], env, tmp_path)
        assert sorted((r["platform"], r["story_url"]) for r in waiting) == [
            ("twitter", STORY.format(n)) for n in (903, 904, 905)
        ]
        assert all(r["status"] == "queued" and r["platform_paused"] for r in waiting)
        assert len(server.tweets) == 2  # a paused platform sends nothing

        by_url = run_main(["cancel", STORY.format(904), "--platform", "twitter"], env, tmp_path)
        assert by_url.returncode == 0, by_url.stdout + by_url.stderr
        assert "it will never be sent" in by_url.stdout
        by_id = next(r["id"] for r in waiting if r["story_url"] == STORY.format(905))
        assert run_main(["cancel", str(by_id)], env, tmp_path).returncode == 0

        resumed = run_main(["resume", "twitter"], env, tmp_path)
        assert resumed.returncode == 0 and "twitter resumed" in resumed.stdout
        assert wait_until(lambda: len(server.tweets) == 3)
        assert more_polls(proc, 3)
        assert main_json(["queue"], env, tmp_path) == []

        history = main_json(["history"], env, tmp_path)
    finally:
        code, _ = proc.stop(signal.SIGTERM)
    assert code == 0, "".join(proc.lines)
    sent = tweeted(server)
    assert sent == {STORY.format(n): 1 for n in (901, 902, 903)}  # 904 and 905 never sent
    assert len(server.fb_posts) == 5
    live = {f"https://x.com/{server.x_username}/status/{t['id']}" for t in server.tweets}
    tw = [h for h in history if h["platform"] == "twitter"]
    assert {h["remote_url"] for h in tw} == live  # the links point at the posts made
    assert tw[0]["story_url"] == STORY.format(903) and tw[0]["title"] == "Story number 903"
    assert len([h for h in history if h["platform"] == "facebook"]) == 5
    times = [h["published_at"] for h in history]
    assert times == sorted(times, reverse=True)


def test_a_delivery_being_sent_is_not_cancelled_silently(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    feed = write_feed(tmp_path / "feed.xml", [Item(911)])
    env = worker_env(server, tmp_path, feed, PLATFORMS="twitter")
    server.hang("POST", "/2/tweets", seconds=30)  # the tweet is made, its answer held back
    proc = Proc(["run"], env, tmp_path)
    try:
        assert wait_until(lambda: len(server.tweets) == 1)
        [row] = main_json(["queue"], env, tmp_path)
        assert (row["status"], row["being_sent"]) == ("sending", True)
        refused = run_main(["cancel", str(row["id"])], env, tmp_path)
        server.release()
        assert refused.returncode == 1
        assert refused.stdout.startswith(f"NOT cancelled: delivery {row['id']} (twitter) is being")
        assert wait_until(lambda: len(main_json(["history"], env, tmp_path)) == 1)
    finally:
        server.release()
        proc.stop()
    assert tweeted(server) == {STORY.format(911): 1}


def test_retry_sends_a_failed_delivery_again(server: FakePlatformServer, tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed.xml", [Item(921)])
    env = worker_env(server, tmp_path, feed, PLATFORMS="twitter")
    server.fail("POST", "/2/tweets", status=400, body=x_problem(400, "Invalid Request"))
    proc = Proc(["run"], env, tmp_path)
    try:
        failed = lambda: main_json(["status"], env, tmp_path)[0]["platforms"]  # noqa: E731
        assert wait_until(lambda: failed().get("twitter", {}).get("failed") == 1)
        assert len(server.tweets) == 0 and main_json(["queue"], env, tmp_path) == []
        did = run_main(["retry", "1"], env, tmp_path)
        assert did.returncode == 0, did.stdout + did.stderr
        assert "queued again (was failed)" in did.stdout
        assert wait_until(lambda: len(server.tweets) == 1)
        assert more_polls(proc, 2)
        [post] = main_json(["history", "--platform", "twitter"], env, tmp_path)
    finally:
        proc.stop()
    assert tweeted(server) == {STORY.format(921): 1}
    assert (
        post["remote_url"] == f"https://x.com/{server.x_username}/status/{server.tweets[0]['id']}"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cancel", "42"], "error: unknown delivery id 42: see `main.py queue`"),
        (["retry", "42"], "error: unknown delivery id 42: see `main.py queue`"),
        (["retry", "abc"], "error: 'abc' is not a delivery id"),
        (["pause", "myspace"], "error: unknown platform 'myspace': use one of twitter,"),
        (["resume", "X"], "error: unknown platform 'X': use one of twitter,"),
        (["queue", "--platform", "tiktok"], "error: unknown platform 'tiktok'"),
        (["history", "--limit", "0"], "error: --limit 0: give a number of posts, 1 or more"),
        (["cancel", "https://news.example.com/none/"], "error: no story with the URL"),
    ],
)
def test_unknown_ids_and_names_are_one_line_and_exit_2(
    server: FakePlatformServer, tmp_path: Path, args: list[str], message: str
) -> None:
    env = platform_env(server, tmp_path, write_feed(tmp_path / "feed.xml", [Item(931)]))
    result = run_main(args, env, tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr


def test_a_manual_post_on_a_platform_paused_by_hand_waits_for_resume(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    feed = write_feed(tmp_path / "feed.xml", [Item(941)])
    env = platform_env(server, tmp_path, feed, PLATFORMS="twitter")
    assert run_main(["pause", "twitter"], env, tmp_path).returncode == 0
    assert run_main(["poll"], env, tmp_path).returncode == 0
    status = run_main(["status"], env, tmp_path).stdout
    assert "PAUSED by hand since 20" in status and "(resume: main.py resume twitter)" in status
    post = run_main(["post", STORY.format(941)], env, tmp_path)
    assert post.returncode == 1
    assert "twitter is paused (paused by hand)" in post.stdout
    assert "main.py resume twitter" in post.stdout
    assert server.tweets == []
    assert run_main(["resume", "twitter"], env, tmp_path).returncode == 0
    assert run_main(["poll"], env, tmp_path).returncode == 0
    assert tweeted(server) == {STORY.format(941): 1}


def test_queue_commands_import_the_store_but_no_feed_or_platform_client(tmp_path: Path) -> None:
    from tests.test_cli_imports import NOT_FOR_STATUS, probe

    seen = probe([["queue", "--json"], ["history", "--json"], ["pause", "twitter"]], tmp_path)
    assert seen["codes"] == [0, 0, 0]
    assert "sqlalchemy" in seen["after"]
    assert [name for name in NOT_FOR_STATUS if name in seen["after"]] == []
