"""Command line: `python main.py COMMAND`. Settings are read here, once, and passed down.

Exit codes: 0 success, 1 a feed or a delivery failed for good (or, for `check`/`status`, something
is unhealthy), 2 bad configuration or usage. With --json, stdout carries only JSON; logs and
human-readable text go to stderr.

Imports are per command, inside the command's function: `--help` and `status` must answer in a few
tenths of a second, and the platforms' client libraries, SQLAlchemy, aiohttp, httpx and feedparser
take most of a second to import. Only light modules (click, the settings, the platform registry,
logging, models and errors) belong at the top of this file; tests/test_cli_imports.py fails when
a heavy one is imported with it.
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot import __version__, cli_check, cli_store
from bot.cli_common import PLATFORM_CHOICE, per_platform_texts
from bot.cli_common import print_reports as _print_reports
from bot.cli_common import start as _start
from bot.errors import BotError, ConfigError, FeedError
from bot.platforms import registry
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.app import App
    from bot.progress import LiveLine

log = logging.getLogger("bot")


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    help=f"""Turn a newsroom's feed into posts on {registry.labels()}, once per story.

    Configure with environment variables or a .env file (see .env.example). With no .env and no
    FEED_URLS, the bundled demo runs in dry run.
    """,
)
@click.version_option(__version__, prog_name="feedbot")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=True, path_type=Path),
    default=None,
    metavar="PATH",
    help="Read the settings from this file instead of ./.env (relative paths in it resolve "
    "against its folder; the process environment still wins).",
)
def cli(env_file: Path | None) -> None:
    """The command group; its help names the platforms the registry found."""


@cli.command()
def run() -> int:
    """Run the background worker: poll at start, then on POLL_INTERVAL or POLL_CRON."""
    from bot.notify import Notifier
    from bot.scheduler import Worker

    ctx = _start(first_line=True)
    app = _app(ctx.settings)
    blocks = ctx.settings.demo or (ctx.settings.dry_run and sys.stdout.isatty())
    try:
        notifier = Notifier.from_settings(ctx.settings, app.store, time.time)
        worker = Worker(
            app.engine,
            ctx.settings,
            # What a dry run would post, as readable blocks on stdout (the log has one line each).
            on_report=(lambda report: _print_reports(ctx, report.deliveries, False))
            if blocks
            else None,
            notifier=notifier,
        )
        if ctx.settings.web.port:  # WEB_PORT or Heroku's PORT: the web face too
            from bot.web.service import run_served

            return run_served(app, worker)
        if ctx.settings.web.public_url:
            from bot.web.service import attach_websub

            attach_websub(app, worker)
        return worker.run()
    finally:
        app.close()


@cli.command()
@click.option("--host", default=None, help="Listen here instead of WEB_HOST.")
@click.option("--port", type=int, default=None, help="Listen here instead of WEB_PORT/PORT.")
def web(host: str | None, port: int | None) -> int:
    """Serve the web face alone (workers run elsewhere, sharing DATABASE_URL)."""
    from bot.web.service import serve_only

    ctx = _start()
    app = _app(ctx.settings)
    try:
        return serve_only(app, host=host, port=port)
    finally:
        app.close()


def _review(delivery_id: int, approve: bool) -> int:
    """approve/reject: one conditional change of a delivery waiting for approval."""
    from bot.store import Store

    ctx = _start()
    store = Store.open(ctx.settings.database_url)
    try:
        now = time.time()
        found = store.review.find_listed(delivery_id)
        if found is None:
            ctx.err(f"no delivery {delivery_id}; see the ids in the web face's queue or `status`")
            return 1
        done = (
            store.review.approve_delivery(delivery_id, now, by="command line")
            if approve
            else store.review.reject_delivery(delivery_id, now, by="command line")
        )
        if done and approve:
            from bot.wakeup import wake_workers

            wake_workers(store.platforms, now)
    finally:
        store.close()
    where = f"delivery {delivery_id} ({found.row.platform}: {found.title})"
    if not done:
        ctx.err(f"{where} does not wait for approval (it is {found.row.status}); nothing changed")
        return 1
    ctx.out(
        f"{where} approved: it is queued and a running worker sends it within seconds"
        if approve
        else f"{where} rejected: it will not be posted"
    )
    return 0


@cli.command()
@click.argument("delivery_id", metavar="ID", type=int)
def approve(delivery_id: int) -> int:
    """Approve a post waiting for approval (APPROVAL): it is queued to go out."""
    return _review(delivery_id, approve=True)


@cli.command()
@click.argument("delivery_id", metavar="ID", type=int)
def reject(delivery_id: int) -> int:
    """Reject a post waiting for approval (APPROVAL): it is never posted."""
    return _review(delivery_id, approve=False)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Publish nothing; report what would be posted.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines on stdout, one per delivery.")
def poll(dry_run: bool, as_json: bool) -> int:
    """Run one cycle now (poll every feed, queue what is new, publish what is due), then exit."""
    from bot.notify import Notifier, after_cycle

    ctx = _start(dry_run=dry_run or None)
    app = _app(ctx.settings, dry_run=dry_run or None)
    live = _live_line(app) if not as_json and sys.stdout.isatty() else None
    try:
        notifier = Notifier.from_settings(ctx.settings, app.store, time.time)
        report = app.engine.tick(force=True)
        after_cycle(notifier, ctx.settings, app.store, app.engine.publishers, time.time())
    finally:
        if live is not None:
            live.finish()
        app.close()
    _print_reports(ctx, report.deliveries, as_json)
    for feed in report.feeds:
        if feed.error:
            ctx.err(f"feed {feed.url}: {feed.status}: {feed.error}")
    if not as_json:
        sent = sum(1 for d in report.deliveries if d.status in ("published", "dry_run"))
        ctx.err(f"{len(report.feeds)} feed(s) polled, {sent} post(s) made")
    return 1 if report.failed else 0


def _live_line(app: App) -> LiveLine:
    """`poll` on a terminal: counts drawn in place as feeds arrive, log lines kept above them."""
    from bot.progress import LiveLine, log_above

    line = LiveLine(sys.stdout)
    for handler in logging.getLogger().handlers:
        stream = getattr(handler, "stream", None)
        if isinstance(handler, logging.StreamHandler) and getattr(stream, "isatty", bool)():
            handler.setStream(log_above(line, stream))  # the same screen: lines go above
    app.engine.progress = app.engine.deliverer.progress = line
    return line


@cli.command()
@click.argument("url", required=False)
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    type=PLATFORM_CHOICE,
    help="Only this platform (repeatable); default: every configured one.",
)
@click.option(
    "--text",
    default=None,
    help="With URL: this text instead of the composed one. Without: the announcement's text.",
)
@per_platform_texts
@click.option("--image", default=None, metavar="PATH|URL", help="Attach this picture.")
@click.option("--alt", default=None, metavar="TEXT", help="The picture's description.")
@click.option(
    "--at",
    "at_text",
    default=None,
    metavar="TIME",
    help="Schedule instead of posting now: '2026-12-06 09:00' (TIMEZONE), ISO 8601, or '+2h'.",
)
@click.option(
    "--id",
    "post_id",
    default=None,
    metavar="NAME",
    help="Name this announcement (default: a hash of its texts, picture and platforms).",
)
@click.option(
    "--feed",
    "feed",
    default=None,
    metavar="NAME",
    help="Post the story by this feed's rules (its name in FEEDS_FILE, or its URL).",
)
@click.option(
    "--allow-mentions",
    is_flag=True,
    help="Keep the text's @mentions, #tags and $CASHTAGS live (default: inert, as in feed text).",
)
@click.option("--dry-run", is_flag=True, help="Compose and show; send nothing, record nothing.")
@click.option("--force", is_flag=True, help="Post again even where it was already published.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines on stdout, one per platform.")
def post(
    url: str | None,
    platforms: tuple[str, ...],
    text: str | None,
    image: str | None,
    alt: str | None,
    at_text: str | None,
    post_id: str | None,
    feed: str | None,
    allow_mentions: bool,
    dry_run: bool,
    force: bool,
    as_json: bool,
    **texts: str | None,
) -> int:
    """Post the story at URL now (from the store if known, else from the article page), or,
    without URL, an announcement (--text). Run twice, it posts once; --at schedules it."""
    from bot.manual import ManualRequest, manual_post
    from bot.post_time import parse_at

    own = {name[len("text_") :]: value for name, value in texts.items() if value is not None}
    if url is None and text is None and not own:
        raise click.UsageError("give a story URL, or an announcement's text with --text")
    if url is not None and post_id is not None:
        raise click.UsageError("--id names an announcement; a story is known by its URL")
    ctx = _start(dry_run=dry_run or None)
    at = parse_at(at_text, time.time(), ctx.settings.tz) if at_text is not None else None
    app = _app(ctx.settings, dry_run=dry_run or None)
    try:
        result = manual_post(
            app,
            ManualRequest(
                url=url,
                text=text,
                texts=own,
                platforms=[p.lower() for p in platforms],
                image=image,
                alt=alt,
                at=at,
                post_id=post_id,
                force=force,
                dry_run=dry_run or ctx.settings.dry_run,
                feed=feed,
                allow_mentions=allow_mentions,
            ),
        )
    finally:
        app.close()
    _print_reports(ctx, result.reports, as_json)
    return result.exit_code


@cli.command()
@click.argument("url", required=False)
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    type=PLATFORM_CHOICE,
    help="Only this platform (repeatable).",
)
@click.option("--limit", default=3, show_default=True, help="How many of the newest stories.")
@click.option(
    "--feed", default=None, metavar="NAME", help="Only this feed's stories, or URL by its rules."
)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines on stdout.")
def preview(
    url: str | None, platforms: tuple[str, ...], limit: int, feed: str | None, as_json: bool
) -> int:
    """Show the posts that would be made, publishing and marking nothing; exit 1 if a feed fails."""
    from bot.app import preview_posts

    ctx = _start()
    shown = preview_posts(
        ctx.settings, url=url, platforms=[p.lower() for p in platforms], limit=limit, feed=feed
    )
    for row in shown.rows:
        if as_json:
            ctx.json_line(row)
            continue
        ctx.out(f"== {row['platform']} == {row['title']}")
        ctx.out(row["text"])
        ctx.out(
            f"-- length {row['length']}/{row['limit']}" + (" (weighted)" if row["weighted"] else "")
        )
        if row["link"]:
            ctx.out(f"-- link: {row['link']}")
        ctx.out(f"-- image: {row['image_url'] or 'none'}")
        for warning in row["warnings"]:
            ctx.out(f"-- warning: {warning}")
        ctx.out("")
    for error in shown.feed_errors:
        ctx.err(f"feed {error.url} could not be read: {error.reason} (check it in FEED_URLS)")
    return 1 if shown.feed_errors else 0


for _command in (*cli_store.COMMANDS, cli_check.check):
    cli.add_command(_command)


def _app(settings: Settings, **options: Any) -> App:
    """The app, then the garbage collector back on (main() pauses it while a command imports).
    What exists now (modules, settings, the app) lives as long as the command: frozen, the
    collector never walks it again (the first collection after a pause would: about 25 ms).
    The CA bundle loads on another core meanwhile (bot.tls)."""
    from bot.tls import preload_tls_context

    preload_tls_context()
    from bot.app import build_app

    app = build_app(settings, **options)
    gc.freeze()
    gc.enable()
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and map every outcome to the documented exit codes."""
    # A command's imports create a few hundred thousand objects that live as long as the
    # process, and the collector would walk them again and again while they arrive (about 55 ms
    # of a 0.5 s `poll`): it is off until the command's app is built, or the command ends.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    finally:
        gc.unfreeze()  # a caller in the same process (a test) gets its collector as it was
        if collecting:
            gc.enable()


def _main(args: list[str]) -> int:
    try:
        result = cli.main(args=args, prog_name="main.py", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2 if isinstance(exc, click.UsageError) else exc.exit_code
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        log.debug("the error in full (LOG_LEVEL=debug)", exc_info=True)
        return 2
    except (FeedError, BotError) as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    return result if isinstance(result, int) else 0
