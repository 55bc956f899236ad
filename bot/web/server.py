"""Serving the web face with uvicorn: in the foreground (`web`) or beside the worker (`run`)."""

from __future__ import annotations

import logging
import socket
import threading

import uvicorn

from bot.errors import ConfigError
from bot.settings_web import WebSettings, require_password
from bot.web.app import create_app
from bot.web.context import WebContext

log = logging.getLogger("bot.web")
DEFAULT_PORT = 8080
"""`web` without WEB_PORT, PORT or --port."""


class WebServer(uvicorn.Server):
    """uvicorn's server on a socket bound before it starts, so a port in use is one clear
    message at start (exit 2) instead of uvicorn's exit from deep inside its loop."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket) -> None:
        super().__init__(config)
        self.sock = sock

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        super().run(sockets=sockets or [self.sock])


def bind(host: str, port: int, variable: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listening now, not when uvicorn's loop starts: a client (a health check, a hub)
        # that connects once "web face listening" is logged waits in the backlog instead of
        # being refused.
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"the web face cannot listen on {host}:{port} ({exc.strerror or exc}); "
            f"choose a free port with {variable}, or stop what uses it",
            variable,
        ) from None
    sock.set_inheritable(True)
    return sock


def make_server(ctx: WebContext, *, host: str | None = None, port: int | None = None) -> WebServer:
    """A uvicorn server for the web face on a bound socket; refuses (ConfigError, exit 2) to
    listen beyond loopback without WEB_PASSWORD, or on a port in use."""
    web: WebSettings = ctx.settings.web
    host = host or web.host
    require_password(web, host)
    port = port if port is not None else (web.port or DEFAULT_PORT)
    sock = bind(host, port, web.port_variable if web.port else "WEB_PORT")
    config = uvicorn.Config(
        create_app(ctx),
        host=host,
        port=port,
        log_config=None,  # our logging: one line per event, secrets masked
        access_log=False,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=list(web.trusted_proxies),
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    return WebServer(config, sock)


class BackgroundServer:
    """The web face on a thread beside the worker: started before it, stopped after it."""

    def __init__(self, server: WebServer) -> None:
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
            raise ConfigError(
                f"the web face did not start on {config.host}:{config.port}"
                + (f" ({self.failed!r})" if self.failed else "")
                + "; see the lines above",
                "WEB_PORT",
            )
        config = self.server.config
        log.info("web face listening", extra={"url": f"http://{config.host}:{config.port}/"})

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=8)
