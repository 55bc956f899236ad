"""The composition root: builds store, fetcher, composer, adapters, the story rules, pacing,
the deliverer and the engine from Settings.

Nothing below this module reads the environment or picks an implementation by itself; tests build
the same objects with their own fakes (a clock, a local server URL) through the same function.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import httpx

from bot import USER_AGENT
from bot.budget import Budget
from bot.compose import Composer, load_composer
from bot.delivery import Deliverer
from bot.engine import Engine
from bot.errors import ConfigError, FeedError
from bot.feed_book import FeedBook, build_feed_book
from bot.feed_rules import Feed
from bot.feeds.fetch import Fetcher
from bot.feeds.filters import StoryFilter
from bot.feeds.parse_pool import ParsePool
from bot.intake import Intake
from bot.models import Limits
from bot.net import PolicyTransport
from bot.netpolicy import NetworkPolicy, Resolver, system_resolver
from bot.pacing import Pacing
from bot.pipeline import Rules
from bot.platforms import registry
from bot.platforms.base import Publisher
from bot.platforms.state import Later
from bot.poll_schedule import poll_period
from bot.polling import Poller
from bot.preview import Preview, newest_stories, preview_platforms, preview_rows, story_for_url
from bot.publishers import build_publishers, require_platforms
from bot.settings import Settings
from bot.store import Store, worker_id

log = logging.getLogger("bot")


@dataclass
class App:
    settings: Settings
    store: Store
    fetcher: Fetcher
    composer: Composer
    http: httpx.Client
    engine: Engine

    def client_trusting(self, url: str) -> httpx.Client:
        """A client like `http` that also trusts the origin of `url`, which the user typed on
        the command line (`post URL`) as a configured feed's would be."""
        return make_http(self.settings, network_policy(self.settings, also_trust=(url,)))

    def close(self) -> None:
        for publisher in self.engine.publishers.values():
            publisher.close()
        self.engine.parser.close()
        self.fetcher.close()
        self.http.close()
        self.store.close()


def network_policy(
    settings: Settings, *, resolver: Resolver = system_resolver, also_trust: tuple[str, ...] = ()
) -> NetworkPolicy:
    """The one policy of both HTTP clients: the configured feeds, API base URLs and image hosts
    (PUBLIC_URL, S3) are trusted (exact origins), everything else a feed names is checked.
    `also_trust`: URLs the user typed on the command line (preview, post)."""
    apis = [
        registry.spec(name).section.api_url(group)
        for name, group in settings.sections.items()
        if group is not None
    ]
    images = settings.reach.images  # where the bot hosts fitted images: the user's own hosts
    apis.extend(u for u in (images.public_url,) if u)
    if images.s3 is not None:
        apis.extend(u for u in (images.s3.endpoint_url, images.s3.public_url) if u)
    return NetworkPolicy.trusting(
        [*settings.feed_urls, *apis, *also_trust],
        allow_private=settings.allow_private_networks,
        resolver=resolver,
    )


def make_http(settings: Settings, policy: NetworkPolicy | None = None) -> httpx.Client:
    """The synchronous client for article pages, images and the Graph API: the same timeouts,
    proxies and network policy as feeds (the proxy variables may be in the env file, which
    httpx cannot see)."""
    return httpx.Client(
        timeout=httpx.Timeout(settings.http_timeout),
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
        follow_redirects=True,
        max_redirects=5,
        transport=_transport(settings, policy or network_policy(settings)),
    )


def _transport(settings: Settings, policy: NetworkPolicy) -> httpx.BaseTransport:
    if settings.demo:  # the demo makes no network request at all (bot.offline says so)
        from bot.offline import OfflineTransport

        return OfflineTransport()
    return PolicyTransport(policy, settings.proxies)


def make_fetcher(settings: Settings, policy: NetworkPolicy | None = None) -> Fetcher:
    """The feed fetcher as the settings configure it: the worker and `preview` use the same."""
    return Fetcher(
        timeout=settings.http_timeout,
        max_bytes=settings.max_feed_bytes,
        concurrency=settings.feed_concurrency,
        proxies=settings.proxies,
        policy=policy or network_policy(settings),
    )


def load_composer_for(settings: Settings, platforms: Sequence[str] | None = None) -> Composer:
    """The templates of the active platforms (or of `platforms`, for `preview`), loaded and
    checked at start: a template that cannot fit its platform stops the program before anything
    is sent, and a platform that is not used needs no template. Doubtful templates (`{{title}}`
    prints braces) are logged here, once."""
    names = tuple(settings.platforms if platforms is None else platforms)
    files: dict[str, str] = {}  # X_LINK_MODE=none: the charging platform's template without URL
    if settings.reach.spend.link_mode == "none":
        files = {n: t for n in names if (t := registry.spec(n).no_link_template) is not None}
    composer = load_composer(
        settings.template_dir,
        settings.handles_file,
        brand_handles=settings.handles,
        hashtag_caps=settings.hashtag_caps,
        platforms=names,
        limits={s.name: s.limits for s in registry.specs()},  # the handles file may name any
        utm=settings.reach.utm,
        template_files=files,
        feed_mentions=settings.feed_mentions == "keep",
        feed_hashtags=settings.feed_hashtags == "keep",
    )
    for template in composer.templates.values():
        for warning in template.warnings:
            log.warning(warning)
    for name, no_link in files.items():
        if "url" not in composer.template(name).fields:
            continue
        raise ConfigError(
            f"X_LINK_MODE=none posts without the link, but {no_link} in TEMPLATE_DIR "
            "uses {url}; remove {url} from it (or set X_LINK_MODE=inline)",
            "TEMPLATE_DIR",
        )
    return composer


def build_app(
    settings: Settings,
    *,
    dry_run: bool | None = None,
    clock: Callable[[], float] = time.time,
    policy: NetworkPolicy | None = None,
    db_clock: Callable[[], float] | None = None,
) -> App:
    """Everything a command needs. Raises ConfigError (exit 2) for templates or handles.
    `policy`: tests inject one with a fake resolver; the default is `network_policy`.
    `db_clock` stands in for the database's clock (leases) in tests; None in production."""
    dry = settings.dry_run if dry_run is None else dry_run
    require_platforms(settings, dry_run=dry)  # before the store: nothing is recorded
    composer = load_composer_for(settings)
    policy = policy or network_policy(settings)
    http = make_http(settings, policy)
    state = Later()  # the store's platform state, once the store is open
    publishers = build_publishers(settings, dry_run=dry, http=http, state=state)
    env_rules = story_rules(settings, composer, {n: p.limits for n, p in publishers.items()})
    try:  # each feed's own rules (FEEDS_FILE), its templates checked before the store opens
        book = build_feed_book(settings, env_rules)
    except ConfigError:
        for publisher in publishers.values():
            publisher.close()
        http.close()
        raise
    rules = book.rules
    store = Store.open(settings.database_url, db_clock=db_clock)
    state.use(store.platforms)
    fetcher = make_fetcher(settings, policy)
    deliverer = make_deliverer(settings, store, publishers, clock=clock)
    intake = Intake(http, policy, settings.http_timeout)
    poller = Poller(
        settings,
        fetcher,
        ParsePool(workers=1),
        intake,
        feeds=store.feeds,
        stories=store.stories,
        meta=store.platforms,
        book=book,
        clock=clock,
        owner=deliverer.owner,
        stop=deliverer.stop,
        poll_period=poll_period(settings),
    )
    engine = Engine(
        settings,
        store,
        publishers,
        rules=rules,
        intake=intake,
        poller=poller,
        deliverer=deliverer,
        clock=clock,
    )
    return App(settings, store, fetcher, composer, http, engine)


def story_rules(settings: Settings, composer: Composer, limits: Mapping[str, Limits]) -> Rules:
    """The env file's rules of what a story becomes, for the platforms of `limits` (in order)."""
    return Rules(
        composer=composer,
        limits=dict(limits),
        story_filter=StoryFilter(
            include_keywords=settings.include_keywords,
            exclude_keywords=settings.exclude_keywords,
            include_categories=settings.include_categories,
            exclude_categories=settings.exclude_categories,
        ),
        max_story_age=settings.max_story_age,
        tz=settings.tz,
    )


def make_pacing(settings: Settings, publishers: Mapping[str, Publisher]) -> Pacing:
    """The sending rules as the settings say, with each platform's own default hourly cap."""
    return Pacing(
        settings.post_spacing,
        settings.max_posts_per_hour,
        settings.quiet_hours,
        settings.tz,
        settings.reach.slots,
        settings.reach.slot_size,
        hourly_caps={
            name: p.limits.hourly_cap for name, p in publishers.items() if p.limits.hourly_cap
        },
    )


def make_deliverer(
    settings: Settings,
    store: Store,
    publishers: Mapping[str, Publisher],
    *,
    clock: Callable[[], float] = time.time,
    rng: Callable[[], float] = random.random,
) -> Deliverer:
    """The one place that sends, under this process's worker identity."""
    return Deliverer(
        publishers,
        deliveries=store.deliveries,
        platforms=store.platforms,
        spend=store.spend,
        media=store.media,
        owner=worker_id(),
        pacing=make_pacing(settings, publishers),
        budgets=budgets_for(settings),
        retry_base=settings.retry_base_seconds,
        max_attempts=settings.max_attempts,
        lease=settings.lease_seconds,
        clock=clock,
        rng=rng,
        credential_hint=lambda p: " and ".join(registry.auth_variables(p)) or p,
        http_timeout=settings.http_timeout,
    )


def budgets_for(settings: Settings) -> dict[str, Budget]:
    """The platforms that charge per post: X, whose spend is always recorded (for `status`) and
    capped when X_MONTHLY_BUDGET is set."""
    spend = settings.reach.spend
    return {
        spec.name: Budget(spend.price_post, spend.price_post_url, spend.monthly_budget)
        for spec in registry.specs()
        if spec.charges_per_post
    }


def _limits(names: Sequence[str]) -> dict[str, Limits]:
    return {name: registry.spec(name).limits for name in names}


def chosen_feed(book: FeedBook, key: str | None) -> Feed | None:
    """`--feed NAME` (or URL): the feed whose rules a command follows; exit 2 if none is."""
    if key is None:
        return None
    found = book.find(key)
    if found is None:
        known = ", ".join(f.name for f in book.feeds)
        raise ConfigError(f"--feed {key!r} is no feed of this bot (feeds: {known})")
    return found


def preview_posts(
    settings: Settings,
    *,
    url: str | None,
    platforms: Sequence[str],
    limit: int,
    now: float | None = None,
    policy: NetworkPolicy | None = None,
    feed: str | None = None,
) -> Preview:
    """`preview`: the newest stories of the feeds (or the one at `url`), taken in and planned by
    the worker's own code for the platforms asked for, each by its feed's rules, with the checks
    a live run makes before sending. Templates are loaded first (each feed's own too): one that
    cannot fit is exit 2 before any fetch. `feed` (a name or URL): only that feed's stories, or
    the story at `url` by its rules."""
    now = time.time() if now is None else now
    names = preview_platforms(settings, platforms)
    composer = load_composer_for(settings, names)
    book = build_feed_book(settings, story_rules(settings, composer, _limits(names)))
    chosen = chosen_feed(book, feed)
    policy = policy or network_policy(settings)
    feed_errors: list[FeedError] = []
    if url:
        store = Store.open(settings.database_url)
        typed = make_http(settings, network_policy(settings, also_trust=(url,)))
        try:
            found = story_for_url(store.stories, typed, url, now, max_bytes=settings.max_feed_bytes)
        finally:
            typed.close()
            store.close()
        stories = [found if chosen is None else replace(found, feed_url=chosen.url)]
    else:
        fetcher = make_fetcher(settings, policy)
        urls = [chosen.url] if chosen is not None else book.urls
        try:
            stories, feed_errors = newest_stories(fetcher, urls, limit, now)
        finally:
            fetcher.close()
    http = make_http(settings, policy)
    checkers = build_publishers(replace(settings, platforms=tuple(names)), dry_run=True, http=http)
    try:
        limits = {name: checkers[name].limits for name in names}
        book = build_feed_book(settings, story_rules(settings, composer, limits))
        intake = Intake(http, policy, settings.http_timeout)
        rows = preview_rows(stories, book.rules, intake, checkers, now)
    finally:
        for checker in checkers.values():
            checker.close()
        http.close()
    return Preview(rows, feed_errors)
