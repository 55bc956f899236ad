"""`check`: each configured platform's credentials verified with one cheap call, with what they
allow and when they expire. Registered on the command group by bot/cli.py; light at import.

It uses the store's platform state when the store opens (a kept log-in, a token's first use),
and goes on without it when it does not: `check` is about the platforms.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import click

from bot.cli_common import start as _start
from bot.errors import ConfigError
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger("bot")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="JSON Lines on stdout, one per platform.")
def check(as_json: bool) -> int:
    """Verify each configured platform's credentials with one cheap call."""
    from bot.app import make_http
    from bot.checks import check_publisher, format_row
    from bot.publishers import build_publishers

    ctx = _start(dry_run=False)
    if not ctx.settings.platforms:
        ctx.err("no platform is configured: set the credentials of at least one (see .env.example)")
        return 1
    ok = True
    tokens = []
    with contextlib.ExitStack() as opened:  # closed in reverse: publishers, http, the store
        store = _store_for_check(ctx.settings)
        if store is not None:
            opened.callback(store.close)
        http = make_http(ctx.settings)
        opened.callback(http.close)
        # The store's platform state: a kept log-in is reused (some networks allow only so many
        # a day), and a token's first use is remembered (an expiry counted from it).
        state = store.platforms if store is not None else None
        publishers = build_publishers(ctx.settings, dry_run=False, http=http, state=state)
        for publisher in publishers.values():
            opened.callback(publisher.close)
        for name, publisher in publishers.items():
            row, token = check_publisher(name, publisher, ctx.settings, time.time())
            ok = ok and row["ok"]
            tokens += [token] if token is not None else []
            if as_json:
                ctx.json_line(row)
            else:
                for line in format_row(row):
                    ctx.out(line)
        if tokens and ctx.settings.notify_urls and store is not None:
            _notify_expiry(ctx.settings, store, tokens)
    return 0 if ok else 1


def _store_for_check(settings: Settings) -> Store | None:
    """The store, or None (with a warning) when it cannot be opened: `check` is about the
    platforms and goes on without it."""
    from bot.store import Store

    try:
        return Store.open(settings.database_url)
    except ConfigError as exc:
        log.warning(
            f"the store cannot be opened, so token dates are not kept and expiry is not "
            f"notified: {exc}"
        )
        return None


def _notify_expiry(settings: Settings, store: Store, tokens: list[Any]) -> None:
    """A token ending within 14 days is notified (once: the store remembers)."""
    from bot.notify import Notifier, notify_expiry

    notifier = Notifier.from_settings(settings, store, time.time)
    if notifier is not None:
        notify_expiry(notifier, tokens, time.time())
