"""The benchmark code at toy sizes, so it cannot rot between releases (it is not run in CI)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import ingest, micro
from benchmarks.farm import FarmState, kind_of
from benchmarks.run import main


def test_farm_documents_answer_like_a_wordpress_site() -> None:
    state = FarmState(feeds=40, items=30, new_items=2, now=datetime(2027, 1, 15, tzinfo=UTC))
    state.build()
    assert [kind_of(i) for i in range(3)] == ["fixed", "fresh", "same"]
    cold = state.docs["cold"][2]
    assert 30_000 < len(cold.body) < 60_000  # about 1 KB an item, like the 44 KB feed
    status, head, _ = state.answer("/feed/2/", {"if-none-match": cold.etag or ""})
    assert status == 304 and head["ETag"] == cold.etag
    state.phase = "warm"
    assert state.answer("/feed/1/", {"if-none-match": '"1-0"'})[0] == 200  # new items
    assert state.answer("/feed/0/", {})[2] == state.docs["cold"][0].body  # no validators
    assert state.answer("/feed/99/", {})[0] == 404


def test_bot_cycles_on_a_small_farm(tmp_path: Path) -> None:
    result = ingest.bot_cycles(feeds=20, items=5, new_items=2, hosts=3, workdir=str(tmp_path))
    cold, warm = result["cold"], result["warm"]
    assert cold["http_statuses"] == {"200": 20}
    assert result["stories_stored"] == 20 * 5 + 2  # backlog skipped, then one fresh feed's two
    assert warm["http_statuses"] == {"200": 2, "304": 18}
    assert warm["new_stories"] == 2 and warm["deliveries"] == {"dry_run": 6}
    assert warm["breakdown_s"]["fetch"] > 0 and warm["peak_rss_mb"] > 0


def test_naive_loop_and_micro_benchmarks() -> None:
    naive = ingest.naive_cycles(feeds=3, items=5, new_items=2, hosts=2)
    assert (
        naive["cold"]["new_stories"] == 15 and naive["warm"]["new_stories"] == 2
    )  # feed 1 is a fresh one
    parse = micro.parse_throughput(feeds=2, items=5, runs=1)
    assert parse["path"] == ["fast"] and parse["ratio"] > 1
    seen = micro.seen_lookup(stored=2_000, feeds=4, items=5, runs=1)
    assert seen["full"]["rows"] == 2_000 + 10 and seen["empty"]["rows"] == 10
    compose = micro.compose_throughput(stories=10, runs=1)
    assert all(compose[p]["posts_per_s"] > 0 for p in ("twitter", "facebook", "instagram"))


def test_run_quick_prints_every_table_and_saves_json(
    tmp_path: Path, capsys: object, monkeypatch: object
) -> None:
    import benchmarks.run as run

    sizes = {"feeds": 4, "stored": 1_000, "parse_docs": 2, "compose_stories": 5, "cli_feeds": 3}
    real = run.run
    monkeypatch.setattr(run, "run", lambda **kw: real(**{**kw, **sizes, "items": 5}))  # type: ignore[attr-defined]
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out  # type: ignore[attr-defined]
    titles = ("1. Poll cycles", "2. The naive loop", "3. Parse", "4. Seen-story", "5. Compose")
    for title in (*titles, "6. The command line"):
        assert title in printed
    saved = json.loads((tmp_path / "latest.json").read_text())
    assert set(saved["ratios"]) == {"cold", "warm"} and saved["targets"]["warm_wall_s"] == 2.0
    assert saved["command_line"]["warm_poll"]["http"] == {"200": 2, "304": 1}  # 3 feeds
    assert saved["command_line"]["ratio"] > 0
