"""Wiring the web face to a process: `run` (worker, web face and WebSub in one process) and
`web` (the web face alone, for setups whose workers run elsewhere)."""

from __future__ import annotations

import logging
import signal
import time
from typing import TYPE_CHECKING

from bot.app import App
from bot.platforms import limits_for
from bot.wakeup import wake_workers
from bot.web.context import WebContext
from bot.web.server import BackgroundServer, make_server

if TYPE_CHECKING:
    from bot.scheduler import Worker

log = logging.getLogger("bot.web")


def context_for(app: App) -> WebContext:
    names = sorted(set(app.settings.platforms) | set(app.engine.publishers))
    limits = {name: app.engine.publishers[name].limits for name in app.engine.publishers}
    for name in names:
        limits.setdefault(name, limits_for(name))
    return WebContext(
        settings=app.settings,
        store=app.store,
        composer=app.composer,
        limits=limits,
        engine=app.engine,
        clock=app.engine.clock,
    )


def attach_websub(app: App, worker: Worker) -> None:
    """With PUBLIC_URL, the worker keeps the feeds' WebSub subscriptions after every tick; the
    callbacks are served by this process's web face or by a `web` process at PUBLIC_URL."""
    if not app.settings.web.public_url:
        return
    from bot.websub.subscriber import Subscriber

    subscriber = Subscriber(
        app.settings, app.store.websub, app.store.feeds, app.http, clock=app.engine.clock
    )
    worker.on_tick = subscriber.maintain


def run_served(app: App, worker: Worker) -> int:
    """The worker with the web face beside it (and WebSub when PUBLIC_URL is set)."""
    ctx = context_for(app)
    ctx.kick = worker.kick
    ctx.push = worker.push
    attach_websub(app, worker)
    server = BackgroundServer(make_server(ctx))
    server.start()
    try:
        return worker.run()
    finally:
        server.stop()


def serve_only(app: App, *, host: str | None = None, port: int | None = None) -> int:
    """`web`: the web face in the foreground until SIGTERM or Ctrl-C. Approvals and pushes are
    written to the store, then the workers (elsewhere) are woken through it to send them."""
    ctx = context_for(app)
    ctx.kick = lambda: wake_workers(app.store.platforms, time.time())
    server = make_server(ctx, host=host, port=port)
    config = server.config
    # uvicorn stops on SIGTERM/SIGINT, then raises the signal again for the handler it found:
    # ours notes it, so a requested stop exits 0 (a supervisor's "clean stop"), as `run` does.
    stopped: list[str] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stopped.append(signal.Signals(signum).name))
    log.info("web face listening", extra={"url": f"http://{config.host}:{config.port}/"})
    server.run()
    log.info("web face stopped", extra={"signal": stopped[0] if stopped else None})
    return 0
