"""`poll` on a terminal: a live line (feeds fetched n of N, new stories, posts sent), drawn in
place; none when stdout is not a terminal or with --json."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from bot.progress import LiveLine, log_above
from bot.settings import PROJECT_ROOT
from tests.botenv import Item, bot_env, run_main, write_feed
from tests.conftest import FakeClock

ERASE = "\r\x1b[K"


def on_terminal(
    args: list[str], env: dict[str, str], cwd: Path, *, logs_too: bool = False
) -> tuple[int, str, str]:
    """Run main.py with stdout on a pseudo-terminal (as in a shell); stderr to a file, or to the
    same terminal with `logs_too`."""
    master, slave = pty.openpty()
    err_path = cwd / "stderr.txt"
    with err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "main.py"), *args],
            env=env, cwd=cwd, stdout=slave, stderr=slave if logs_too else err,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = proc.wait(timeout=120)
    return code, b"".join(chunks).decode(), err_path.read_text()


def poll_env(tmp: Path) -> dict[str, str]:
    tmp.mkdir(exist_ok=True)
    feeds = [write_feed(tmp / f"feed{n}.xml", [Item(n * 10 + i) for i in range(2)]) for n in (1, 2)]
    return bot_env(tmp, FEED_URLS=" ".join(feeds), DRY_RUN="true", PLATFORMS="twitter,facebook")


def test_poll_on_a_terminal_shows_a_live_line(tmp_path: Path) -> None:
    code, out, err = on_terminal(["poll"], poll_env(tmp_path), tmp_path)
    assert code == 0, err
    assert ERASE + "feeds fetched 0 of 2, 0 new stories, 0 posts sent" in out
    final = ERASE + "feeds fetched 2 of 2, 4 new stories, 8 posts sent" + ERASE
    assert final in out  # the last counts, then erased before the results
    assert out.index(final) < out.index("[twitter] dry_run")
    assert "2 feed(s) polled, 8 post(s) made" in err


def test_log_lines_on_the_same_terminal_erase_the_live_line_first(tmp_path: Path) -> None:
    code, out, _ = on_terminal(["poll"], poll_env(tmp_path), tmp_path, logs_too=True)
    assert code == 0, out
    logs = [part for part in out.split(ERASE) if " INFO " in part]
    assert len(logs) >= 8  # the stories queued and the posts
    for part in logs:  # each log line starts on a clean line; the live line comes back after
        assert re.match(r"\d{4}-\d\d-\d\dT", part), part
        assert part.rstrip("\r\n").count("\n") <= 1


def test_no_live_line_off_a_terminal_or_with_json(tmp_path: Path) -> None:
    env = poll_env(tmp_path)
    piped = run_main(["poll"], env, tmp_path)
    assert piped.returncode == 0, piped.stderr
    assert "feeds fetched" not in piped.stdout + piped.stderr and "\x1b" not in piped.stdout
    code, out, err = on_terminal(["poll", "--json"], poll_env(tmp_path / "again"), tmp_path)
    assert code == 0, err
    assert "feeds fetched" not in out and "\x1b" not in out


def test_the_line_is_drawn_at_most_ten_times_a_second_and_log_lines_go_above_it() -> None:
    screen, logs, clock = io.StringIO(), io.StringIO(), FakeClock()
    line = LiveLine(screen, clock=clock)
    line.start(3)
    line.fetched()  # within 0.1 s of the last drawing: counted, not drawn
    assert screen.getvalue() == ERASE + "feeds fetched 0 of 3, 0 new stories, 0 posts sent"
    clock.advance(0.2)
    line.stories(1)
    assert screen.getvalue().endswith(ERASE + "feeds fetched 1 of 3, 1 new story, 0 posts sent")
    log_above(line, logs).write("a log line\n")
    assert logs.getvalue() == "a log line\n"
    assert screen.getvalue().endswith(ERASE + "feeds fetched 1 of 3, 1 new story, 0 posts sent")
    line.sent("failed")  # not a post sent
    line.fetched()
    line.fetched()  # the last feed: drawn whatever the time
    assert screen.getvalue().endswith("feeds fetched 3 of 3, 1 new story, 0 posts sent")
    line.sent("dry_run")
    line.finish()
    assert screen.getvalue().endswith("feeds fetched 3 of 3, 1 new story, 1 post sent" + ERASE)
