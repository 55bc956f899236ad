"""`--help` for the program and every command: exit 0, and the contract's options are listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.botenv import bot_env, run_main

COMMANDS = {
    "run": [],
    "poll": ["--dry-run", "--json"],
    "post": ["URL", "--platform", "--text", "--dry-run", "--force", "--json"],
    "preview": ["URL", "--platform", "--json"],
    "status": ["--json"],
    "check": ["--json"],
}


def test_main_help_lists_every_command(tmp_path: Path) -> None:
    result = run_main(["--help"], bot_env(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    listed = result.stdout.split("Commands:")[1]
    for command in COMMANDS:
        assert f"  {command} " in listed


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_has_help(tmp_path: Path, command: str) -> None:
    # No FEED_URLS, no .env: help must not need configuration (nor start the demo).
    result = run_main([command, "--help"], bot_env(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"Usage: main.py {command}" in result.stdout
    for option in COMMANDS[command]:
        assert option in result.stdout
    assert not (tmp_path / "bot.db").exists()  # nothing was run


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = run_main(["publish"], bot_env(tmp_path), tmp_path)
    assert result.returncode == 2
    assert "No such command" in result.stderr
