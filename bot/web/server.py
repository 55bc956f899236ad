"""Serving the web face with uvicorn: in the foreground (`web`) or beside the worker (`run`)."""

from __future__ import annotations

import logging
import threading

import uvicorn

from bot.settings_web import WebSettings, require_password
from bot.web.app import create_app
from bot.web.context import WebContext

log = logging.getLogger("bot.web")


def make_server(
    ctx: WebContext, *, host: str | None = None, port: int | None = None
) -> uvicorn.Server:
    """A uvicorn server for the web face; refuses (ConfigError, exit 2) to listen beyond
    loopback without WEB_PASSWORD."""
    web: WebSettings = ctx.settings.web
    host = host or web.host
    require_password(web, host)
    config = uvicorn.Config(
        create_app(ctx),
        host=host,
        port=port if port is not None else (web.port or 8080),
        log_config=None,  # our logging: one line per event, secrets masked
        access_log=False,
        server_header=False,
        proxy_headers=True,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


class BackgroundServer:
    """The web face on a thread beside the worker: started before it, stopped after it."""

    def __init__(self, server: uvicorn.Server) -> None:
        self.server = server
        self.thread = threading.Thread(target=self._serve, name="web", daemon=True)
        self.failed: BaseException | None = None

    def _serve(self) -> None:
        try:
            self.server.run()
        except BaseException as exc:
            self.failed = exc

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        waited = 0.0
        while not self.server.started and self.thread.is_alive() and waited < timeout:
            self.thread.join(0.05)
            waited += 0.05
        if not self.server.started:
            config = self.server.config
            raise OSError(
                f"the web face could not listen on {config.host}:{config.port} "
                "(is the port in use? set WEB_PORT to a free one)"
            )
        config = self.server.config
        log.info("web face listening", extra={"url": f"http://{config.host}:{config.port}/"})

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=8)
