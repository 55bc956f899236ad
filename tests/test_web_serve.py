"""Serving as a person starts it: `web` alone, `run` with WEB_PORT, and the refusals at start
(beyond loopback without WEB_PASSWORD, a port in use): exit 2, one line, no traceback."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx

from tests.botenv import Item, bot_env, run_main, write_feed
from tests.test_web_browser import free_port
from tests.test_worker import Proc
from tests.webkit import PASSWORD, csrf_of


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    feed = write_feed(tmp / "feed.xml", [Item(1)])
    return bot_env(tmp, FEED_URLS=feed, DRY_RUN="true", PLATFORMS="twitter", **extra)


def test_web_alone_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    proc = Proc(["web", "--port", str(port)], _env(tmp_path, WEB_PASSWORD=PASSWORD), tmp_path)
    try:
        assert proc.wait_for(lambda ls: any("web face listening" in x for x in ls), 30), "".join(
            proc.lines
        )
        base = f"http://127.0.0.1:{port}"
        # The line is logged just before uvicorn binds: wait (bounded) for the socket itself.
        deadline = time.monotonic() + 10
        while True:
            try:
                first = httpx.get(f"{base}/login")
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert first.status_code == 200
        assert httpx.get(f"{base}/queue").status_code == 303  # login first
        health = httpx.get(f"{base}/healthz")
        assert health.status_code == 503  # no worker has polled
        assert health.json()["last_poll_at"] is None
    finally:
        code, elapsed = proc.stop()
    assert code == 0 and elapsed < 10
    assert PASSWORD not in "".join(proc.lines)


def test_beyond_loopback_without_a_password_stops_at_start(tmp_path: Path) -> None:
    env = _env(tmp_path, WEB_HOST="0.0.0.0", WEB_PORT=str(free_port()))
    for command in (["run"], ["web"]):
        result = run_main(command, env, tmp_path, timeout=60)
        assert result.returncode == 2, result.stderr
        assert "WEB_HOST=0.0.0.0 listens beyond this machine but WEB_PASSWORD is not set" in (
            result.stderr
        )
        assert "Traceback" not in result.stderr


def test_a_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command in (["run"], ["web"]):
            result = run_main(command, _env(tmp_path, WEB_PORT=str(port)), tmp_path, timeout=60)
            assert result.returncode == 2, result.stderr
            assert f"the web face cannot listen on 127.0.0.1:{port}" in result.stderr
            assert "choose a free port with WEB_PORT" in result.stderr
            assert "Traceback" not in result.stderr


def _wait_served(base: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(f"{base}/healthz")
            return
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _log_in(base: str, client_address: str, password: str) -> int:
    """One login from `client_address`, as a reverse proxy would forward it."""
    forwarded = {"X-Forwarded-For": client_address}
    with httpx.Client(base_url=base, headers=forwarded) as client:
        csrf = csrf_of(client.get("/login").text)
        answer = client.post("/login", data={"csrf": csrf, "password": password})
        return answer.status_code


def _throttled_apart(tmp: Path, **extra: str) -> bool:
    """Five wrong passwords from one client behind the proxy: may another client log in?"""
    tmp.mkdir()
    port = free_port()
    env = _env(tmp, WEB_PASSWORD=PASSWORD, **extra)
    proc = Proc(["web", "--port", str(port)], env, tmp)
    try:
        assert proc.wait_for(lambda ls: any("web face listening" in x for x in ls), 30)
        base = f"http://127.0.0.1:{port}"
        _wait_served(base)
        for _ in range(5):
            assert _log_in(base, "203.0.113.5", "wrong-password") == 401
        assert _log_in(base, "203.0.113.5", PASSWORD) == 429
        return _log_in(base, "198.51.100.7", PASSWORD) in (200, 303)
    finally:
        proc.stop()


def test_the_login_throttle_counts_each_client_behind_a_trusted_proxy(tmp_path: Path) -> None:
    # The proxy (here: this test, on loopback) is trusted by default: each client apart.
    assert _throttled_apart(tmp_path / "default")
    # A proxy that is not listed: its X-Forwarded-For is not believed, all share one bucket.
    assert not _throttled_apart(tmp_path / "other", FORWARDED_ALLOW_IPS="10.0.0.5")
    assert _throttled_apart(tmp_path / "listed", FORWARDED_ALLOW_IPS="10.0.0.5, 127.0.0.0/8")


def test_forwarded_allow_ips_names_a_bad_entry(tmp_path: Path) -> None:
    done = run_main(["status"], _env(tmp_path, FORWARDED_ALLOW_IPS="10.0.0.5,proxy.lan"), tmp_path)
    assert done.returncode == 2
    assert "FORWARDED_ALLOW_IPS: 'proxy.lan' is not an IP address" in done.stderr
    assert "Traceback" not in done.stderr
