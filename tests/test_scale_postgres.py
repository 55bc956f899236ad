"""Scaling out: several `run` workers on one PostgreSQL database share the work without doubling it.

The end-to-end test runs real worker processes against the fake platform server and a real
PostgreSQL server, kills one of them with SIGKILL while it is in the middle of sending, and counts
what each platform received. The victim runs under another host name, as if on another machine,
so the survivors cannot see that it died: they must wait for its leases to expire (LEASE_SECONDS)
and then reconcile what it left in `sending`. The unit-level tests below pin the same rules down
on both back-ends: claims are exclusive under concurrency, a lease held by another host is only
taken over once it has expired, and `status --json` is a usable health check.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from bot.models import DeliveryStatus, Post, Story
from bot.polling import FRESH_SHARE
from bot.settings import PROJECT_ROOT
from bot.store import NewDelivery, Store, worker_id
from tests.botenv import Item, bot_env, rss, run_main, write_feed
from tests.conftest import FakeClock
from tests.fakes.feed_server import FeedServer
from tests.fakes.platform_server import FakePlatformServer
from tests.test_crash import counts, env_for

S = DeliveryStatus
NOW = 1_800_000_000.0
OTHER_HOST = "worker-on-another-host"
STORIES = 200
PLATFORMS = ("twitter", "facebook", "instagram")

# Runs the CLI as if on another machine: the survivors cannot use the pid check of
# `_owner_is_dead` on its claims, only the lease expiry.
_OTHER_HOST_MAIN = (
    "import socket, sys\n"
    f"socket.gethostname = lambda: {OTHER_HOST!r}\n"
    "from bot.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _spawn_worker(
    env: dict[str, str], cwd: Path, log: Path, *, other_host: bool = False
) -> subprocess.Popen[bytes]:
    if other_host:
        cmd = [sys.executable, "-c", _OTHER_HOST_MAIN, "run"]
        env = {**env, "PYTHONPATH": str(PROJECT_ROOT)}
    else:
        cmd = [sys.executable, str(PROJECT_ROOT / "main.py"), "run"]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)


def _wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _tails(logs: list[Path]) -> str:
    return "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-1500:] for p in logs)


def _url_spellings(url: str) -> list[str]:
    """The same database in the three spellings DATABASE_URL accepts (Heroku's among them)."""
    rest = url.split("://", 1)[1]
    return [f"postgres://{rest}", f"postgresql://{rest}", f"postgresql+psycopg://{rest}"]


@pytest.fixture
def probe(postgres_url: str) -> Iterator[Engine]:
    """The test's own look into the database the workers share."""
    Store.open(postgres_url).close()  # the schema exists before the first query below
    engine = create_engine(postgres_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _scalar(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar() or 0)


# --- end to end: three workers, one killed ----------------------------------------------------


@pytest.mark.postgres
@pytest.mark.slow
def test_three_workers_publish_each_story_once_when_one_is_killed(
    postgres_url: str, probe: Engine, tmp_path: Path
) -> None:
    started = time.monotonic()
    with FakePlatformServer(ig_in_progress_reads=0, ig_quota_total=10_000) as server:
        server.latency = 0.004  # each API call takes a moment, so the kill lands mid-send
        items = [Item(n, image_url=server.image_url()) for n in range(1, STORIES + 1)]
        feed = write_feed(tmp_path / "feed.xml", items)
        logs = [tmp_path / f"worker{i}.log" for i in range(3)]
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for i, url in enumerate(_url_spellings(postgres_url)):
                env = env_for(
                    server,
                    tmp_path,
                    feed,
                    DATABASE_URL=url,
                    POLL_INTERVAL="1s",
                    LEASE_SECONDS="2s",
                    LOG_LEVEL="INFO",
                )
                procs.append(_spawn_worker(env, tmp_path, logs[i], other_host=i == 0))
            victim = procs[0]
            total = lambda: len(server.tweets) + len(server.fb_posts) + len(server.ig_media)  # noqa: E731
            stories = lambda: _scalar(probe, "SELECT count(*) FROM stories")  # noqa: E731

            assert _wait_until(lambda: stories() == STORIES and total() >= STORIES, timeout=60), (
                f"a third of the posts never went out: {total()}\n{_tails(logs)}"
            )
            interrupted = _kill_while_sending(victim, probe)
            killed_at = time.monotonic()
            posts_at_kill = total()

            # The survivors take over once the victim's leases expire, and finish everything.
            # The bound is generous (it returns as soon as they have): on a loaded 2-core
            # machine the survivors' own drains take tens of seconds before they look.
            assert _wait_until(lambda: not _ids_in_sending(probe, interrupted), timeout=90), (
                f"nobody took over the dead worker's deliveries\n{_tails(logs)}"
            )
            takeover = time.monotonic() - killed_at
            assert _wait_until(lambda: total() >= len(PLATFORMS) * STORIES, timeout=60), (
                f"only {total()} of {len(PLATFORMS) * STORIES} posts\n{_tails(logs)}"
            )
            time.sleep(1.5)  # one more cycle of every survivor: a late double would show
            for proc in procs[1:]:
                proc.send_signal(signal.SIGTERM)
            for proc in procs[1:]:
                assert proc.wait(timeout=10) == 0, _tails(logs)
        finally:
            _stop_all(procs)
        per_platform = counts(server)
    wall = time.monotonic() - started

    expected = {f"https://news.example.com/story-{n}/" for n in range(1, STORIES + 1)}
    settled = _events_for(probe, interrupted)
    print(
        f"\n3 workers, {STORIES} stories: "
        + ", ".join(f"{p}={sum(c.values())}" for p, c in per_platform.items())
        + f"; killed at {posts_at_kill} posts with {len(interrupted)} in sending"
        + f" ({', '.join(sorted(settled.values()))}); takeover after {takeover:.1f}s;"
        + f" wall {wall:.1f}s"
    )
    for platform, counter in per_platform.items():
        assert set(counter) == expected, f"{platform}: lost {sorted(expected - set(counter))}"
        doubled = {url: n for url, n in counter.items() if n != 1}
        assert doubled == {}, f"{platform} got these more than once: {doubled}"
    assert _scalar(probe, "SELECT count(*) FROM deliveries WHERE status <> 'published'") == 0
    # Every delivery the victim left in `sending` was settled by a survivor: looked up on the
    # platform first ("reconciled" when found, "requeued" when not), never blindly re-sent.
    assert set(settled) == set(interrupted)
    assert set(settled.values()) <= {"reconciled", "requeued"}


def _victim_sending(engine: Engine, pid: int) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT id FROM deliveries WHERE status = 'sending' AND lease_owner LIKE :o"),
                {"o": f"{OTHER_HOST}:{pid}:%"},
            ).scalars()
        )


def _kill_while_sending(victim: subprocess.Popen[bytes], engine: Engine) -> list[int]:
    """SIGKILL the victim at an instant when it holds deliveries in `sending`: freeze it, check
    (its state cannot move while stopped), kill; or let it run on and look again."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert victim.poll() is None, "the victim worker exited by itself"
        if _victim_sending(engine, victim.pid):
            victim.send_signal(signal.SIGSTOP)
            held = _victim_sending(engine, victim.pid)
            if held:
                victim.send_signal(signal.SIGKILL)
                victim.wait(timeout=10)
                return held
            victim.send_signal(signal.SIGCONT)
        time.sleep(0.005)
    raise AssertionError("never caught the victim worker in the middle of a send")


def _ids_in_sending(engine: Engine, ids: list[int]) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT id FROM deliveries WHERE status = 'sending' AND id = ANY(:ids)"),
                {"ids": ids},
            ).scalars()
        )


def _events_for(engine: Engine, ids: list[int]) -> dict[int, str]:
    """How each interrupted delivery was settled: its first reconciliation event."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT delivery_id, kind FROM events WHERE delivery_id = ANY(:ids) "
                "AND kind IN ('reconciled', 'requeued') ORDER BY id"
            ),
            {"ids": ids},
        ).all()
    out: dict[int, str] = {}
    for delivery_id, kind in rows:
        out.setdefault(delivery_id, kind)
    return out


# --- feed claims: one poller per feed at a time ------------------------------------------------


@pytest.mark.postgres
def test_three_workers_never_poll_one_feed_at_the_same_time(
    postgres_url: str, tmp_path: Path
) -> None:
    delay = 0.4  # every poll holds the feed this long; three unclaimed workers would overlap
    interval = 1.0
    paths = [f"/brand{i}/feed.xml" for i in range(3)]
    with FeedServer() as feeds:
        for i, path in enumerate(paths):
            body = rss([Item(100 * i + n) for n in range(1, 4)]).encode()
            feeds.route(path, body=body, etag=f'"v{i}"', delay=delay)
        env = bot_env(
            tmp_path,
            FEED_URLS=",".join(feeds.url(p) for p in paths),
            DATABASE_URL=postgres_url,
            POLL_INTERVAL=f"{interval:g}s",
            LEASE_SECONDS="2s",
            DRY_RUN="true",
        )
        logs = [tmp_path / f"poller{i}.log" for i in range(3)]
        procs = [_spawn_worker(env, tmp_path, log) for log in logs]
        try:
            assert _wait_until(
                lambda: all(len(feeds.requests_to(p)) >= 3 for p in paths), timeout=30
            ), _tails(logs)
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                assert proc.wait(timeout=10) == 0, _tails(logs)
        finally:
            _stop_all(procs)
        starts = {p: sorted(r.at for r in feeds.requests_to(p)) for p in paths}
    gaps = {p: min(b - a for a, b in itertools.pairwise(s)) for p, s in starts.items()}
    print(
        "\npolls per feed: "
        + ", ".join(f"{p}={len(s)} (closest {gaps[p]:.2f}s apart)" for p, s in starts.items())
    )
    for path, gap in gaps.items():
        # The claim: a poll of a feed starts only after the previous one answered.
        assert gap >= delay - 0.005, f"{path} was polled by two workers at once ({gap:.3f}s)"
        # And a polled feed is not due again for most of an interval, whichever worker ticks.
        assert gap >= delay + FRESH_SHARE * interval - 0.05, f"{path} polled again after {gap}s"


# --- claims under concurrency, on both back-ends -----------------------------------------------


def _story(n: int) -> Story:
    return Story(
        identity=f"guid:{n}",
        url=f"https://example.com/story-{n}/",
        title=f"Story {n}",
        summary="Summary",
        published=datetime(2026, 11, 1, tzinfo=UTC),
        feed_url="https://example.com/feed/",
    )


def _queue(store: Store, count: int) -> list[int]:
    ids = []
    for n in range(1, count + 1):
        post = Post("twitter", f"text {n}", story_url=f"https://example.com/story-{n}/")
        sid = store.stories.add_story(
            _story(n),
            NOW,
            status="queued",
            new_deliveries=[NewDelivery("twitter", post)],
        )
        assert sid is not None
        ids += [d.id for d in store.deliveries.deliveries_for_story(sid)]
    return ids


def _race(workers: int, job: Callable[[int], list[int]]) -> list[list[int]]:
    """Run `job(i)` in `workers` threads released at the same instant."""
    barrier = threading.Barrier(workers)
    results: list[list[int]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = job(i)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def test_concurrent_delivery_claims_never_hand_one_delivery_to_two_workers(
    database_url: str,
) -> None:
    seed = Store.open(database_url)
    stores = [Store.open(database_url) for _ in range(4)]  # own pools: like separate processes
    try:
        ids = _queue(seed, 60)

        def claim_until_empty(i: int) -> list[int]:
            got: list[int] = []
            for _ in range(len(ids)):  # bounded: a broken claim would hand out rows forever
                rows = stores[i].deliveries.claim_due("twitter", NOW, f"w{i}", 600, limit=3)
                if not rows:
                    break
                got += [r.id for r in rows]
            return got

        results = _race(len(stores), claim_until_empty)
    finally:
        for s in [seed, *stores]:
            s.close()
    claimed = Counter(i for got in results for i in got)
    assert sorted(claimed) == sorted(ids)
    assert {i: n for i, n in claimed.items() if n > 1} == {}
    print(f"\nclaims per worker: {[len(r) for r in results]}")


def test_concurrent_feed_claims_give_each_feed_to_one_worker(database_url: str) -> None:
    urls = [f"https://brand{i}.example.com/feed/" for i in range(8)]
    stores = [Store.open(database_url) for _ in range(4)]
    try:
        stores[0].feeds.ensure_feeds(urls)

        def claim_twice(i: int) -> list[int]:  # the second call comes after others committed
            return [
                f.id for _ in range(2) for f in stores[i].feeds.claim_feeds(urls, NOW, f"w{i}", 60)
            ]

        results = _race(len(stores), claim_twice)
    finally:
        for s in stores:
            s.close()
    claimed = Counter(i for got in results for i in got)
    assert len(claimed) == len(urls) and set(claimed.values()) == {1}


# --- leases of a worker on another host -------------------------------------------------------


def test_other_hosts_claims_are_taken_over_only_after_their_lease(database_url: str) -> None:
    """We cannot see whether a process on another machine is alive: only its lease tells."""
    db_clock = FakeClock(NOW)
    store = Store.open(database_url, db_clock=db_clock)
    try:
        [delivery_id] = _queue(store, 1)
        rand = worker_id().split(":")[2]
        owner = f"{OTHER_HOST}:{os.getpid()}:{rand}:0123456789ab"  # even a pid alive here
        [row] = store.deliveries.claim_due("twitter", NOW, owner, 60)
        store.deliveries.mark_sending(row, 60)
        feed_url = "https://example.com/feed/"
        store.feeds.ensure_feeds([feed_url])
        [feed] = store.feeds.claim_feeds([feed_url], NOW, owner, 60)

        db_clock.advance(59.9)
        assert store.deliveries.expire_dead_leases() == 0
        assert store.deliveries.claim_stale_sending(NOW, "w2", 60) == []
        assert store.deliveries.claim_due("twitter", NOW, "w2", 60) == []
        assert store.feeds.claim_feeds([feed_url], NOW, "w2", 60) == []

        db_clock.advance(0.2)
        [stale] = store.deliveries.claim_stale_sending(NOW, "w2", 60)
        assert (stale.id, stale.status, stale.attempts) == (delivery_id, "sending", 1)
        [again] = store.feeds.claim_feeds([feed_url], NOW, "w2", 60)
        assert again.id == feed.id
        # The new owner's lease now keeps the old one (and everyone else) out.
        assert not store.deliveries.renew_lease(row, 500)
        db_clock.advance(1)
        assert store.deliveries.claim_stale_sending(NOW, OTHER_HOST, 60) == []
    finally:
        store.close()


def test_live_local_owner_keeps_its_claims_until_it_dies(database_url: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    db_clock = FakeClock(NOW)
    store = Store.open(database_url, db_clock=db_clock)
    try:
        _queue(store, 1)
        host, _, rand, space = worker_id().split(":")
        owner = f"{host}:{child.pid}:{rand}:{space}"
        [row] = store.deliveries.claim_due("twitter", NOW, owner, 3600)
        store.deliveries.mark_sending(row, 3600)
        db_clock.advance(1)
        assert store.deliveries.expire_dead_leases() == 0
        assert store.deliveries.claim_stale_sending(NOW, "w2", 60) == []
        child.kill()
        child.wait(timeout=10)
        [stale] = store.deliveries.claim_stale_sending(NOW, "w2", 60)  # no need to wait an hour
        assert stale.id == row.id
    finally:
        if child.poll() is None:
            child.kill()
        store.close()


# --- `status --json` as a health check ---------------------------------------------------------


@pytest.mark.postgres
def test_status_json_exit_code_is_a_health_check(postgres_url: str, tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed.xml", [Item(1)])
    env = bot_env(
        tmp_path, FEED_URLS=feed, DATABASE_URL=postgres_url, POLL_INTERVAL="60s", DRY_RUN="true"
    )

    def status() -> tuple[int, dict[str, object]]:
        result = run_main(["status", "--json"], env, tmp_path)
        return result.returncode, json.loads(result.stdout)

    code, info = status()  # a fresh database: never polled
    assert (code, info["healthy"], info["last_poll_at"]) == (1, False, None)
    assert info["stale_after_seconds"] == 180

    assert run_main(["poll"], env, tmp_path).returncode == 0
    code, info = status()
    assert (code, info["healthy"]) == (0, True)

    store = Store.open(postgres_url)
    try:
        store.platforms.set_meta(
            "last_poll_at", repr(time.time() - 180 - 30)
        )  # polling has stalled
    finally:
        store.close()
    code, info = status()
    assert (code, info["healthy"]) == (1, False)


def test_health_turns_stale_after_three_poll_intervals(database_url: str) -> None:
    from bot.settings import Settings
    from bot.status import gather_status

    settings = Settings(feed_urls=("https://example.com/feed/",), poll_interval=60.0)
    store = Store.open(database_url)
    try:
        assert gather_status(store, settings, NOW)["healthy"] is False  # never polled
        store.platforms.set_meta("last_poll_at", repr(NOW))
        assert gather_status(store, settings, NOW + 180)["healthy"] is True
        assert gather_status(store, settings, NOW + 180.5)["healthy"] is False
    finally:
        store.close()


# --- deployment files run the commands tested above --------------------------------------------


def _dockerfile_json(instruction: str) -> list[str]:
    """The exec-form array of the Dockerfile line that starts with `instruction`."""
    lines = (PROJECT_ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    [line] = [ln for ln in lines if ln.startswith(instruction + " ")]
    return json.loads(line[line.index("[") :])


def _unit(name: str) -> dict[str, str]:
    pairs = [ln.split("=", 1) for ln in (PROJECT_ROOT / "deploy" / name).read_text().splitlines()]
    return {p[0]: p[1] for p in pairs if len(p) == 2 and not p[0].startswith("#")}


def test_deployment_files_run_the_worker_and_the_health_check() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "\nFROM python:3.11-slim\n" in dockerfile
    users = [ln.split()[1] for ln in dockerfile.splitlines() if ln.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert _dockerfile_json("CMD") == ["python", "main.py", "run"]
    assert _dockerfile_json("HEALTHCHECK") == ["python", "bot/healthcheck.py"]  # GET /healthz
    assert "\nEXPOSE 8080\n" in dockerfile and "\nENV WEB_PORT=8080\n" in dockerfile
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored and "data/" in ignored  # no secrets nor state in the image

    for name in ("feedbot.service", "feedbot@.service"):
        unit = _unit(name)
        # --env-file, not EnvironmentFile: `main.py --env-file ... status` reads what the worker
        # reads, with the bot's own parser (and its file-and-line errors).
        assert unit["ExecStart"].endswith(" main.py --env-file /etc/feedbot/feedbot.env run"), name
        assert "EnvironmentFile" not in unit, name
        assert (unit["Restart"], unit["KillSignal"], unit["TimeoutStopSec"]) == (
            "always", "SIGTERM", "15",
        ), name  # fmt: skip
        assert unit["User"] == "feedbot" and unit["WorkingDirectory"] == "/opt/feedbot", name
    # Heroku: a web dyno runs the worker with the web face on PORT.
    assert (PROJECT_ROOT / "Procfile").read_text().strip() == "web: python main.py run"


def test_feed_claims_can_take_a_share_so_workers_split_many_feeds(database_url: str) -> None:
    urls = [f"https://brand{i}.example.com/feed/" for i in range(5)]
    store = Store.open(database_url)
    try:
        store.feeds.ensure_feeds(urls)
        first = store.feeds.claim_feeds(urls, NOW, "w1", 60, limit=2)
        second = store.feeds.claim_feeds(urls, NOW, "w2", 60, limit=2)
        rest = store.feeds.claim_feeds(urls, NOW, "w3", 60)
    finally:
        store.close()
    assert [len(first), len(second), len(rest)] == [2, 2, 1]
    assert len({f.id for f in [*first, *second, *rest]}) == len(urls)
