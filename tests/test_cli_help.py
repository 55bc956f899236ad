"""`--help` for the program and every command: exit 0, and the contract's options are listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.botenv import bot_env, run_main

COMMANDS = {
    "run": [],
    "poll": ["--dry-run", "--json"],
    "post": ["URL", "--platform", "--text", "--dry-run", "--force", "--json"],
    "preview": ["URL", "--platform", "--json"],
    "status": ["--json"],
    "check": ["--json"],
}


def test_main_help_lists_every_command_and_unknown_commands_are_usage_errors(
    tmp_path: Path,
) -> None:
    result = run_main(["--help"], bot_env(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    listed = result.stdout.split("Commands:")[1]
    for command in COMMANDS:
        assert f"  {command} " in listed
    unknown = run_main(["publish"], bot_env(tmp_path), tmp_path)
    assert unknown.returncode == 2
    assert "No such command" in unknown.stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_has_help(
    command: str, capsys: pytest.CaptureFixture[str], clean_env: Path
) -> None:
    # In process (main.py only calls bot.cli.main): no settings, no .env, nothing is run.
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"Usage: main.py {command}" in out
    for option in COMMANDS[command]:
        assert option in out
    assert list(clean_env.iterdir()) == []  # no database, no data folder
