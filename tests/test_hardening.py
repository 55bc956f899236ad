"""Secrets in feed URLs never shown, OAuth signatures never logged, private files, and the
deployment files that set them up."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from bot.logs import Redactor
from bot.settings import load_settings
from bot.store import Store
from tests.botenv import bot_env, run_main
from tests.fakes.feed_server import FeedServer

ROOT = Path(__file__).resolve().parents[1]
RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>A story'
    b"</title><link>https://news.example/a</link><guid>a-1</guid></item></channel></rss>"
)


def test_credentials_in_feed_urls_are_masked_in_logs_status_and_json(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.route("/feed", body=RSS)
        server.redirect("/old", server.url("/feed"), status=301)
        host = f"127.0.0.1:{server.port}"
        feeds = f"http://bob:hunter22pw@{host}/feed?key=sekrit99k&page=1,http://{host}/old?token=tok3n77"
        env = bot_env(tmp_path, FEED_URLS=feeds, DRY_RUN="true", PLATFORMS="twitter",
                      LOG_LEVEL="DEBUG")  # fmt: skip
        outputs = [run_main(args, env, tmp_path) for args in (["poll", "--json"], ["status"])]
        outputs.append(run_main(["status", "--json"], env, tmp_path))
        outputs.append(run_main(["--help"], env, tmp_path))
    text = "\n".join(r.stdout + r.stderr for r in outputs)
    assert "bob:***@" in text and "key=***" in text  # the feeds are still named
    for secret in ("hunter22pw", "sekrit99k", "tok3n77"):
        assert secret not in text, text[max(0, text.find(secret) - 300) :][:600]
    settings = load_settings(env, tmp_path)
    assert {"hunter22pw", "sekrit99k", "tok3n77"} <= set(settings.secrets())


def test_oauth_signatures_and_url_credentials_are_masked_on_any_line() -> None:
    redact = Redactor()
    header = (
        'Authorization: OAuth oauth_nonce="n1", oauth_signature="a%2Fb%3D", oauth_version="1.0"'
    )
    assert redact(header) == header.replace("a%2Fb%3D", "***")
    assert redact("Signature: Zm9vYmFyYmF6") == "Signature: ***"
    assert redact("body: a=1&oauth_signature=Zm9v%3D&b=2") == "body: a=1&oauth_signature=***&b=2"
    assert redact("GET https://u:p4ss@h.example/x?api_key=k3y&x=1") == (
        "GET https://u:***@h.example/x?api_key=***&x=1"
    )


def test_the_sqlite_store_and_a_folder_it_creates_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store = Store.open(f"sqlite:///{tmp_path / 'data' / 'bot.db'}")
        store.close()
        existing = tmp_path / "old.db"
        existing.touch(mode=0o644)
        existing.chmod(0o644)
        Store.open(f"sqlite:///{existing}").close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "data" / "bot.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600


def test_deployment_files_keep_files_private_and_the_password_out() -> None:
    for unit in ("feedbot.service", "feedbot@.service"):
        text = (ROOT / "deploy" / unit).read_text("utf-8")
        service = text.split("[Service]", 1)[1].split("\n[", 1)[0]
        assert re.search(r"^UMask=0077$", service, re.M), unit
    compose = (ROOT / "deploy" / "docker-compose.yml").read_text("utf-8")
    assert "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?" in compose
    assert "feedbot:feedbot@" not in compose and "POSTGRES_PASSWORD: feedbot" not in compose
