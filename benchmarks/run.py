"""`python -m benchmarks.run`: every measurement of issue 8, printed as tables with targets and
saved as JSON under benchmarks/results/. `--quick` runs tiny sizes (the smoke test uses it)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import cli, ingest, micro
from benchmarks.measure import TARGETS, Table, in_child, verdict

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
    }


def run(
    *,
    feeds: int,
    items: int,
    new_items: int,
    hosts: int,
    stored: int,
    parse_docs: int,
    compose_stories: int,
    out_dir: Path,
    cli_feeds: int = 300,
    cli_runs: int = 7,
) -> tuple[dict[str, Any], list[Table]]:
    started = time.perf_counter()
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "targets": TARGETS,
    }
    args = {"feeds": feeds, "items": items, "new_items": new_items, "hosts": hosts}
    results["bot"] = bot = in_child(ingest.bot_cycles, **args)
    results["naive"] = naive = in_child(ingest.naive_cycles, **args)
    results["parse"] = parse = in_child(micro.parse_throughput, feeds=parse_docs, items=items)
    results["seen"] = seen = in_child(micro.seen_lookup, stored=stored, feeds=feeds, items=items)
    results["compose"] = compose = in_child(micro.compose_throughput, stories=compose_stories)
    results["command_line"] = cli.command_line(
        feeds=cli_feeds, items=items, new_items=new_items, hosts=hosts, runs=cli_runs
    )
    results["total_s"] = time.perf_counter() - started
    tables = _tables(results, bot, naive, parse, seen, compose)
    tables.append(cli.command_line_table(results["command_line"]))
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for name in (f"bench-{stamp}.json", "latest.json"):
        (out_dir / name).write_text(json.dumps(results, indent=2, default=str) + "\n")
    return results, tables


def _tables(
    results: dict[str, Any],
    bot: dict[str, Any],
    naive: dict[str, Any],
    parse: dict[str, Any],
    seen: dict[str, Any],
    compose: dict[str, Any],
) -> list[Table]:
    n = bot["feeds"]
    t1 = Table(
        f"1. Poll cycles of the bot: {n:,} feeds x {bot['items']} items, dry run, 3 platforms",
        ["cycle", "wall s", "CPU s", "peak RSS MB", "req/s", "HTTP", "new stories", "target"],
    )
    for phase in ("cold", "warm"):
        p = bot[phase]
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(p["http_statuses"].items()) if v)
        if phase == "warm":
            limit = TARGETS["warm_wall_s"]
            goal = f"< {limit:g} s: {verdict(p['wall_s'] < limit)}"
        else:
            goal = "(see 2.)"
        new = p["new_stories"] if phase == "warm" else bot.get("stories_stored", 0)
        t1.add(
            phase,
            p["wall_s"],
            p["cpu_s"],
            p["peak_rss_mb"],
            p["requests_per_s"],
            statuses,
            new,
            goal,
        )
    rss = max(bot["cold"]["peak_rss_mb"], bot["warm"]["peak_rss_mb"])
    goal = f"< 200 MB: {verdict(rss < TARGETS['peak_rss_mb'])}"
    t1.add("peak RSS", "", "", rss, "", "", "", goal)
    tb = Table(
        "1b. Where the cycle's time goes (wall s; store and publish summed over delivery threads)",
        ["cycle", *sorted({k for p in ("cold", "warm") for k in bot[p]["breakdown_s"]})],
    )
    for phase in ("cold", "warm"):
        tb.add(phase, *(bot[phase]["breakdown_s"].get(k, 0.0) for k in tb.columns[1:]))
    t2 = Table(
        "2. The naive loop (sequential requests.get + feedparser.parse, no validators)",
        ["cycle", "naive wall s", "naive CPU s", "bot wall s", "bot faster by", "target"],
    )
    for phase, key in (("cold", "cold_vs_naive"), ("warm", "warm_vs_naive")):
        ratio = naive[phase]["wall_s"] / bot[phase]["wall_s"]
        results.setdefault("ratios", {})[phase] = ratio
        t2.add(
            phase,
            naive[phase]["wall_s"],
            naive[phase]["cpu_s"],
            bot[phase]["wall_s"],
            f"{ratio:.1f}x",
            f">= {TARGETS[key]:g}x: {verdict(ratio >= TARGETS[key])}",
        )
    t3 = Table(
        f"3. Parse throughput on {parse['documents']} farm documents of "
        f"{parse['items_per_document']} items ({parse['document_bytes']:,} bytes each)",
        ["parser", "items/s", "ms/document", "faster by (reported, no target)"],
    )
    t3.add(
        f"bot parse_feed ({'+'.join(parse['path'])} path, to Story)",
        parse["bot_items_per_s"],
        parse["bot_ms_per_document"],
        f"{parse['ratio']:.1f}x",
    )
    t3.add(
        "feedparser.parse", parse["feedparser_items_per_s"], parse["feedparser_ms_per_document"], ""
    )
    t4 = Table(
        f"4. Seen-story lookup (Store.unseen, SQLite): one cycle of {seen['candidates']:,} "
        f"candidates in {seen['feeds']:,} calls",
        ["store", "stories stored", "cycle s", "fill s", "target"],
    )
    t4.add("empty", seen["empty"]["rows"], seen["empty"]["cycle_s"], seen["empty"]["fill_s"], "")
    slow = seen["ratio"]
    t4.add(
        "full",
        seen["full"]["rows"],
        seen["full"]["cycle_s"],
        seen["full"]["fill_s"],
        f"<= +20%: {(slow - 1) * 100:+.0f}% {verdict(slow <= TARGETS['seen_slowdown'])}",
    )
    t5 = Table(
        f"5. Compose throughput ({compose['stories']} farm stories)",
        ["platform", "posts/s"],
    )
    for name in ("twitter", "facebook", "instagram"):
        t5.add(name, compose[name]["posts_per_s"])
    return [t1, tb, t2, t3, t4, t5]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--new-items", type=int, default=2, help="per changed feed, warm cycle")
    parser.add_argument("--hosts", type=int, default=8, help="loopback addresses of the farm")
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--parse-docs", type=int, default=100)
    parser.add_argument("--compose-stories", type=int, default=900)
    parser.add_argument(
        "--cli-feeds", type=int, default=300, help="feeds of the whole-process poll"
    )
    parser.add_argument("--cli-runs", type=int, default=7, help="runs of each whole process")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--markdown", action="store_true", help="also print Markdown tables")
    ns = parser.parse_args(argv)
    if ns.quick:
        ns.feeds, ns.stored, ns.parse_docs, ns.compose_stories = 20, 10_000, 8, 30
        ns.cli_feeds, ns.cli_runs = 4, 2
    results, tables = run(
        feeds=ns.feeds,
        items=ns.items,
        new_items=ns.new_items,
        hosts=ns.hosts,
        stored=ns.stored,
        parse_docs=ns.parse_docs,
        compose_stories=ns.compose_stories,
        out_dir=ns.out,
        cli_feeds=ns.cli_feeds,
        cli_runs=ns.cli_runs,
    )
    m = results["machine"]
    print(f"machine: {m['cpus']} CPUs, {m['cpu']}, Python {m['python']}, load {m['load_average']}")
    for table in tables:
        print()
        print(table.render())
        if ns.markdown:
            print()
            print(table.markdown())
    print(f"\nall measurements took {results['total_s']:.0f} s; JSON in {ns.out}/latest.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
