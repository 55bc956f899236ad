"""Upgrading from v0.1.0 loses nothing and posts nothing twice.

The old store is made by the v0.1.0 code itself (tests/release.py), through real polls against
the fake platforms: published, dry-run, skipped, deferred, failed and `sending` rows, two feeds.
Then this code opens it: the history stays, what was queued goes out once, nothing else goes out.
On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.botenv import Item, run_main, write_feed
from tests.fakes.platform_server import FakePlatformServer, graph_error
from tests.release import Release, ReleaseUnavailable, installed_release
from tests.test_crash import counts, env_for, wait_until

pytestmark = pytest.mark.slow

V0_1_0 = ("v0.1.0", "c13564a")  # the first landing (shared/docs/contract-notes.md)


@pytest.fixture(scope="module")
def v0_1_0() -> Release:
    try:
        return installed_release(*V0_1_0)
    except ReleaseUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the v0.1.0 release is needed in CI: {exc}")
        pytest.skip(f"v0.1.0 unavailable: {exc}")


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as s:
        yield s


def _sql(url: str, statement: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement))
            return [tuple(r) for r in result.all()] if result.returns_rows else []
    finally:
        engine.dispose()


def _as_link(n: int) -> str:
    return f"https://news.example.com/story-{n}/"


def test_a_v0_1_0_store_upgrades_without_losing_or_repeating_a_post(
    v0_1_0: Release, server: FakePlatformServer, database_url: str, tmp_path: Path
) -> None:
    image = server.image_url()
    feed_a, feed_b = tmp_path / "a.xml", tmp_path / "b.xml"
    a = [Item(n, image_url=image) for n in range(1, 7)]  # 1 is the newest
    b = [Item(n, image_url=image) for n in (101, 102, 103)]
    env = env_for(server, tmp_path, f"{feed_a.as_uri()} {feed_b.as_uri()}")
    env.update(DATABASE_URL=database_url, BACKLOG="latest:1")

    def old(args: list[str], **extra: str) -> None:
        result = v0_1_0.run(args, {**env, **extra}, tmp_path)
        assert result.returncode in (0, 1), result.stderr

    # 1. First poll, in dry run: the newest story of each feed is a dry run, the rest skipped.
    write_feed(feed_a, a[3:6])  # stories 4, 5, 6
    write_feed(feed_b, b[1:3])  # 102, 103
    old(["poll"], DRY_RUN="true")
    # 2. A live poll with new stories: X answers one 503 (deferred), Facebook refuses one (failed).
    write_feed(feed_a, a[1:6])  # + 2, 3
    write_feed(feed_b, b)  # + 101
    server.fail("POST", "/2/tweets", status=503, body={"title": "Service Unavailable"})
    server.fail("POST", "*/feed", status=400, body=graph_error(100, "Invalid parameter"))
    old(["poll"], DRY_RUN="false")
    # 3. One more story; the old worker is killed while Instagram's publish answer is on its way.
    write_feed(feed_a, a)  # + 1
    server.hang("POST", "*/media_publish", seconds=60)
    proc = v0_1_0.spawn(["poll"], {**env, "DRY_RUN": "false"}, tmp_path)
    try:
        assert wait_until(lambda: len(server.ig_media) == 4, timeout=60), "publish never came"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.release()

    statuses = Counter(s for (s,) in _sql(database_url, "SELECT status FROM deliveries"))
    story_statuses = Counter(s for (s,) in _sql(database_url, "SELECT status FROM stories"))
    assert story_statuses["skipped"] == 3  # 5, 6 and 102: the backlog of the first poll
    assert statuses["dry_run"] == 6 and statuses["published"] >= 7
    assert statuses["deferred"] == 1 and statuses["failed"] == 1 and statuses["sending"] >= 1
    before = counts(server)
    old_rows = _sql(database_url, "SELECT id, status, remote_id FROM deliveries ORDER BY id")

    # Time passes: the deferred retry is due and the killed worker's lease has run out.
    _sql(database_url, "UPDATE deliveries SET next_attempt_at = 0 WHERE status = 'deferred'")
    _sql(database_url, "UPDATE deliveries SET lease_until = 0 WHERE status = 'sending'")

    new_env = {**env, "DRY_RUN": "false"}
    expected = {
        "twitter": {_as_link(n) for n in (1, 2, 3, 101)},
        "instagram": {_as_link(n) for n in (1, 2, 3, 101)},
    }
    for _ in range(20):
        result = run_main(["poll", "--json"], new_env, tmp_path)
        assert result.returncode in (0, 1), result.stderr
        now = counts(server)
        if all(set(now[p]) >= expected[p] for p in expected) and not _sql(
            database_url, "SELECT id FROM deliveries WHERE status IN ('sending', 'deferred')"
        ):
            break
        time.sleep(0.5)
    settled = counts(server)
    result = run_main(["poll", "--json"], new_env, tmp_path)  # one more: nothing more goes out
    assert result.returncode in (0, 1), result.stderr
    after = counts(server)
    assert after == settled

    never = {_as_link(n) for n in (4, 5, 6, 102, 103)}  # dry-run and skipped stories
    for platform, posts in after.items():
        assert all(v == 1 for v in posts.values()), (platform, posts)
        assert not never & set(posts), (platform, posts)
        assert set(posts) >= set(before[platform]), platform
    assert set(after["twitter"]) == expected["twitter"]
    assert set(after["instagram"]) == expected["instagram"]
    assert len(after["facebook"]) == 3  # the refused one is not tried again

    # The old rows are all still there, with what they said.
    rows = {
        i: (s, r) for i, s, r in _sql(database_url, "SELECT id, status, remote_id FROM deliveries")
    }
    for i, status, remote_id in old_rows:
        if status in ("published", "dry_run", "failed"):
            assert rows[i] == (status, remote_id)
    status = run_main(["status", "--json"], new_env, tmp_path)
    info = json.loads(status.stdout)
    platforms = info["platforms"]
    assert [platforms[p]["published_total"] for p in ("twitter", "facebook", "instagram")] == [
        4,
        3,
        4,
    ]
    assert all(platforms[p]["dry_run_total"] == 2 for p in platforms)
    assert platforms["facebook"]["failed"] == 1
    assert info["schema_version"] >= 2
    # History lists the posts v0.1.0 made beside the new ones, with their live links.
    history = run_main(["history", "--json", "--limit", "100"], new_env, tmp_path)
    assert history.returncode == 0, history.stderr
    entries = [json.loads(line) for line in history.stdout.splitlines()]
    old_published = {i for i, s, _ in old_rows if s == "published"}
    assert old_published <= {e["id"] for e in entries}
    assert all(e["remote_url"] for e in entries if e["platform"] == "twitter")
