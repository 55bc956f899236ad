"""The composition root: builds store, fetcher, composer, adapters and engine from Settings.

Nothing below this module reads the environment or picks an implementation by itself; tests build
the same objects with their own fakes (a clock, a local server URL) through the same function.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from bot import USER_AGENT
from bot.compose import Composer, load_composer
from bot.engine import Engine
from bot.errors import ConfigError
from bot.feeds.fetch import Fetcher
from bot.feeds.parse_pool import ParsePool
from bot.models import Platform
from bot.net import PolicyTransport
from bot.netpolicy import NetworkPolicy, Resolver, system_resolver
from bot.platforms import REGISTRY, build_publishers, limits_for, require_platforms
from bot.settings import Settings
from bot.status import poll_period
from bot.store import Store

log = logging.getLogger("bot")
NO_LINK_TEMPLATE = "twitter-nolink.txt"
"""X's template for X_LINK_MODE=none: the post without its URL, at X's lower price."""


@dataclass
class App:
    settings: Settings
    store: Store
    fetcher: Fetcher
    composer: Composer
    http: httpx.Client
    engine: Engine

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
    apis: list[str] = []
    if settings.twitter is not None:
        apis.append(settings.twitter.base_url)
    for group in (settings.facebook, settings.instagram):
        if group is not None:
            apis.append(group.graph_base_url)
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
    files: dict[str, str] = {}
    if settings.reach.spend.link_mode == "none" and Platform.TWITTER.value in names:
        files[Platform.TWITTER.value] = NO_LINK_TEMPLATE
    composer = load_composer(
        settings.template_dir,
        settings.handles_file,
        brand_handles=settings.handles,
        hashtag_caps=settings.hashtag_caps,
        platforms=names,
        limits={name: limits_for(name) for name in REGISTRY},  # the handles file may name any
        utm=settings.reach.utm,
        template_files=files,
        feed_mentions=settings.feed_mentions == "keep",
        feed_hashtags=settings.feed_hashtags == "keep",
    )
    for template in composer.templates.values():
        for warning in template.warnings:
            log.warning(warning)
    if files and "url" in composer.template(Platform.TWITTER.value).fields:
        raise ConfigError(
            f"X_LINK_MODE=none posts without the link, but {NO_LINK_TEMPLATE} in TEMPLATE_DIR "
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
    store = Store.open(settings.database_url, db_clock=db_clock)
    policy = policy or network_policy(settings)
    http = make_http(settings, policy)
    fetcher = make_fetcher(settings, policy)
    publishers = build_publishers(settings, dry_run=dry, http=http)
    engine = Engine(
        settings,
        store,
        fetcher,
        composer,
        publishers,
        http=http,
        clock=clock,
        poll_period=poll_period(settings),
        parser=ParsePool(workers=1),
        policy=policy,
    )
    return App(settings, store, fetcher, composer, http, engine)
