"""The demo as a newcomer meets it: readable posts, no network request at all, a first line that
says what runs."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import __version__
from bot.settings import PROJECT_ROOT
from tests.botenv import bot_env, run_main
from tests.test_worker import Proc

DEMO_FEEDS = PROJECT_ROOT / "config" / "demo-feeds.toml"


class Listener:
    """A TCP port that counts the connections made to it (standing in for a proxy, or any host)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.connections = 0
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def proxy() -> Iterator[Listener]:
    listener = Listener()
    try:
        yield listener
    finally:
        listener.close()


def demo_env(tmp: Path, proxy: Listener) -> dict[str, str]:
    """No settings at all (the demo), and every request routed to the counting port."""
    env = {k: v for k, v in bot_env(tmp).items() if k in ("PATH", "HOME")}
    return {**env, "HTTP_PROXY": proxy.url, "HTTPS_PROXY": proxy.url, "ALL_PROXY": proxy.url}


def test_demo_poll_makes_no_network_request_and_says_what_it_skipped(
    tmp_path: Path, proxy: Listener
) -> None:
    result = run_main(["poll"], demo_env(tmp_path, proxy), tmp_path)
    assert result.returncode == 0, result.stderr
    # One sample story has no image: its article page would be fetched for an og:image.
    skipped = [line for line in result.stderr.splitlines() if "no og:image" in line]
    assert len(skipped) == 1 and "skipped: the demo makes no network request" in skipped[0]
    assert "nothing is fetched from the network" in result.stderr
    assert proxy.connections == 0
    assert "KP Chair Asks NGOs to Reconsider Boycott" in result.stdout


def test_demo_preview_makes_no_network_request(tmp_path: Path, proxy: Listener) -> None:
    result = run_main(["preview", "--limit", "6"], demo_env(tmp_path, proxy), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "== instagram ==" in result.stdout
    assert proxy.connections == 0


def test_demo_run_prints_posts_as_readable_blocks_and_names_what_it_runs(
    tmp_path: Path, proxy: Listener
) -> None:
    proc = Proc(["run"], demo_env(tmp_path, proxy), tmp_path)
    try:
        assert proc.wait_for(lambda ls: sum("dry run: would post" in x for x in ls) >= 12)
    finally:
        code, _ = proc.stop()
    assert code == 0
    first = proc.lines[0].split(" INFO ", 1)[1].strip()
    assert first.startswith(
        f"DEMO MODE: feedbot {__version__} starting: platforms twitter, facebook, instagram; "
        "DRY RUN: nothing is posted; 1 feed; store sqlite:///"
    )
    assert first.endswith("; polls every 10m; feeds file " + str(DEMO_FEEDS) + "; the demo")
    assert proc.p.stdout is not None
    out = proc.p.stdout.read().splitlines()
    # A block per post: a header, then the post's own lines (not one log line with \n escapes).
    headers = [i for i, line in enumerate(out) if line.startswith("[facebook] dry_run dry-run-")]
    assert len(headers) == 6
    blocks = [out[i + 1 : i + 4] for i in headers]
    assert blocks[-1][:2] == ["  KP Chair Asks NGOs to Reconsider Boycott", "  "]
    assert not any("\\n" in line for line in out)
    assert proxy.connections == 0
