"""An older Python gets one clear line and exit 2 before any import of the bot can fail.

No Python older than 3.11 is installable here (Debian's archive and PyPI offer none), so the
checks run the real main.py and the real Makefile under this interpreter with `sys.version_info`
replaced by a 3.10 one: the very value the guards read.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT

MAIN = PROJECT_ROOT / "main.py"

AS_PYTHON_310 = """
import json, runpy, sys
sys.version_info = (3, 10, 12, "final", 0)
sys.argv = sys.argv[1:]  # [main.py, command...]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as exc:
    print(json.dumps({"code": exc.code, "bot": sorted(m for m in sys.modules if m == "bot"
                      or m.startswith("bot."))}))
"""


@pytest.mark.parametrize("command", [["status"], ["--help"], ["run"]])
def test_main_py_on_python_310_says_what_to_install_and_exits_2(
    command: list[str], tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", AS_PYTHON_310, str(MAIN), *command],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome == {"code": 2, "bot": []}  # stopped before importing any of the bot
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "needs Python 3.11 or newer" in lines[0]
    assert "is Python 3.10.12" in lines[0]
    assert "make PYTHON=python3.11 run" in lines[0]
    assert list(tmp_path.iterdir()) == []  # no data folder, no database


def test_the_guard_passes_311_and_newer() -> None:
    namespace: dict[str, object] = {}
    exec(compile(MAIN.read_text(), str(MAIN), "exec"), namespace)  # not as __main__: no run
    problem = namespace["python_problem"]
    assert callable(problem)
    assert problem((3, 11, 0, "final", 0)) is None
    assert problem((3, 13, 1, "final", 0)) is None
    assert problem((4, 0, 0, "final", 0)) is None
    message = problem((3, 9, 18, "final", 0), "/usr/bin/python3")
    assert message.startswith("error: feedbot needs Python 3.11 or newer, but /usr/bin/python3 ")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_stops_on_python_310_before_creating_the_venv(tmp_path: Path) -> None:
    # A `python` that is this interpreter claiming to be 3.10, as the Makefile's check sees it.
    fake = tmp_path / "python3.10"
    fake.write_text(
        "#!/bin/sh\n"
        '[ "$1" = "-c" ] || exit 99\n'
        f"exec {sys.executable} -c "
        '\'import sys; sys.version_info = (3, 10, 12, "final", 0); '
        'sys.version = "3.10.12 (fake)"; code = sys.argv[1]; sys.argv = ["-c"]; exec(code)\' '
        '"$2"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    venv = tmp_path / "venv"
    make = ["make", "--no-print-directory", "-C", str(PROJECT_ROOT)]
    result = subprocess.run(
        [*make, f"PYTHON={fake}", f"VENV={venv}", "run"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert f"feedbot needs Python 3.11 or newer, but {fake} is Python 3.10.12" in result.stderr
    assert not venv.exists()
