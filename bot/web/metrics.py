"""/metrics: Prometheus text read from the store at each scrape, so every process sharing the
database reports the same truth (a web process without a worker included).

Every name starts with feedbot_. Counts are gauges: a delivery moves between states, so the
number of deliveries in a state goes down as well as up.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from bot.models import DeliveryStatus
from bot.settings import Settings
from bot.spend_status import spend_status
from bot.store import Store
from bot.web.context import WebContext

S = DeliveryStatus
QUEUED_STATES = (S.PENDING_APPROVAL, S.QUEUED, S.DEFERRED, S.SENDING)
NOT_STATUSES = frozenset({"published_24h", "next_deferred_at"})
"""Keys of Store.delivery_counts that are not delivery states."""


class StoreCollector(Collector):
    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        store, settings = self.ctx.store, self.ctx.settings
        now = self.ctx.clock()
        counts = store.platforms.delivery_counts(now - 86400)
        names = sorted(set(settings.platforms) | set(counts))

        posts = GaugeMetricFamily(
            "feedbot_posts",
            "Deliveries in the store by platform and status",
            labels=["platform", "status"],
        )
        depth = GaugeMetricFamily(
            "feedbot_queue_depth",
            "Deliveries not yet sent (waiting approval, queued, deferred, sending)",
            labels=["platform"],
        )
        published = GaugeMetricFamily(
            "feedbot_published_24h", "Posts published in the last 24 hours", labels=["platform"]
        )
        for name in names:
            c = counts.get(name, {})
            statuses = {st.value for st in S} | {k for k in c if k not in NOT_STATUSES}
            for status in sorted(statuses):
                posts.add_metric([name, status], c.get(status, 0))
            depth.add_metric([name], sum(c.get(s.value, 0) for s in QUEUED_STATES))
            published.add_metric([name], c.get("published_24h", 0))
        yield posts
        yield depth
        yield published

        paused = GaugeMetricFamily(
            "feedbot_platform_paused",
            "1 while a platform is paused (refused credentials or paused by hand)",
            labels=["platform"],
        )
        states = store.platforms.platform_states()
        for name in sorted(set(names) | set(states)):
            paused.add_metric([name], 1.0 if states.get(name, {}).get("paused") else 0.0)
        yield paused

        feeds = store.feeds.feed_rows()
        configured = set(settings.feed_urls)
        errors = GaugeMetricFamily(
            "feedbot_feed_errors",
            "Consecutive failed polls of each feed (0 when its last poll worked)",
            labels=["feed"],
        )
        failing = 0
        for f in feeds:
            if f.url not in configured:
                continue
            errors.add_metric([f.url], f.failures)
            failing += 1 if (f.failures or f.disabled) else 0
        yield errors
        yield GaugeMetricFamily(
            "feedbot_feeds_failing", "Feeds whose last poll failed or that are disabled", failing
        )

        seconds = store.platforms.get_meta("last_poll_seconds")
        last = store.platforms.get_meta("last_poll_at")
        if seconds is not None:
            yield GaugeMetricFamily(
                "feedbot_poll_duration_seconds",
                "How long the last poll cycle took",
                float(seconds),
            )
        if last is not None:
            yield GaugeMetricFamily(
                "feedbot_last_poll_timestamp_seconds",
                "When the last poll cycle finished (Unix time)",
                float(last),
            )
        yield from _spend(store, self.ctx.settings, now)

        subs = GaugeMetricFamily(
            "feedbot_websub_subscriptions", "WebSub subscriptions by state", labels=["state"]
        )
        for state, count in sorted(store.websub.websub_counts().items()):
            subs.add_metric([state], count)
        yield subs


def _spend(store: Store, settings: Settings, now: float) -> Iterator[Metric]:
    """What posts cost this month (X's pay-per-post), as `status` shows it."""
    info = spend_status(store.spend, settings, now)
    spent = GaugeMetricFamily(
        "feedbot_spend_usd",
        "USD spent on posts this month (UTC), per platform that charges",
        labels=["platform", "month"],
    )
    budget = GaugeMetricFamily(
        "feedbot_budget_usd",
        "The monthly budget (X_MONTHLY_BUDGET), where one is set",
        labels=["platform"],
    )
    for name, s in info["platforms"].items():
        spent.add_metric([name, info["month"]], s["spent_usd"])
        if s["budget_usd"] is not None:
            budget.add_metric([name], s["budget_usd"])
    yield spent
    yield budget


def render_metrics(ctx: WebContext) -> tuple[bytes, str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(ctx))
    return generate_latest(registry), CONTENT_TYPE_LATEST
