"""The commands that read and steer the store: status, resolve, queue, cancel, retry, pause,
resume, history. Registered on the command group by bot/cli.py; light at import like it.
"""

from __future__ import annotations

import time
from typing import Any

import click

from bot.cli_common import start as _start


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def status(as_json: bool) -> int:
    """Per platform and per feed: what was posted, what waits, what failed. Exit 1 when stale."""
    from bot.status import format_status, gather_status
    from bot.store import Store

    ctx = _start()
    store = Store.open(ctx.settings.database_url)
    try:
        info = gather_status(store, ctx.settings, time.time())
    finally:
        store.close()
    if as_json:
        ctx.json_line(info)
    else:
        ctx.out(format_status(info))
    return 0 if info["healthy"] else 1


def _steer(action: str, *args: Any, as_json: bool = False, **kwargs: Any) -> int:
    """Run one queue-control function against the store and show its outcome: JSON Lines on
    stdout with --json, else the readable lines."""
    from bot import queue_control
    from bot.store import Store

    ctx = _start()
    store = Store.open(ctx.settings.database_url)
    try:
        outcome = getattr(queue_control, action)(store, *args, now=time.time(), **kwargs)
    finally:
        store.close()
    for record in outcome.records if as_json else ():
        ctx.json_line(record)
    for line in outcome.lines if not as_json else ():
        ctx.out(line)
    return int(outcome.exit_code)


def _platform_name(value: str | None) -> str | None:
    from bot.queue_control import parse_platform

    return parse_platform(value) if value is not None else None


@click.command()
@click.option("--platform", default=None, help="Only this platform.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines on stdout, one per delivery.")
def queue(platform: str | None, as_json: bool) -> int:
    """What waits to be sent: queued, deferred, being sent, unconfirmed, needing attention."""
    return _steer("show_queue", platform=_platform_name(platform), as_json=as_json)


@click.command()
@click.argument("target", metavar="URL|ID")
@click.option("--platform", default=None, help="Only the delivery on this platform.")
def cancel(target: str, platform: str | None) -> int:
    """Make sure a delivery (by id) or a story (by URL) is never sent; exit 1 if one may be."""
    return _steer("cancel", target, platform=_platform_name(platform))


@click.command()
@click.argument("delivery_id", metavar="ID")
def retry(delivery_id: str) -> int:
    """Queue a failed or cancelled delivery again (a deferred one: due now)."""
    return _steer("retry", delivery_id)


@click.command()
@click.argument("platform")
def pause(platform: str) -> int:
    """Send nothing on PLATFORM until `resume` (kept in the store, shown in `status`)."""
    return _steer("pause", _platform_name(platform))


@click.command()
@click.argument("platform")
def resume(platform: str) -> int:
    """Lift a pause of PLATFORM, by hand or for refused credentials."""
    return _steer("resume", _platform_name(platform))


@click.command()
@click.option("--platform", default=None, help="Only this platform.")
@click.option("--limit", default=20, show_default=True, help="How many of the newest posts.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines on stdout, one per post.")
def history(platform: str | None, limit: int, as_json: bool) -> int:
    """What went out, newest first: time, platform, title and the link to the live post."""
    return _steer("history", platform=_platform_name(platform), limit=limit, as_json=as_json)


@click.command()
@click.argument("delivery_id", type=int)
@click.option(
    "--published",
    "published_url",
    metavar="URL",
    default=None,
    help="It is on the account: record it as published at URL (nothing is sent).",
)
@click.option(
    "--not-published",
    "not_published",
    is_flag=True,
    help="It is not on the account: queue it again (the next cycle sends it).",
)
def resolve(delivery_id: int, published_url: str | None, not_published: bool) -> int:
    """Settle a delivery the bot could not confirm (`status` lists them): after checking the
    account by hand, say whether the post is there."""
    if (published_url is None) == (not not_published):
        raise click.UsageError("give exactly one of --published URL or --not-published")
    from bot.resolve import resolve_delivery
    from bot.store import Store

    ctx = _start()
    store = Store.open(ctx.settings.database_url)
    try:
        done = resolve_delivery(store.deliveries, delivery_id, published_url=published_url)
    finally:
        store.close()
    ctx.out(done.line())
    return 0


COMMANDS = (status, resolve, queue, cancel, retry, pause, resume, history)
