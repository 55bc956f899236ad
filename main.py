"""Entry point: `python main.py --help`. Everything lives in bot.cli.

The version check comes before any import of the bot, whose code needs Python 3.11 (for example
`from datetime import UTC`): an older Python gets one line saying what to install, and exit 2 (a
setting to fix, which systemd's RestartPreventExitStatus=2 does not restart). This file must stay
readable by old Pythons: no f-strings, no annotations, nothing newer than 3.0.
"""

import sys

MINIMUM = (3, 11)


def python_problem(version_info=None, executable=None):
    """The one-line message for a Python older than MINIMUM, or None when it is new enough."""
    version = tuple(sys.version_info if version_info is None else version_info)
    if version[:2] >= MINIMUM:
        return None
    return (
        "error: feedbot needs Python {need} or newer, but {exe} is Python {have}; install "
        "python3.11 (or newer) and recreate the virtual environment: rm -rf .venv && "
        "make PYTHON=python3.11 run"
    ).format(
        need=".".join(str(part) for part in MINIMUM),
        exe=executable or sys.executable or "this interpreter",
        have=".".join(str(part) for part in version[:3]),
    )


if __name__ == "__main__":
    problem = python_problem()
    if problem:
        sys.stderr.write(problem + "\n")
        sys.exit(2)

    from bot.cli import main

    code = main(sys.argv[1:])
    # Every object the process made is about to go: frozen, the interpreter's teardown does not
    # walk them all once more looking for cycles (about 110 ms of a 0.5 s `poll`).
    import gc

    gc.freeze()
    sys.exit(code)
