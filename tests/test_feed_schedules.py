"""Each feed's schedule, honoured by one scheduler with many triggers: worked out with an
injected clock, so an hour of polling takes a fraction of a second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import build_app
from bot.scheduler import Worker, fire_times, poll_jobs
from bot.settings import load_settings
from tests.botenv import BASE_TIME, Item, bot_env, rss
from tests.conftest import FakeClock
from tests.fakes.feed_server import FeedServer

FEEDS = """
[[feeds]]
name = "fast"
url = "{fast}"
poll_interval = "5m"

[[feeds]]
name = "slow"
url = "{slow}"
poll_interval = "2h"

[[feeds]]
name = "column"
url = "{column}"
poll_cron = "0 9,17 * * *"
"""


def run_for(worker: Worker, clock: FakeClock, seconds: float) -> None:
    """What the worker's scheduler does in `seconds` from the clock's time: every poll job
    runs at start, then each on its own trigger, in time order."""
    start = datetime.fromtimestamp(clock.now, UTC)
    jobs = poll_jobs(worker.engine.book.feeds, worker.settings.tz, start=start)
    runs = [(start, index) for index in range(len(jobs))]
    for index, job in enumerate(jobs):
        runs += [
            (t, index) for t in fire_times(job.trigger, start, start + timedelta(seconds=seconds))
        ]
    for when, index in sorted(runs):
        clock.now = when.timestamp()
        worker._job(True, jobs[index].urls)


def test_a_5_minute_feed_polls_12_times_an_hour_while_a_2_hourly_one_polls_once(
    tmp_path: Path,
) -> None:
    clock = FakeClock(BASE_TIME.replace(hour=8, minute=30).timestamp())
    with FeedServer() as server:
        for name in ("fast", "slow", "column"):
            server.route(f"/{name}.xml", body=rss([Item(1, link=f"https://e.com/{name}")]).encode())
        path = tmp_path / "feeds.toml"
        urls = {n: server.url(f"/{n}.xml") for n in ("fast", "slow", "column")}
        path.write_text(FEEDS.format(**urls))
        env = bot_env(tmp_path, FEEDS_FILE=str(path), DRY_RUN="true", PLATFORMS="twitter")
        settings = load_settings(env, tmp_path)
        app = build_app(settings, clock=clock)
        try:
            worker = Worker(app.engine, settings, clock=clock)
            assert len(poll_jobs(app.engine.book.feeds, settings.tz)) == 3  # one per schedule
            run_for(worker, clock, 3600)
        finally:
            app.close()
        polls = {n: sum(1 for r in server.requests if r.path == f"/{n}.xml") for n in urls}
    # 08:30 to 09:30: the cron feed polls at start and at 09:00
    assert polls == {"fast": 12, "slow": 1, "column": 2}


def test_feeds_of_one_schedule_share_one_trigger_and_feed_urls_keep_the_default(
    tmp_path: Path,
) -> None:
    path = tmp_path / "feeds.toml"
    path.write_text(
        '[[feeds]]\nname = "a"\nurl = "https://a.example.com/f"\npoll_interval = "5m"\n'
        '[[feeds]]\nname = "b"\nurl = "https://b.example.com/f"\npoll_interval = "300"\n'
        '[[feeds]]\nname = "c"\nurl = "https://c.example.com/f"\n'
    )
    env = bot_env(
        tmp_path, FEEDS_FILE=str(path), FEED_URLS="https://d.example.com/f", POLL_INTERVAL="15m"
    )
    settings = load_settings(env, tmp_path)
    jobs = poll_jobs(settings.feeds, settings.tz)
    assert [(j.schedule, j.names) for j in jobs] == [
        ("every 5m", ("a", "b")),
        ("every 15m", ("c", "https://d.example.com/f")),
    ]
