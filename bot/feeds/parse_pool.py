"""Parsing off the polling process, when there is a lot of it.

Parsing is pure CPU work in Python, so within one process it competes with the fetcher for the
GIL. A first poll of a large feed group (thousands of documents) parses on a second core in a
helper process while this one fetches and writes; a normal poll (a few changed feeds) parses
inline and never starts the helper. Documents travel in chunks, since handing one task to a
process costs about as much as parsing one feed. A broken helper falls back to inline parsing.

The two processes share the work: while the helper has `backlog` chunks waiting, this process
parses the next document itself rather than queue it. Fetching costs little CPU, so on a first
poll the helper alone fell behind while this process sat waiting for it (cold cycle 4.6 s, of
which 2.8 s waiting); sharing keeps both cores busy and the wait at the end short.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import fields
from datetime import datetime

from bot.feeds.parse import ParsedFeed
from bot.feeds.sandbox import parse_bounded
from bot.models import Story

log = logging.getLogger("bot.feeds")

Job = tuple[bytes, str, datetime, str | None]
Packed = tuple[str | None, list[tuple[object, ...]], str | None, str]
Outcome = tuple[Packed | None, BaseException | None]
_STORY_FIELDS = tuple(f.name for f in fields(Story))


def _pack(parsed: ParsedFeed) -> Packed:
    """Plain tuples cross the process boundary several times faster than dataclasses."""
    stories = [tuple(getattr(s, name) for name in _STORY_FIELDS) for s in parsed.stories]
    return (parsed.title, stories, parsed.warning, parsed.parser)


def _unpack(packed: Packed) -> ParsedFeed:
    title, stories, warning, parser = packed
    return ParsedFeed(title, [Story(*values) for values in stories], warning, parser)


def _parse_chunk(jobs: list[Job]) -> list[Outcome]:
    """In the helper: parse each document; an error is returned, not raised, per document."""
    out: list[Outcome] = []
    for body, url, now, content_type in jobs:
        try:
            parsed = parse_bounded(body, url=url, now=now, content_type=content_type)
            out.append((_pack(parsed), None))
        except Exception as exc:  # delivered to that document's future
            out.append((None, exc))
    return out


class ParsePool:
    """`submit` returns a Future of ParsedFeed (or of its FeedError), inline or in the helper;
    call `finish` (or `flush`, to ship the rest to the helper) before waiting on pooled
    futures."""

    def __init__(
        self, *, workers: int = 1, threshold: int = 64, chunk: int = 16, backlog: int = 2
    ) -> None:
        self.workers = workers
        self.threshold = threshold
        self.chunk = chunk
        self.backlog = backlog
        self._pool: ProcessPoolExecutor | None = None
        self._broken = False
        self._buffer: list[tuple[Job, Future[ParsedFeed]]] = []
        self._queued = 0
        """Chunks handed to the helper and not yet answered (changed from its result thread)."""
        self._lock = threading.Lock()
        self.inline_in_pool = 0
        """Documents of pooled batches that this process parsed itself (for tests and tuning)."""

    def wants_pool(self, documents: int) -> bool:
        """Worth it only for big batches, and only where there is a core to spare."""
        return (
            not self._broken
            and self.workers > 0
            and documents >= self.threshold
            and (multiprocessing.cpu_count() or 1) > 1
        )

    def submit(
        self,
        body: bytes,
        *,
        url: str,
        now: datetime,
        content_type: str | None,
        in_pool: bool,
    ) -> Future[ParsedFeed]:
        future: Future[ParsedFeed] = Future()
        job = (body, url, now, content_type)
        if in_pool and not self._broken:
            if self._queued < self.backlog * self.workers:
                self._buffer.append((job, future))
                if len(self._buffer) >= self.chunk:
                    self.flush()
                return future
            self.inline_in_pool += 1  # the helper has enough queued: this one is parsed here
        _parse_here(job, future)
        return future

    def finish(self) -> None:
        """The batch is complete: parse what is still buffered here. Shipping a part-filled
        chunk would leave this process waiting idle while the helper parses it; parsed here,
        it overlaps with the chunks the helper still has (at most `backlog`)."""
        batch, self._buffer = self._buffer, []
        for job, future in batch:
            _parse_here(job, future)
        self.inline_in_pool += len(batch)

    def flush(self) -> None:
        """Send the buffered documents to the helper (or parse them here if it is gone)."""
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        try:
            task = self._executor().submit(_parse_chunk, [job for job, _ in batch])
        except (BrokenProcessPool, OSError, RuntimeError) as exc:
            log.warning("parsing inline: the parse helper process failed (%s)", exc)
            self._broken = True
            for job, future in batch:
                _parse_here(job, future)
            return
        futures = [future for _, future in batch]
        with self._lock:
            self._queued += 1

        def deliver(done: Future[list[Outcome]]) -> None:
            with self._lock:
                self._queued -= 1
            error = done.exception()
            if error is not None:  # the helper died: every document of the chunk says so
                for future in futures:
                    future.set_exception(error)
                return
            for future, outcome in zip(futures, done.result(), strict=True):
                _settle(future, outcome)

        task.add_done_callback(deliver)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: never fork this multi-threaded process itself (the fetcher's loop).
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, initializer=_leave_signals_to_parent
            )
        return self._pool

    def mark_broken(self) -> None:
        log.warning("parsing inline from now on: the parse helper process died")
        self._broken = True
        self.close()

    def warm_up(self) -> None:
        """Start the helper now (it takes a moment to import lxml), not in the first poll."""
        if self.workers > 0 and not self._broken:
            try:
                self._executor().submit(_parse_chunk, []).result(timeout=60)
            except Exception as exc:
                log.warning("parsing inline: the parse helper did not start (%s)", exc)
                self._broken = True

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _leave_signals_to_parent() -> None:
    """Ctrl-C reaches the whole process group: the worker decides how to stop, not its helper
    (which would otherwise print a KeyboardInterrupt traceback on every clean stop)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _parse_here(job: Job, future: Future[ParsedFeed]) -> None:
    body, url, now, content_type = job
    try:
        future.set_result(parse_bounded(body, url=url, now=now, content_type=content_type))
    except Exception as exc:  # delivered through the future, like the helper's errors
        future.set_exception(exc)


def _settle(future: Future[ParsedFeed], outcome: Outcome) -> None:
    packed, error = outcome
    if error is not None:
        future.set_exception(error)
    else:
        assert packed is not None
        future.set_result(_unpack(packed))
