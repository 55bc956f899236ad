"""SIGHUP makes a running worker read FEEDS_FILE again: a real process, a real signal. What
changed is logged; a bad file keeps the rules in force and says why."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from tests.botenv import Item, bot_env, write_feed
from tests.test_worker import Proc


def records(proc: Proc) -> list[dict[str, Any]]:
    return [json.loads(x) for x in proc.lines if x.startswith("{")]


def posted(proc: Proc, story: str) -> list[dict[str, Any]]:
    return [
        r
        for r in records(proc)
        if r["message"] == "dry run: would post" and r.get("story", "").endswith(story)
    ]


def has(message: str) -> Any:
    return lambda lines: any(message in x for x in lines)


def test_sighup_reloads_the_feeds_file_in_a_running_worker(tmp_path: Path) -> None:
    news = write_feed(tmp_path / "news.xml", [Item(1)])
    events = write_feed(tmp_path / "events.xml", [Item(20, categories=("Shows",))])
    path = tmp_path / "feeds.toml"
    path.write_text(f'[[feeds]]\nname = "news"\nurl = "{news}"\npoll_interval = "1s"\n')
    env = bot_env(tmp_path, FEEDS_FILE=str(path), DRY_RUN="true", PLATFORMS="twitter",
                  POLL_INTERVAL="1s", LOG_FORMAT="json")  # fmt: skip
    proc = Proc(["run"], env, tmp_path)
    try:
        assert proc.wait_for(lambda ls: bool(posted(proc, "story-1/"))), "".join(proc.lines)
        # a new feed with its own hashtag, and news on another schedule
        path.write_text(
            f'[[feeds]]\nname = "news"\nurl = "{news}"\npoll_interval = "2s"\n\n'
            f'[[feeds]]\nname = "events"\nurl = "{events}"\npoll_interval = "1s"\n'
            'hashtags = ["#JCKLasVegas"]\n'
        )
        os.kill(proc.p.pid, signal.SIGHUP)
        assert proc.wait_for(has("feeds file reloaded")), "".join(proc.lines)
        assert proc.wait_for(lambda ls: bool(posted(proc, "story-20/"))), "".join(proc.lines)
        # a bad file: the rules in force stay, the log says why
        path.write_text(path.read_text().replace('"#JCKLasVegas"', '"#2026"'))
        os.kill(proc.p.pid, signal.SIGHUP)
        assert proc.wait_for(has("feeds file not reloaded")), "".join(proc.lines)
        write_feed(tmp_path / "events.xml", [Item(20), Item(21, categories=("Shows",))])
        assert proc.wait_for(lambda ls: bool(posted(proc, "story-21/"))), "".join(proc.lines)
    finally:
        code, _ = proc.stop()
    assert code == 0
    assert not any("Traceback" in x for x in proc.lines), "".join(proc.lines)
    reloaded = next(r for r in records(proc) if r["message"].startswith("feeds file reloaded"))
    assert "feed 'events' added" in reloaded["message"]
    assert "feed 'news': poll_interval 1.0 -> 2.0" in reloaded["message"]
    assert reloaded["schedules"] == "every 2s, every 1s"
    refused = next(r for r in records(proc) if "feeds file not reloaded" in r["message"])
    assert str(path) in refused["message"] and "feed 'events', key hashtags" in refused["message"]
    assert refused["level"].lower() == "error"
    # the new feed's rules applied, before and after the refused reload
    assert "#JCKLasVegas #Shows" in posted(proc, "story-20/")[0]["text"]
    assert "#JCKLasVegas #Shows" in posted(proc, "story-21/")[0]["text"]
