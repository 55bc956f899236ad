"""The command line imports per command: `--help` and `status` stay quick.

Each check runs in a fresh interpreter (this test process has imported everything already) and
reads `sys.modules` after the command ran, so a heavy import slipped into bot/cli.py, or into a
module it imports at the top, fails here instead of silently slowing every command down.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from twitter_text import parse_tweet

from bot.settings import PROJECT_ROOT
from bot.weighted_length import weighted_length
from tests.botenv import Item, bot_env, write_feed

# Each one costs tens of milliseconds or more to import; none is needed to print help.
HEAVY = (
    "tweepy",
    "sqlalchemy",
    "aiohttp",
    "httpx",
    "feedparser",
    "twitter_text",
    "lxml",
    "requests",
    "requests_oauthlib",
    "apscheduler",
    "psycopg",
    "PIL",
    "boto3",
    "botocore",
    "apprise",
)
# `status` reads the store (SQLAlchemy) and nothing that talks to a feed or a platform.
NOT_FOR_STATUS = tuple(name for name in HEAVY if name not in ("sqlalchemy", "psycopg"))

PROBE = """
import json, sys
from bot.cli import cli, main
imported_with_module = sorted({m.split(".")[0] for m in sys.modules})
runs = json.loads(sys.argv[1])
if runs == "every-help":
    runs = [["--help"]] + [[name, "--help"] for name in sorted(cli.commands)]
codes = [main(args) for args in runs]
print(json.dumps({
    "module": imported_with_module,
    "after": sorted({m.split(".")[0] for m in sys.modules}),
    "after_full": sorted(sys.modules),
    "codes": codes,
    "commands": sorted(cli.commands),
}))
"""


def probe(runs: object, tmp: Path, **env: str) -> dict[str, list]:
    """What the commands `runs` imported, in a fresh interpreter; "printed" holds the lines the
    commands wrote to stdout before the probe's own."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(runs)],
        env={**bot_env(tmp, **env), "PYTHONPATH": str(PROJECT_ROOT)},
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    *printed, last = result.stdout.splitlines()
    return {**json.loads(last), "printed": printed}


def test_importing_the_cli_and_every_help_imports_no_heavy_module(tmp_path: Path) -> None:
    seen = probe("every-help", tmp_path)
    assert "status" in seen["commands"] and "run" in seen["commands"]
    assert all(code == 0 for code in seen["codes"])
    assert [name for name in HEAVY if name in seen["module"]] == []
    assert [name for name in HEAVY if name in seen["after"]] == []


def test_status_imports_the_store_but_no_feed_or_platform_client(tmp_path: Path) -> None:
    seen = probe([["status", "--json"]], tmp_path)
    assert "sqlalchemy" in seen["after"]  # the probe really ran status against a store
    assert [name for name in NOT_FOR_STATUS if name in seen["after"]] == []


def test_the_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    # The checks above would pass vacuously if the probe could not see imports made by a command.
    seen = probe([["preview", "--limit", "1"]], tmp_path)
    assert "feedparser" in seen["after"] or "aiohttp" in seen["after"]


def test_a_dry_run_poll_without_credentials_loads_no_client_stack_pillow_or_emoji_table(
    tmp_path: Path,
) -> None:
    """What a dry run (the demo, a first try) does not need is not loaded: the X client stack
    (tweepy, requests, oauthlib), Pillow when no image is fitted, and twitter_text's emoji
    table (pkg_resources and a regular expression of thousands of sequences) for ASCII text."""
    feed = write_feed(tmp_path / "feed.xml", [Item(1, image=False), Item(2, image=False)])
    seen = probe(
        [["poll", "--json"]], tmp_path, FEED_URLS=feed, DRY_RUN="true", PLATFORMS="twitter,facebook"
    )
    assert seen["codes"] == [0]
    posted = [json.loads(line) for line in seen["printed"]]
    assert {p["platform"] for p in posted} == {"twitter", "facebook"}  # it really composed
    # The story links were weighed as links by the shortcut for plain links, as the package
    # weighs them, without loading the package's URL expressions.
    tweets = [p["text"] for p in posted if p["platform"] == "twitter"]
    assert tweets and all("https://news.example.com/story-" in text for text in tweets)
    assert [weighted_length(t) for t in tweets] == [parse_tweet(t).weightedLength for t in tweets]
    assert "twitter_text.extract_urls" not in seen["after_full"]
    loaded = set(seen["after"])
    assert loaded.isdisjoint({"tweepy", "requests", "requests_oauthlib", "PIL", "pkg_resources"})
    assert "twitter_text.regexp.emoji" not in seen["after_full"]
