"""What a cycle has done so far, for a person watching `poll` on a terminal.

The engine and the deliverer report to a `Progress` (which does nothing); `poll` hands them a
`LiveLine` when stdout is a terminal and the output is not JSON, so slow feeds never mean silence.
The line is redrawn in place (carriage return, erase to end of line) at most ten times a second,
and log lines written to the same terminal first erase it, then it is drawn again below them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

SENT = ("published", "dry_run")
_ERASE = "\r\x1b[K"


class Progress:
    """The counts a cycle reports; this base class ignores them."""

    def start(self, feeds: int) -> None:
        """A poll begins with `feeds` feeds to fetch."""

    def fetched(self) -> None:
        """One feed was fetched (or failed)."""

    def stories(self, count: int) -> None:
        """`count` new stories were queued."""

    def sent(self, status: str) -> None:
        """A delivery finished with `status` (counted when published or a dry run)."""


class LiveLine(Progress):
    """Draws "feeds fetched n of N, s new stories, p posts sent" in place on a terminal."""

    def __init__(
        self,
        stream: TextIO,
        *,
        clock: Callable[[], float] = time.monotonic,
        every: float = 0.1,
    ) -> None:
        self.stream = stream
        self.clock = clock
        self.every = every
        self.total = 0
        self.done = 0
        self.new = 0
        self.posts = 0
        self._drawn_at: float | None = None
        self._shown = False
        self._lock = threading.Lock()  # deliveries report from the platforms' threads

    def text(self) -> str:
        feeds = f"feeds fetched {self.done} of {self.total}" if self.total else "no poll yet"
        stories = f"{self.new} new stor{'y' if self.new == 1 else 'ies'}"
        posts = f"{self.posts} post{'' if self.posts == 1 else 's'} sent"
        return f"{feeds}, {stories}, {posts}"

    def start(self, feeds: int) -> None:
        with self._lock:
            self.total = feeds
            self._draw(force=True)

    def fetched(self) -> None:
        with self._lock:
            self.done += 1
            self._draw(force=self.done == self.total)

    def stories(self, count: int) -> None:
        with self._lock:
            self.new += count
            self._draw()

    def sent(self, status: str) -> None:
        if status not in SENT:
            return
        with self._lock:
            self.posts += 1
            self._draw()

    def finish(self) -> None:
        """Draw the final counts once more, then erase the line: the summary follows."""
        with self._lock:
            self._draw(force=True)
            self.stream.write(_ERASE)
            self.stream.flush()
            self._shown = False

    def _draw(self, force: bool = False) -> None:
        now = self.clock()
        if not force and self._drawn_at is not None and now - self._drawn_at < self.every:
            return
        self._drawn_at = now
        self.stream.write(_ERASE + self.text())
        self.stream.flush()
        self._shown = True

    def above(self, write: Callable[[str], Any], text: str) -> None:
        """Write `text` (a log line) with the live line erased first and drawn again after."""
        with self._lock:
            if self._shown:
                self.stream.write(_ERASE)
                self.stream.flush()
            write(text)
            if self._shown:
                self.stream.write(self.text())
                self.stream.flush()


class _Above:
    """A stream for the log handler: each write goes above the live line."""

    def __init__(self, line: LiveLine, stream: TextIO) -> None:
        self.line = line
        self.stream = stream

    def write(self, text: str) -> int:
        self.line.above(self.stream.write, text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def log_above(line: LiveLine, stream: TextIO) -> TextIO:
    """Wrap the log stream so log lines never land in the middle of the live line."""
    return _Above(line, stream)  # type: ignore[return-value]
