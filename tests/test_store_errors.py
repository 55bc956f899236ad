"""A store that cannot be opened: one line naming DATABASE_URL or the folder and the fix, exit 2,
for every command; no traceback unless LOG_LEVEL=debug; the password is never shown."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from bot.settings_values import masked_url, url_password
from tests.botenv import bot_env, run_main, write_feed

PASSWORD = "s3cr3t-Pa55word"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(tmp: Path, database_url: str, **extra: str) -> dict[str, str]:
    feed = write_feed(tmp / "feed.xml", [])
    return bot_env(tmp, FEED_URLS=feed, DATABASE_URL=database_url, DRY_RUN="true",
                   PLATFORMS="twitter", **extra)  # fmt: skip


def run_unprivileged(
    args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """As root, file modes do not bind: drop the override capabilities (as an ordinary user)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("running as root needs setpriv (util-linux) to test file permissions")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]
    return subprocess.run(
        [*prefix, sys.executable, str(PROJECT_ROOT / "main.py"), *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def assert_one_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    # The worker's first line (what it runs with) comes before; the failure is one line.
    lines = [x for x in result.stderr.splitlines() if not re.search(r"feedbot \S+ starting: ", x)]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert PASSWORD not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_postgres_down_every_command_exits_2_with_one_masked_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://feedbot:{PASSWORD}@127.0.0.1:{port}/feedbot"
    env = env_for(tmp_path, url)
    for args in (["status"], ["status", "--json"], ["poll"], ["run"],
                 ["post", "https://news.example.com/a/"]):  # fmt: skip
        line = assert_one_line(run_main(args, env, tmp_path), "DATABASE_URL=", "connection refused")
        assert f"feedbot:***@127.0.0.1:{port}" in line
        assert "start PostgreSQL" in line


def test_unknown_host_names_the_host(tmp_path: Path) -> None:
    env = env_for(tmp_path, f"postgresql://feedbot:{PASSWORD}@db.nowhere.invalid:5432/feedbot")
    line = assert_one_line(run_main(["status"], env, tmp_path), "DATABASE_URL=")
    assert "'db.nowhere.invalid' is unknown" in line and "fix the host" in line


def test_path_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("not a folder")
    env = env_for(tmp_path, f"sqlite:///{tmp_path / 'blocker' / 'data' / 'bot.db'}")
    for args in (["status"], ["poll"]):
        line = assert_one_line(run_main(args, env, tmp_path), "DATABASE_URL=")
        assert f"{tmp_path / 'blocker'} is a file, not a folder" in line


def test_unwritable_data_folder(tmp_path: Path) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o555)
    env = env_for(tmp_path, f"sqlite:///{parent / 'data' / 'bot.db'}")
    try:
        line = assert_one_line(run_unprivileged(["status"], env, tmp_path), "DATABASE_URL=")
    finally:
        parent.chmod(0o755)
    assert f"cannot create the folder {parent / 'data'} (permission denied)" in line


def test_existing_folder_not_writable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o555)
    env = env_for(tmp_path, f"sqlite:///{data / 'bot.db'}")
    try:
        line = assert_one_line(run_unprivileged(["poll"], env, tmp_path), "DATABASE_URL=")
    finally:
        data.chmod(0o755)
    assert f"the folder {data} is not writable" in line


def test_read_only_database_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'bot.db'}"
    env = env_for(tmp_path, url)
    assert run_main(["status"], env, tmp_path).returncode in (0, 1)  # creates the store
    for leftover in data.glob("bot.db-*"):
        leftover.unlink()
    (data / "bot.db").chmod(0o444)
    line = assert_one_line(run_unprivileged(["status", "--json"], env, tmp_path), "DATABASE_URL=")
    assert f"{data / 'bot.db'} is read-only" in line and "chmod u+w" in line


def test_traceback_only_at_debug(tmp_path: Path) -> None:
    url = f"postgresql://feedbot:{PASSWORD}@127.0.0.1:{free_port()}/feedbot"
    result = run_main(["status"], env_for(tmp_path, url, LOG_LEVEL="debug"), tmp_path)
    assert result.returncode == 2
    assert "Traceback" in result.stderr and "connection refused" in result.stderr.lower()
    assert PASSWORD not in result.stderr  # the debug traceback is masked too


@pytest.mark.parametrize(
    ("url", "masked", "password"),
    [
        ("postgresql+psycopg://u:pw@h:5432/d", "postgresql+psycopg://u:***@h:5432/d", "pw"),
        ("postgresql+psycopg://u:p@ss@h/d", "postgresql+psycopg://u:***@h/d", "p@ss"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d", None),
        ("sqlite:///data/a@b.db", "sqlite:///data/a@b.db", None),
        ("sqlite:///data/a:b@c.db", "sqlite:///data/a:b@c.db", None),
    ],
)
def test_masked_url(url: str, masked: str, password: str | None) -> None:
    assert masked_url(url) == masked
    assert url_password(url) == password
