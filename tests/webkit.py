"""Helpers for web face tests: an App over a feed file, its web context, a signed-in client."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2; httpx is what we pin
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from bot.app import App, build_app
from bot.settings import load_settings
from bot.web.app import create_app
from bot.web.context import WebContext
from bot.web.service import context_for
from tests.botenv import Item, bot_env, write_feed
from tests.conftest import FakeClock

PASSWORD = "correct horse battery staple"


def make_app(tmp: Path, clock: FakeClock, items: int = 2, **env: str) -> App:
    url = write_feed(tmp / "feed.xml", [Item(n) for n in range(1, items + 1)])
    values = bot_env(
        tmp,
        FEED_URLS=url,
        DRY_RUN="true",
        PLATFORMS="twitter,facebook,instagram",
        WEB_PASSWORD=PASSWORD,
    )
    values.update(env)
    return build_app(load_settings(values, tmp), clock=clock)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login(client: TestClient, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the CSRF token of the signed-in session."""
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "password": password, "next": "/queue"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/queue").text)


@contextmanager
def web_client(
    app: App, base_url: str = "http://127.0.0.1"
) -> Iterator[tuple[TestClient, WebContext]]:
    ctx = context_for(app)
    with TestClient(create_app(ctx), base_url=base_url) as client:
        yield client, ctx
