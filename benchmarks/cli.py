"""Measurement 6: the command line as a user meets it, each run a whole new process.

`--help` and `status` (against a store that knows the farm's feeds) are timed from spawn to exit,
beside a bare `python -c pass`. Then a warm `poll` of N farm feeds, whole process (interpreter
start, imports, settings, store, fetch, parse, store, dry-run posts, exit), against the naive
loop as a whole process too (`import requests, feedparser`, then a sequential `requests.get` +
`feedparser.parse` per feed). Each poll run gets a fresh store: a cold `poll` fills it
(BACKLOG=skip) while the farm serves its cold phase, then the farm turns warm and the timed
`poll` runs.

The processes run on the interpreter of a deployment: a virtual environment with the runtime
requirements only (`requirements.lock`, as `make run` and the Dockerfile install them), made
once in `.cache/bench-runtime` and remade when a lock changes. The test tools change the
figures: with them installed, httpcore imports trio (selenium's dependency) and httpx its
command line (pygments), about 35 ms of a `poll` no deployment pays. `--python` measures
another interpreter (`--python current`: this one).

`python -m benchmarks.cli` runs this one alone (`--feeds`, `--runs`, `--python`).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.farm import Farm
from benchmarks.measure import TARGETS, Table, verdict

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "main.py"

NAIVE = """
import sys
import feedparser
import requests

seen = set()
for url in sys.argv[1:]:
    for entry in feedparser.parse(requests.get(url, timeout=20).content).entries:
        seen.add(entry.get("id") or entry.get("link"))
print(len(seen))
"""


RUNTIME_VENV = ROOT / ".cache" / "bench-runtime"
LOCKS = ("requirements-pip.lock", "requirements.lock")


def runtime_python() -> str:
    """The interpreter of a venv holding the runtime requirements only, made when missing or
    when a lock changed (about 7 s with pip's cache warm)."""
    digest = hashlib.sha256(b"".join((ROOT / lock).read_bytes() for lock in LOCKS)).hexdigest()
    python, stamp = RUNTIME_VENV / "bin" / "python", RUNTIME_VENV / ".locks"
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return str(python)
    print(f"making {RUNTIME_VENV} (runtime requirements only) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(RUNTIME_VENV)], check=True)
    pip = [str(RUNTIME_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    for lock in LOCKS:
        subprocess.run([*pip, "--require-hashes", "-r", str(ROOT / lock)], check=True)
    stamp.write_text(digest)
    return str(python)


def _process(args: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall seconds from spawn to exit; a failing command is an error, not a figure."""
    started = time.perf_counter()
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if result.returncode not in (0, 1):  # status says 1 when no poll ran within 3 intervals
        raise RuntimeError(f"{args[1:3]} exited {result.returncode}: {result.stderr[-2000:]}")
    return wall


def _times(runs: int, fn: Any) -> dict[str, float]:
    walls = [fn() for _ in range(runs)]
    return {"best_s": min(walls), "median_s": statistics.median(walls), "runs": runs}


def command_line(
    feeds: int = 300,
    items: int = 30,
    new_items: int = 2,
    hosts: int = 8,
    runs: int = 7,
    python: str | None = None,
) -> dict[str, Any]:
    python = python or runtime_python()
    out: dict[str, Any] = {"feeds": feeds, "items": items, "runs": runs, "python": python}
    with (
        Farm.start(
            feeds, items, new_items=new_items, hosts=hosts, now=time.time(), image_host="localhost"
        ) as farm,
        tempfile.TemporaryDirectory() as tmp_name,
    ):
        tmp = Path(tmp_name)
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp)}
        env = {
            **base,
            "FEED_URLS": " ".join(farm.urls),
            "DRY_RUN": "true",
            "PLATFORMS": "twitter,facebook,instagram",
            "BACKLOG": "skip",
            "LOG_LEVEL": "warning",  # a log line per story would measure the console
            # The farm's loopback hosts stand for the public web, and its images are on
            # "localhost": vetting a new story's image costs no DNS query (the farm's usual
            # www.siteN.example names fail to resolve here only after ~170 ms each).
            "ALLOW_PRIVATE_NETWORKS": "true",
        }

        out["bare_python"] = _times(runs, lambda: _process([python, "-c", "pass"], base, tmp))
        out["help"] = _times(runs, lambda: _process([python, str(MAIN), "--help"], env, tmp))

        def fresh_store(n: int) -> dict[str, str]:
            store = {**env, "DATABASE_URL": f"sqlite:///{tmp / f'poll-{n}.db'}"}
            farm.control("cold")
            _process([python, str(MAIN), "poll"], store, tmp)
            farm.control("warm")
            return store

        walls, quiet = [], []
        for n in range(max(1, runs // 2)):
            store = fresh_store(n)
            walls.append(_process([python, str(MAIN), "poll"], store, tmp))
            served = farm.control("stats")["served"]
            # Once more on the same store: the new stories are known now, so nothing is new,
            # which is what most polls of a running bot find.
            quiet.append(_process([python, str(MAIN), "poll"], store, tmp))
        out["warm_poll"] = {
            "best_s": min(walls),
            "median_s": statistics.median(walls),
            "runs": len(walls),
            "http": {k: v - (k == "200") for k, v in served.items()},  # minus the stats call
        }
        out["quiet_poll"] = {"best_s": min(quiet), "median_s": statistics.median(quiet)}
        # `status` reads the last store: every feed polled twice, the posts of the warm poll.
        out["status"] = _times(runs, lambda: _process([python, str(MAIN), "status"], store, tmp))

        naive = [python, "-c", NAIVE, *farm.urls]
        out["naive"] = _times(max(1, runs // 2), lambda: _process(naive, base, tmp))
    out["ratio"] = out["naive"]["best_s"] / out["warm_poll"]["best_s"]
    return out


def command_line_table(c: dict[str, Any]) -> Table:
    """6. Each command a whole process, as a user starts it."""
    where = "runtime venv" if c["python"].startswith(str(RUNTIME_VENV)) else c["python"]
    t6 = Table(
        f"6. The command line, whole processes (best of {c['runs']}; warm poll: {c['feeds']} "
        f"feeds, dry run, 3 platforms; {where})",
        ["process", "best s", "median s", "target"],
    )
    bare = c["bare_python"]["best_s"]
    t6.add("python -c pass", bare, c["bare_python"]["median_s"], "")
    for key, label in (("help", "main.py --help"), ("status", "main.py status")):
        best = c[key]["best_s"]
        limit = TARGETS[f"{key}_s"]
        goal = f"< {limit:g} s: {verdict(best < limit)} ({best / bare:.0f}x bare python)"
        t6.add(label, best, c[key]["median_s"], goal)
    http = " ".join(f"{k}:{v}" for k, v in sorted(c["warm_poll"]["http"].items()) if v)
    t6.add(f"main.py poll, warm ({http})", c["warm_poll"]["best_s"], c["warm_poll"]["median_s"], "")
    if "quiet_poll" in c:
        quiet = c["quiet_poll"]
        ratio = c["naive"]["best_s"] / quiet["best_s"]
        goal = f"{ratio:.1f}x the naive loop (no target)"
        t6.add("main.py poll, nothing new", quiet["best_s"], quiet["median_s"], goal)
    goal = TARGETS["poll_process_vs_naive"]
    t6.add(
        "naive loop process (requests + feedparser)",
        c["naive"]["best_s"],
        c["naive"]["median_s"],
        f"poll >= {goal:g}x faster: {c['ratio']:.1f}x {verdict(c['ratio'] >= goal)}",
    )
    return t6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cli", description=__doc__)
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--python", default=None, help="interpreter to measure (default: the runtime venv)"
    )
    ns = parser.parse_args(argv)
    python = sys.executable if ns.python == "current" else ns.python
    print(f"load average before: {os.getloadavg()}")
    table = command_line_table(command_line(feeds=ns.feeds, runs=ns.runs, python=python))
    print(table.render())
    print()
    print(table.markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
