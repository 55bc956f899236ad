"""Who may use the web face: login, the session cookie's flags, CSRF, throttling, headers,
the password rule beyond loopback, and no secret on any page or in any log line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import load_settings
from bot.settings_web import require_password
from tests.botenv import BASE_TIME, bot_env
from tests.conftest import FakeClock
from tests.webkit import PASSWORD, csrf_of, login, make_app, web_client

SECRETS = {
    "TWITTER_API_KEY": "tw-key-SECRET-1111",
    "TWITTER_API_SECRET": "tw-secret-SECRET-2222",
    "TWITTER_ACCESS_TOKEN": "tw-token-SECRET-3333",
    "TWITTER_ACCESS_TOKEN_SECRET": "tw-token-secret-SECRET-4444",
    "FACEBOOK_PAGE_ID": "104000000000001",
    "FACEBOOK_PAGE_ACCESS_TOKEN": "EAA-page-SECRET-5555",
    "METRICS_TOKEN": "metrics-SECRET-6666",
    "DATABASE_URL": "",  # set per test (a PostgreSQL-style URL with a password is shown masked)
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(BASE_TIME.timestamp())


def _cookie_header(answer) -> str:  # type: ignore[no-untyped-def]
    cookies = answer.headers.get_list("set-cookie")
    assert cookies, "no cookie set"
    return cookies[-1]


def test_pages_need_login_and_machine_endpoints_do_not(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock)
    try:
        with web_client(app) as (client, _ctx):
            for path in ("/", "/queue", "/settings", "/story/1"):
                answer = client.get(path, follow_redirects=False)
                assert answer.status_code == 303, path
                assert answer.headers["location"].startswith("/login?next=")
            assert client.get("/healthz").status_code in (200, 503)
            assert client.get("/metrics").status_code == 200
            refused = client.post("/deliveries/1/approve", data={}, follow_redirects=False)
            assert refused.status_code == 303  # to the login page, nothing changed
    finally:
        app.close()


def test_wrong_password_and_throttling(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock)
    try:
        with web_client(app) as (client, _ctx):
            csrf = csrf_of(client.get("/login").text)
            for _ in range(5):
                wrong = client.post("/login", data={"csrf": csrf, "password": "nope-nope"})
                assert wrong.status_code == 401 and "Wrong password" in wrong.text
            # The sixth try is refused without checking: even the right password.
            held = client.post("/login", data={"csrf": csrf, "password": PASSWORD})
            assert held.status_code == 429 and "Too many failed logins" in held.text
            clock.advance(901)  # the window has passed
            ok = client.post(
                "/login", data={"csrf": csrf, "password": PASSWORD}, follow_redirects=False
            )
            assert ok.status_code == 303
    finally:
        app.close()


def test_session_cookie_flags_and_a_new_session_at_login(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock)
    try:
        with web_client(app) as (client, _ctx):
            page = client.get("/login")
            before = _cookie_header(page)
            answer = client.post(
                "/login",
                data={"csrf": csrf_of(page.text), "password": PASSWORD},
                follow_redirects=False,
            )
            cookie = _cookie_header(answer)
            lowered = cookie.lower()
            assert "httponly" in lowered
            assert "samesite=strict" in lowered
            assert "secure" not in lowered.replace("samesite", "")  # plain http PUBLIC_URL-less
            assert cookie.split(";")[0] != before.split(";")[0]  # fixation: a new session
            assert PASSWORD not in cookie
    finally:
        app.close()


def test_cookie_is_secure_under_an_https_public_url(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock, PUBLIC_URL="https://bot.example.com")
    try:
        with web_client(app, base_url="https://bot.example.com") as (client, _ctx):
            page = client.get("/login")
            assert "; secure" in _cookie_header(page).lower()
            assert "max-age=31536000" in page.headers["strict-transport-security"]
    finally:
        app.close()


def test_csrf_token_is_required_on_every_form(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock, APPROVAL="twitter")
    try:
        app.engine.tick()
        delivery = app.store.review.list_deliveries(["pending_approval"])[0].row.id
        with web_client(app) as (client, _ctx):
            # Login itself: no token, or a token from another session.
            assert client.post("/login", data={"password": PASSWORD}).status_code == 403
            csrf = login(client)
            for data in ({}, {"csrf": "forged-token"}):
                refused = client.post(f"/deliveries/{delivery}/approve", data=data)
                assert refused.status_code == 403
                assert "CSRF" in refused.text
            assert app.store.deliveries.delivery(delivery).status == "pending_approval"
            assert client.post("/logout", data={}).status_code == 403
            ok = client.post(f"/deliveries/{delivery}/approve", data={"csrf": csrf})
            assert ok.status_code == 200
            assert app.store.deliveries.delivery(delivery).status == "queued"
            out = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
            assert out.status_code == 303
            client.cookies.clear()
            assert client.get("/queue", follow_redirects=False).status_code == 303
    finally:
        app.close()


def test_security_headers_and_a_csp_without_inline_script(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock)
    try:
        with web_client(app) as (client, _ctx):
            login(client)
            for path in ("/", "/queue", "/settings", "/login", "/healthz"):
                answer = client.get(path)
                csp = answer.headers["content-security-policy"]
                assert "script-src 'self'" in csp and "unsafe-inline" not in csp
                assert "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
                assert answer.headers["x-content-type-options"] == "nosniff"
                assert answer.headers["x-frame-options"] == "DENY"
                assert answer.headers["cache-control"] == "no-store"
                if answer.headers["content-type"].startswith("text/html"):
                    assert "<script>" not in answer.text  # only <script src=...>
                    assert " on" + "click=" not in answer.text
            js = client.get("/static/htmx.min.js")
            assert js.status_code == 200 and js.text.startswith("var htmx=")
    finally:
        app.close()


def test_open_redirect_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock)
    try:
        with web_client(app) as (client, _ctx):
            page = client.get("/login?next=//evil.example.com/")
            assert "//evil.example.com" not in page.text
            answer = client.post(
                "/login",
                data={"csrf": csrf_of(page.text), "password": PASSWORD, "next": "https://evil"},
                follow_redirects=False,
            )
            assert answer.headers["location"] == "/"
    finally:
        app.close()


def test_password_is_required_beyond_loopback(tmp_path: Path) -> None:
    url = (tmp_path / "f.xml").as_uri()
    (tmp_path / "f.xml").write_text("<rss/>")
    settings = load_settings(
        bot_env(tmp_path, FEED_URLS=url, WEB_HOST="0.0.0.0", WEB_PORT="8080"), tmp_path
    )
    with pytest.raises(ConfigError) as caught:
        require_password(settings.web)
    assert "WEB_PASSWORD" in str(caught.value) and "0.0.0.0" in str(caught.value)
    require_password(load_settings(bot_env(tmp_path, FEED_URLS=url, WEB_PORT="8080"), tmp_path).web)
    with pytest.raises(ConfigError, match="shorter than 8"):
        load_settings(bot_env(tmp_path, FEED_URLS=url, WEB_PASSWORD="short"), tmp_path)
    heroku = load_settings(bot_env(tmp_path, FEED_URLS=url, PORT="5123"), tmp_path)
    assert heroku.web.port == 5123
    both = load_settings(bot_env(tmp_path, FEED_URLS=url, PORT="5123", WEB_PORT="8081"), tmp_path)
    assert both.web.port == 8081 and not both.warnings  # both are settings
    with pytest.raises(ConfigError, match="PORT"):
        load_settings(bot_env(tmp_path, FEED_URLS=url, PORT="http"), tmp_path)


def test_no_secret_reaches_a_page_or_a_log_line(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    env = {k: v for k, v in SECRETS.items() if v}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'bot.db'}"
    env["HTTPS_PROXY"] = "http://proxyuser:proxy-SECRET-7777@127.0.0.1:3128"
    app = make_app(tmp_path, clock, APPROVAL="twitter", **env)
    secrets = [v for k, v in env.items() if "SECRET" in v] + ["proxy-SECRET-7777", PASSWORD]
    try:
        app.engine.tick()
        story = app.store.review.list_deliveries(["pending_approval"])[0].row.story_id
        with caplog.at_level(logging.DEBUG), web_client(app) as (client, _ctx):
            client.post("/login", data={"csrf": "x", "password": PASSWORD})
            login(client)
            pages = [client.get(p).text for p in ("/", "/queue", "/settings", f"/story/{story}")]
            pages.append(client.get("/metrics").text)
            pages.append(client.get("/healthz").text)
        for secret in secrets:
            for page in pages:
                assert secret not in page
            assert secret not in caplog.text
        assert "proxyuser:***@" in pages[2]
    finally:
        app.close()
