"""Threads and LinkedIn through the command line, the way a user meets them: a dry run without
credentials, `preview`, `post`, `check` and `status`, driven through main.py."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.store import Store
from tests.botenv import Item, bot_env, run_main, write_feed
from tests.fakes.linkedin_server import FakeLinkedInServer
from tests.fakes.threads_server import FakeThreadsServer
from tests.test_cli_post import json_lines

STORIES = 4


@pytest.fixture
def threads() -> Iterator[FakeThreadsServer]:
    with FakeThreadsServer(in_progress_reads=0) as s:
        yield s


@pytest.fixture
def linkedin() -> Iterator[FakeLinkedInServer]:
    with FakeLinkedInServer() as s:
        yield s


def _feed(tmp: Path) -> str:
    long_cjk = "宝石业的新闻" * 120 + " 💎" * 40
    items = [Item(n) for n in range(1, STORIES)]
    items.append(Item(STORIES, title=long_cjk))
    return write_feed(tmp / "feed.xml", items)


def test_a_dry_run_needs_no_credentials_and_shows_every_story_on_both(tmp_path: Path) -> None:
    env = bot_env(tmp_path, FEED_URLS=_feed(tmp_path), DRY_RUN="true",
                  PLATFORMS="threads,linkedin")  # fmt: skip
    result = run_main(["poll", "--json"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    seen = {(line["platform"], line["story_url"]) for line in lines}
    assert {platform for platform, _ in seen} == {"threads", "linkedin"}
    assert len(seen) == 2 * STORIES
    assert {line["status"] for line in lines} == {"dry_run"}, lines
    for line in lines:
        if line["platform"] == "threads":
            assert len(line["text"].encode("utf-8")) <= 500
            assert line["story_url"] in line["text"]  # the link is never cut
        else:
            assert len(line["text"]) <= 3000
    assert "Traceback" not in result.stderr


def test_check_status_preview_and_post(
    threads: FakeThreadsServer, linkedin: FakeLinkedInServer, tmp_path: Path
) -> None:
    feed = _feed(tmp_path)
    env = bot_env(tmp_path, FEED_URLS=feed, PLATFORMS="threads,linkedin",
                  **threads.threads_env(), **linkedin.linkedin_env())  # fmt: skip
    check = run_main(["check"], env, tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "threads" in check.stdout and "@" + threads.threads_username in check.stdout
    assert "linkedin" in check.stdout and linkedin.organization_name in check.stdout
    assert "expires" in check.stdout
    preview = run_main(
        ["preview", "--platform", "threads", "--platform", "linkedin"], env, tmp_path
    )
    assert preview.returncode == 0, preview.stderr
    assert "threads" in preview.stdout
    post = run_main(["post", "--text", "Our new issue (December) is out", "--json"], env, tmp_path)
    assert post.returncode == 0, post.stdout + post.stderr
    assert len(threads.posts) == 1 and len(linkedin.li_posts) == 1
    made = linkedin.li_posts[0]
    assert made["commentary"] == made["raw_commentary"]  # escaped: LinkedIn kept it all
    assert made["commentary"].endswith("\\(December\\) is out")
    status = json.loads(run_main(["status", "--json"], env, tmp_path).stdout)
    assert {"threads", "linkedin"} <= set(status["platforms"])


def test_check_counts_a_linkedin_token_from_its_first_use_kept_in_the_store(
    linkedin: FakeLinkedInServer, tmp_path: Path
) -> None:
    """LinkedIn tells a token's expiry only to the app, so the bot counts 60 days from the token's
    first use, which the store keeps: `check` reads it there, so a token first used 50 days ago
    expires in 10 days, not in 60 from every run of `check`."""
    env = bot_env(tmp_path, FEED_URLS=_feed(tmp_path), PLATFORMS="linkedin",
                  **linkedin.linkedin_env())  # fmt: skip
    first = json_lines(run_main(["check", "--json"], env, tmp_path).stdout)[0]
    expires = datetime.fromisoformat(first["token"]["expires_at"]).timestamp()
    assert abs(expires - (time.time() + 60 * 86400)) < 600

    store = Store.open(env["DATABASE_URL"])
    try:
        digest = hashlib.sha256(linkedin.linkedin_token.encode()).hexdigest()[:16]
        key = f"linkedin:token_first_used:{digest}"
        assert store.platforms.get_meta(key)  # the first check kept the first use
        store.platforms.set_meta(key, json.dumps(time.time() - 50 * 86400))
    finally:
        store.close()
    again = json_lines(run_main(["check", "--json"], env, tmp_path).stdout)[0]
    expires = datetime.fromisoformat(again["token"]["expires_at"]).timestamp()
    assert abs(expires - (time.time() + 10 * 86400)) < 600
