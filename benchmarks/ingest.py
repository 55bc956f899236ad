"""Measurements 1 and 2: the bot's real poll cycles against the farm, and the naive loop.

Both run in their own process (see `measure.in_child`) so that CPU time and peak RSS are theirs
alone; the farm runs in a third process.
"""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.farm import Farm
from benchmarks.measure import peak_rss_mb, timed

PLATFORMS = ("twitter", "facebook", "instagram")


class _Clock:
    """Wall time spent inside wrapped calls, per category (they never nest: see `_instrument`)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, category: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[category] = self.spent.get(category, 0.0) + (
                    time.perf_counter() - started
                )
                self.calls[category] = self.calls.get(category, 0) + 1

        return wrapper

    def wrap_iter(self, category: str, fn: Any) -> Any:
        """Time a generator by the time its consumer waits on it (fetch_iter overlaps the
        network with parsing, so only the waiting is fetch's share of the wall time)."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            iterator = fn(*args, **kwargs)
            while True:
                started = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                finally:
                    self.spent[category] = self.spent.get(category, 0.0) + (
                        time.perf_counter() - started
                    )
                self.calls[category] = self.calls.get(category, 0) + 1
                yield item

        return wrapper

    def reset(self) -> None:
        self.spent.clear()
        self.calls.clear()


def _instrument(app: Any, clock: _Clock) -> None:
    """Time the engine's collaborators without touching its code: fetch, parse, store, compose,
    publish. Store calls made from the delivery threads are counted too (wall time summed over
    threads, so with three platform threads "store" can exceed the drain's wall time)."""

    engine = app.engine
    engine.fetcher.fetch_iter = clock.wrap_iter("fetch", engine.fetcher.fetch_iter)
    # Parsing runs inline or in the parse helper: its cost here is the inline work plus the
    # wait for the helper's results once the share is fetched.
    engine.parser.submit = clock.wrap("parse", engine.parser.submit)
    engine.poller._collect = clock.wrap("parse", engine.poller._collect)
    engine.composer.compose = clock.wrap("compose", engine.composer.compose)
    owner = app.store
    pieces = [owner.feeds, owner.stories, owner.deliveries, owner.queue, owner.platforms]
    pieces += [owner.media, owner.health, owner.notices, owner.spend, owner.review, owner.websub]
    for piece in pieces:
        for name in dir(type(piece)):
            attr = getattr(piece, name)
            if not name.startswith("_") and callable(attr):
                category = "store: unseen" if name == "unseen" else "store: other"
                setattr(piece, name, clock.wrap(category, attr))
    for publisher in engine.publishers.values():
        publisher.publish = clock.wrap("publish", publisher.publish)


def bot_cycles(
    feeds: int, items: int, new_items: int, hosts: int, workdir: str | None = None
) -> dict[str, Any]:
    """Cold then warm `engine.tick()` of the real app (dry run, three platforms) on the farm."""
    import logging

    from bot.app import build_app
    from bot.settings import Backlog, Settings

    logging.disable(logging.INFO)  # a log line per story would measure the console instead
    now = time.time()
    out: dict[str, Any] = {"feeds": feeds, "items": items, "hosts": hosts}
    with (
        # Images on "localhost", as in benchmarks.cli: vetting a new story's image then costs
        # no DNS query (www.siteN.example takes ~170 ms to fail to resolve in this sandbox,
        # seconds under load, which the warm cycle's dry-run checks would otherwise measure).
        Farm.start(
            feeds, items, new_items=new_items, hosts=hosts, now=now, image_host="localhost"
        ) as farm,
        tempfile.TemporaryDirectory(dir=workdir) as tmp,
    ):
        settings = Settings(
            feed_urls=tuple(farm.urls),
            platforms=PLATFORMS,
            dry_run=True,
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            backlog=Backlog("skip"),
            allow_private_networks=True,  # the farm's loopback hosts stand for the public web
        )
        offset = [0.0]  # the warm cycle happens one poll interval after the cold one
        app = build_app(settings, clock=lambda: time.time() + offset[0])
        app.engine.parser.warm_up()  # as `run` does at start: the helper is ready before a poll
        clock = _Clock()
        _instrument(app, clock)
        out["rss_before_mb"] = peak_rss_mb()
        try:
            for phase in ("cold", "warm"):
                farm.control(phase)
                offset[0] = 0.0 if phase == "cold" else settings.poll_interval
                gc.collect()
                clock.reset()
                with timed() as span:
                    report = app.engine.tick()
                served = farm.control("stats")["served"]
                statuses: dict[str, int] = {}
                for feed in report.feeds:
                    statuses[feed.status] = statuses.get(feed.status, 0) + 1
                deliveries: dict[str, int] = {}
                for d in report.deliveries:
                    deliveries[d.status] = deliveries.get(d.status, 0) + 1
                out[phase] = {
                    "wall_s": span.wall,
                    "cpu_s": span.cpu,
                    "requests": sum(served.values()) - 1,  # minus the stats call itself
                    "requests_per_s": (sum(served.values()) - 1) / span.wall,
                    "http_statuses": {k: v for k, v in served.items() if k != "200"}
                    | {"200": served.get("200", 0) - 1},
                    "feed_results": statuses,
                    "new_stories": sum(f.new_stories for f in report.feeds),
                    "deliveries": deliveries,
                    "breakdown_s": dict(clock.spent),
                    "calls": dict(clock.calls),
                    "peak_rss_mb": peak_rss_mb(),
                }
            out["stories_stored"] = app.store.stories.story_count()
        finally:
            app.close()
    return out


def naive_cycles(feeds: int, items: int, new_items: int, hosts: int) -> dict[str, Any]:
    """The same two cycles done the naive way: a sequential `requests.get` + `feedparser.parse`
    per feed, no validators, no store (an in-memory set of seen links stands in for one)."""
    import feedparser
    import requests

    now = time.time()
    out: dict[str, Any] = {"feeds": feeds, "items": items}
    seen: set[str] = set()
    with Farm.start(feeds, items, new_items=new_items, hosts=hosts, now=now) as farm:
        for phase in ("cold", "warm"):
            farm.control(phase)
            new = 0
            gc.collect()
            with timed() as span:
                for url in farm.urls:
                    response = requests.get(url, timeout=20)
                    parsed = feedparser.parse(response.content)
                    for entry in parsed.entries:
                        key = entry.get("id") or entry.get("link")
                        if key not in seen:
                            seen.add(key)
                            new += 1
            out[phase] = {
                "wall_s": span.wall,
                "cpu_s": span.cpu,
                "requests_per_s": feeds / span.wall,
                "new_stories": new,
                "peak_rss_mb": peak_rss_mb(),
            }
    return out
