"""A released version of the bot, checked out and installed beside this one, to run for real.

Upgrade tests build a store with the old code itself, not with a copy of its schema: only that
shows what users' stores hold. The release is a git worktree of its tag (or of its commit, when a
clone carries no tags) with its own virtual environment, made once under `.cache/` and reused;
a file lock lets the test processes of one run share it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.settings import PROJECT_ROOT


class ReleaseUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Release:
    tag: str
    source: Path
    python: Path

    def run(
        self, args: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), str(self.source / "main.py"), *args],
            env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def spawn(self, args: Sequence[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(self.python), str(self.source / "main.py"), *args],
            env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip


def _git(*args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ReleaseUnavailable(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def _commit_of(tag: str, commit: str) -> str:
    for ref in (tag, commit):
        try:
            return _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        except ReleaseUnavailable:
            continue
    raise ReleaseUnavailable(f"neither the tag {tag} nor the commit {commit} is in this clone")


def installed_release(tag: str, commit: str) -> Release:
    """The release's source and a virtual environment with its pinned requirements."""
    if shutil.which("git") is None:
        raise ReleaseUnavailable("git is not installed")
    sha = _commit_of(tag, commit)
    home = PROJECT_ROOT / ".cache" / "releases" / tag
    home.mkdir(parents=True, exist_ok=True)
    source, venv = home / "src", home / "venv"
    python = venv / "bin" / "python"
    stamp = home / f"ready-{sha}"
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            if source.exists():
                _git("worktree", "remove", "--force", str(source))
            _git("worktree", "prune")
            _git("worktree", "add", "--detach", str(source), sha)
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            pip = subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "-r", str(source / "requirements.txt")],
                capture_output=True, text=True, check=False,
                env={**os.environ, "PIP_NO_INPUT": "1"},
            )  # fmt: skip
            if pip.returncode != 0:
                raise ReleaseUnavailable(f"installing {tag}'s requirements failed: {pip.stderr}")
            stamp.touch()
    return Release(tag, source, python)
