"""Parsing a document in a child process bounded in memory and time, when it could be costly.

A feed is written by a stranger. lxml's fast path is cheap for any normal document, but a large
one (megabytes of tiny elements) builds a tree of hundreds of megabytes, and feedparser (the
fallback for ill-formed feeds) spends about 60 microseconds per tag: 10 MB of tags would hold
the poll for minutes. So a document over `INLINE_BYTES`, and every fallback to feedparser, runs
in a child process that cannot take more than `MEMORY_BUDGET` bytes of address space
(RLIMIT_AS) nor more than `DEADLINE` seconds: past either, the child dies, that feed fails with a
one-line reason (and backs off as any failed feed does), and the worker and the other feeds go
on. Small well-formed documents, nearly every poll, parse here at full speed.
"""

from __future__ import annotations

import multiprocessing
import resource
import signal
from dataclasses import fields
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from bot.errors import FeedError
from bot.feeds.parse import ParsedFeed, parse_feed, parse_with_feedparser
from bot.models import Story

INLINE_BYTES = 2 * 1024 * 1024
"""Documents up to this size try the fast path in the polling process (lxml: ~35x the body
at worst, so 70 MB); larger ones are parsed in the child."""
MEMORY_BUDGET = 256 * 1024 * 1024
"""Address space the child may add to what it had on starting (lxml, feedparser loaded)."""
DEADLINE = 5.0
"""Seconds a child may parse one document (a 10 MB feed parses in about one on lxml)."""
MAX_TAGS = 1_000_000
"""More '<' than this is no feed (10 bytes a tag on average in 10 MB): refused unparsed."""
last_child_peak_kb: int | None = None
"""Peak resident size of the last child, in KiB (benchmarks/hostile.py reports it)."""
_STORY_FIELDS = tuple(f.name for f in fields(Story))


def parse_bounded(
    body: bytes,
    *,
    url: str,
    now: datetime,
    content_type: str | None = None,
    inline_bytes: int = INLINE_BYTES,
    memory: int = MEMORY_BUDGET,
    deadline: float = DEADLINE,
) -> ParsedFeed:
    """parse_feed with the bounds above; FeedError when the document is refused or too costly."""
    job = {"url": url, "now": now, "content_type": content_type}
    if body.count(b"<") > MAX_TAGS:
        raise FeedError(url, f"not a feed: over {MAX_TAGS:,} tags in one document")
    if len(body) > inline_bytes:
        return run_bounded("parse_feed", body, job, memory=memory, deadline=deadline)

    def fallback(body: bytes, **kwargs: Any) -> ParsedFeed:
        return run_bounded("feedparser", body, kwargs, memory=memory, deadline=deadline)

    return parse_feed(body, fallback=fallback, **job)


def run_bounded(
    what: str, body: bytes, job: dict[str, Any], *, memory: int, deadline: float
) -> ParsedFeed:
    """Run `what` ("parse_feed" or "feedparser") on `body` in a fresh child process."""
    url = job["url"]
    context = multiprocessing.get_context("forkserver")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=_child, args=(send, what, body, job, memory), name="feed-parse", daemon=True
    )
    child.start()
    send.close()
    global last_child_peak_kb
    last_child_peak_kb = None
    try:
        if not receive.poll(deadline):
            last_child_peak_kb = _peak_kb(child.pid)
            raise FeedError(url, f"parsing took longer than {deadline:g} s; document refused")
        try:
            kind, value, last_child_peak_kb = receive.recv()
        except EOFError:  # the child died: killed for memory, or by the kernel
            mb = memory // 2**20
            raise FeedError(url, f"parsing needed more than {mb} MB; document refused") from None
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join(timeout=5)
    if kind == "error":
        raise value
    title, stories, warning, parser = value
    return ParsedFeed(title, [Story(*values) for values in stories], warning, parser)


def _child(send: Connection, what: str, body: bytes, job: dict[str, Any], memory: int) -> None:
    """In the child: cap the address space, parse, send back plain tuples or the error."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides how to stop
    url = job["url"]
    try:
        current = _address_space()
        if current:  # elsewhere than Linux: the deadline still holds
            resource.setrlimit(resource.RLIMIT_AS, (current + memory, current + memory))
        if what == "feedparser":
            parsed = parse_with_feedparser(body, **job)
        else:
            parsed = parse_feed(body, **job)
        stories = [tuple(getattr(s, n) for n in _STORY_FIELDS) for s in parsed.stories]
        answer: tuple[str, Any] = ("ok", (parsed.title, stories, parsed.warning, parsed.parser))
    except MemoryError:
        mb = memory // 2**20
        answer = ("error", FeedError(url, f"parsing needed more than {mb} MB; refused"))
    except FeedError as exc:  # feedparser reports its own MemoryError as a failed parse
        if "MemoryError" in exc.reason:
            exc = FeedError(url, f"parsing needed more than {memory // 2**20} MB; refused")
        answer = ("error", exc)
    except Exception as exc:  # a parser bug: that feed fails, nothing else
        answer = ("error", FeedError(url, f"unparseable: {type(exc).__name__}: {exc}"))
    try:
        send.send((*answer, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
    except MemoryError:
        pass  # the parent sees the pipe close and says the document needed too much memory
    finally:
        send.close()


def _peak_kb(pid: int | None) -> int | None:
    """A live process's peak resident size (VmHWM) in KiB, None when unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _address_space() -> int:
    """This process's current virtual size in bytes (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * resource.getpagesize()
