"""The dependencies that get installed are exactly the locked ones: every transitive package
pinned with its hashes, installed with --require-hashes by make, CI (through make) and the image."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_ENTRY = re.compile(
    r"^([A-Za-z0-9_.\[\]-]+)==([^\s\\]+)((?:\s*\\\n\s*--hash=sha256:[0-9a-f]{64})+)", re.M
)


def _pins(path: Path) -> dict[str, str]:
    """name -> version of the `name==version` lines of a requirements file (comments dropped)."""
    pins: dict[str, str] = {}
    for line in path.read_text("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[_canonical(name)] = version.split()[0].rstrip("\\").strip()
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[", 1)[0]).lower()


def _locked(path: Path) -> dict[str, str]:
    text = path.read_text("utf-8")
    entries = {_canonical(m.group(1)): m.group(2) for m in _ENTRY.finditer(text)}
    requirement_lines = [
        line for line in text.splitlines() if line and not line.startswith((" ", "#", "\t"))
    ]
    assert len(entries) == len(requirement_lines), "a locked line without its hashes"
    return entries


@pytest.mark.parametrize(
    ("lock", "inputs"),
    [
        ("requirements-pip.lock", ["requirements-pip.txt"]),
        ("requirements.lock", ["requirements.txt"]),
        ("requirements-dev.lock", ["requirements.txt", "requirements-dev.txt"]),
    ],
)
def test_each_lock_pins_every_package_with_hashes_and_agrees_with_its_inputs(
    lock: str, inputs: list[str]
) -> None:
    locked = _locked(ROOT / lock)
    assert len(locked) > sum(len(_pins(ROOT / i)) for i in inputs) - 1  # transitive ones too
    for source in inputs:
        for name, version in _pins(ROOT / source).items():
            assert locked.get(name) == version, f"{name}=={version} of {source} not in {lock}"


def test_the_runtime_lock_is_the_dev_locks_runtime_part() -> None:
    runtime, dev = _locked(ROOT / "requirements.lock"), _locked(ROOT / "requirements-dev.lock")
    assert {n: dev.get(n) for n in runtime} == runtime


def test_make_and_the_image_install_only_from_the_locks_with_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    installs = re.findall(r"(?:pip|\$\(PIP\)) install[^\n]*", makefile)
    project = [i for i in installs if "requirements" in i]
    assert {"requirements-pip.lock", "requirements.lock", "requirements-dev.lock"} <= {
        m for i in project for m in re.findall(r"requirements[-a-z]*\.lock", i)
    }
    assert all("--require-hashes" in i for i in project)
    assert not [i for i in project if "requirements.txt" in i or "requirements-dev.txt" in i]
    assert re.search(r"^audit:\n(?:\t.*\n)*\t.*pip-audit", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text("utf-8")
    dockerfile = (ROOT / "Dockerfile").read_text("utf-8")
    assert "pip install --no-compile --require-hashes -r requirements.lock" in dockerfile
