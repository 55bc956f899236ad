"""`python -m benchmarks.hostile`: hostile feed documents against the worker, one table.

Each document is served over loopback beside a good feed, and one poll of a fresh worker (in a
fresh process, so peak sizes are its own) fetches and parses both. Reported per document: what
the worker made of it, the wall time of the poll, the worker's peak RSS, the peak RSS of the
bounded parse child when one ran, and whether the good feed's stories were still queued.
Target (issue 15): under 300 MB and 10 s for any 10 MB document, the good feed unaffected.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MB = 1024 * 1024
GOOD = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title>'
    b"<item><title>A good story</title><link>https://news.example/good-1</link>"
    b"<guid>good-1</guid></item>"
    b"<item><title>Another good story</title><link>https://news.example/good-2</link>"
    b"<guid>good-2</guid></item></channel></rss>"
)


def _laughs() -> str:
    entities = ['<!ENTITY lol "lol">']
    for i in range(1, 10):
        previous = "lol" if i == 1 else f"lol{i - 1}"
        entities.append(f'<!ENTITY lol{i} "{("&" + previous + ";") * 10}">')
    return "<!DOCTYPE rss [" + "".join(entities) + "]>"


def bom_bomb() -> bytes:
    """A billion laughs behind a UTF-8 byte-order mark, not well-formed (so no fast path)."""
    doc = "\ufeff" + '<?xml version="1.0" encoding="utf-8"?>' + _laughs()
    doc += '<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol8; <b></item>'
    body = doc.encode()
    return body + b" " * (10 * MB - len(body))


def late_doctype() -> bytes:
    """The DOCTYPE with the laughs after a megabyte of comment, then a broken body."""
    doc = '<?xml version="1.0"?><!--' + "x" * (MB + 100) + "-->" + _laughs()
    doc += '<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol8;<b></item>'
    body = doc.encode()
    return body + b"<!-- pad -->" * ((10 * MB - len(body)) // 12)


def deep_after_error() -> bytes:
    """An error in the first line (lxml gives up), then three million nested elements."""
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>&nosuch;</title><item>'
    return (head + b"<a>" * (10 * MB // 3))[: 10 * MB]


def deep_1mb() -> bytes:
    """The same in 1 MB: under the tag limit, so the nesting check has to catch it."""
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>&nosuch;</title><item>'
    return (head + b"<a>" * (MB // 3))[:MB]


def tags_10mb() -> bytes:
    """10 MB of empty elements: a tree of hundreds of megabytes for any DOM parser."""
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
    return head + b"<x/>" * ((10 * MB - len(head) - 20) // 4) + b"</channel></rss>"


def items_10mb() -> bytes:
    """10 MB of tiny items: 360,000 stories."""
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
    item = b"<item><title>a</title></item>"
    return head + item * ((10 * MB - len(head) - 20) // len(item)) + b"</channel></rss>"


def items_under_tag_limit() -> bytes:
    """10 MB of 150,000 well-formed items, under the tag limit: parsed in the bounded child."""
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
    item = b"<item><title>" + b"a story title of forty-odd characters" + b"</title></item>"
    return head + item * ((10 * MB - len(head) - 20) // len(item)) + b"</channel></rss>"


def gzip_bomb() -> bytes:
    """1 GB of spaces gzip-compressed to about 1 MB (sent with Content-Encoding: gzip)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as handle:
        block = b" " * MB
        for _ in range(1024):
            handle.write(block)
    return out.getvalue()


DOCUMENTS: dict[str, Callable[[], bytes]] = {
    "BOM bomb": bom_bomb,
    "late DOCTYPE": late_doctype,
    "deep nesting after an early error": deep_after_error,
    "deep nesting after an early error, 1 MB": deep_1mb,
    "10 MB of tags": tags_10mb,
    "10 MB of tiny items": items_10mb,
    "10 MB of items under the tag limit": items_under_tag_limit,
    "gzip bomb (1 GB inflated)": gzip_bomb,
}


def one(name: str) -> dict[str, Any]:
    """In a fresh process: serve the document and the good feed, poll once, report."""
    from bot.app import build_app
    from bot.feeds import sandbox
    from bot.settings import Backlog, Settings
    from tests.fakes.feed_server import FeedServer

    body = DOCUMENTS[name]()
    headers = {"Content-Encoding": "gzip"} if "gzip" in name else {}
    with FeedServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.route("/hostile.xml", body=body, headers=headers)
        server.route("/good.xml", body=GOOD)
        del body
        settings = Settings(
            feed_urls=(server.url("/hostile.xml"), server.url("/good.xml")),
            platforms=("twitter",),
            dry_run=True,
            database_url=f"sqlite:///{Path(tmp) / 'bot.db'}",
            backlog=Backlog("all"),
            max_story_age=None,
        )
        app = build_app(settings)
        try:
            started = time.perf_counter()
            report = app.engine.tick()
            seconds = time.perf_counter() - started
        finally:
            app.close()
    feeds = {f.url.rsplit("/", 1)[-1]: f for f in report.feeds}
    hostile = feeds["hostile.xml"]
    return {
        "document": name,
        "outcome": hostile.error or f"{hostile.new_stories} stories",
        "seconds": round(seconds, 2),
        "worker_peak_mb": round(_peak_kb() / 1024, 1),
        "child_peak_mb": None
        if sandbox.last_child_peak_kb is None
        else round(sandbox.last_child_peak_kb / 1024, 1),
        "good_feed_queued": feeds["good.xml"].new_stories,
    }


def _peak_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run_all() -> list[dict[str, Any]]:
    rows = []
    for name in DOCUMENTS:
        code = f"import json; from benchmarks.hostile import one; print(json.dumps(one({name!r})))"
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
        )
        if done.returncode != 0:
            rows.append({"document": name, "outcome": f"worker died: {done.stderr[-300:]}"})
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def main() -> None:
    rows = run_all()
    print(
        "| document | what the worker did | poll s | worker peak MB | child peak MB | good feed |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['document']} | {r['outcome']} | {r.get('seconds')} | {r.get('worker_peak_mb')} "
            f"| {r.get('child_peak_mb') or '-'} | {r.get('good_feed_queued')} queued |"
        )


if __name__ == "__main__":
    main()
