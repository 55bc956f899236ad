"""What the worker does when a whole tick fails (the store is down, the disk is full, a bug).

An outage must neither flood the log (a traceback every 15 seconds for hours) nor stop the bot:
each kind of failure is logged in one line when it starts, the worker backs off exponentially
while it lasts, and one line says when it is over. The worker then goes on by itself.
Tracebacks are logged at DEBUG only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from bot.store.problems import describe

log = logging.getLogger("bot.scheduler")
FIRST_DELAY = 15.0
MAX_DELAY = 300.0


def failure_kind(exc: BaseException, database_url: str) -> tuple[str, str]:
    """(kind, one line with the culprit and the fix) for the exception that ended a tick."""
    if isinstance(exc, SQLAlchemyError | OSError):
        kind, line = describe(database_url, exc)
        return f"store:{kind}", line
    text = " ".join(str(exc).split()) or "no message"
    return (
        f"bug:{type(exc).__name__}",
        f"unexpected {type(exc).__name__}: {text}; set LOG_LEVEL=debug for the traceback "
        "and report it",
    )


@dataclass
class TickFailures:
    """The failure streak of a worker's ticks and the backoff it imposes."""

    database_url: str
    clock: Callable[[], float]
    first_delay: float = FIRST_DELAY
    max_delay: float = MAX_DELAY
    failures: int = 0
    since: float | None = None
    resume_at: float = 0.0
    kinds: set[str] = field(default_factory=set)

    def ready(self) -> bool:
        """False while backing off: the tick is skipped (the scheduler calls again soon)."""
        return self.clock() >= self.resume_at

    def failed(self, exc: BaseException) -> None:
        """Log the failure once per kind in a streak, and back off a little longer each time."""
        now = self.clock()
        kind, line = failure_kind(exc, self.database_url)
        self.failures += 1
        if self.since is None:
            self.since = now
        delay = min(self.max_delay, self.first_delay * 2.0 ** (self.failures - 1))
        self.resume_at = now + delay
        if kind not in self.kinds:
            self.kinds.add(kind)
            log.error(f"tick failed: {line}; retrying in {delay:.0f}s, backing off up to "
                      f"{self.max_delay:.0f}s while it lasts")  # fmt: skip
        else:
            log.info(f"tick failed again ({kind}); next try in {delay:.0f}s")
        log.debug("the tick's failure in full", exc_info=exc)

    def succeeded(self) -> None:
        if not self.failures:
            return
        lasted = self.clock() - (self.since or self.clock())
        log.warning(f"recovered: the tick works again after {self.failures} failed "
                    f"attempt(s) over {lasted:.0f}s")  # fmt: skip
        self.failures = 0
        self.since = None
        self.resume_at = 0.0
        self.kinds.clear()
