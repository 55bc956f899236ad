"""What every command shares: settings and logging at start, and the way results are printed.

Light like bot/cli.py: click, the settings, logging; everything heavy is imported per command.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from bot.logs import Redactor, configure_logging
from bot.platforms import registry
from bot.settings import Settings, load_settings

if TYPE_CHECKING:
    from bot.delivery import DeliveryReport

log = logging.getLogger("bot")
PLATFORM_CHOICE = click.Choice(registry.names(), case_sensitive=False)


class Context:
    """Per-invocation state: the settings and the redactor every printed line goes through."""

    def __init__(self, settings: Settings, redact: Redactor) -> None:
        self.settings = settings
        self.redact = redact

    def out(self, text: str) -> None:
        click.echo(self.redact(text))

    def err(self, text: str) -> None:
        click.echo(self.redact(text), err=True)

    def json_line(self, obj: Any) -> None:
        click.echo(self.redact(json.dumps(obj, ensure_ascii=False, default=str)))


def start(dry_run: bool | None = None, *, first_line: bool = False) -> Context:
    """Settings and logging for a command. With `first_line` (the worker) the very first log line
    tells what the bot runs with; the demo notice and any doubtful setting follow."""
    click_ctx = click.get_current_context(silent=True)
    options = click_ctx.find_root().params if click_ctx else {}
    settings = load_settings(dry_run=dry_run or None, env_file=options.get("env_file"))
    redact = configure_logging(settings.log_level, settings.log_format, settings.secrets())
    if settings.demo:
        import atexit

        from bot.envfile import remove_demo_store

        atexit.register(remove_demo_store, settings.database_url)
    if first_line:
        from bot.startline import start_line

        message, fields = start_line(settings)
        extra = fields if settings.log_format == "json" else None  # text: the message says it
        log.info(f"DEMO MODE: {message}" if settings.demo else message, extra=extra)
    if settings.demo:
        log.warning(
            "DEMO MODE: no .env found and neither FEED_URLS nor FEEDS_FILE is set, so the "
            "bundled sample feed (config/demo-feeds.toml, config/sample-feed.xml) is used in "
            "dry run: nothing is posted, nothing is fetched "
            "from the network (article pages for a missing og:image are skipped; a dry run "
            "checks no image) and nothing is kept (a temporary store). To go live: "
            "cp .env.example .env, set FEED_URLS and your platform credentials, set DRY_RUN=false"
        )
    for warning in settings.warnings:
        log.warning(warning)
    if len(settings.sources) > 1:  # how the env file was found, when nobody named it
        log.info(settings.sources[-1])
    return Context(settings, redact)


def print_reports(ctx: Context, reports: Sequence[DeliveryReport], as_json: bool) -> None:
    """The command's result: JSON Lines, or readable lines, on stdout (logs stay on stderr)."""
    for r in reports:
        if as_json:
            ctx.json_line(r.as_dict())
            continue
        where = r.remote_url or r.remote_id or ""
        head = f"[{r.platform}] {r.status}" + (f" {where}" if where else "")
        if r.error:
            head += f" ({r.error})"
        if r.next_attempt_at:
            head += (
                f" next attempt {datetime.fromtimestamp(r.next_attempt_at, UTC):%Y-%m-%d %H:%M:%SZ}"
            )
        ctx.out(head)
        if r.note:
            ctx.out(f"  ({r.note})")
        ctx.out("  " + r.text.replace("\n", "\n  "))
        if r.link:
            ctx.out(f"  link: {r.link}")
        if r.image_url:
            ctx.out(f"  image: {r.image_url}")


def per_platform_texts(command: Any) -> Any:
    """`--text-NAME` for every platform there is, so a platform added later gets its own."""
    for name in reversed(registry.names()):
        command = click.option(
            f"--text-{name}",
            f"text_{name}",
            default=None,
            metavar="TEXT",
            help=f"The text for {name} only, instead of --text.",
        )(command)
    return command
