"""FEEDS_FILE: loading, defaults, and the validation table (exit 2, one line naming the file,
the feed, the key and an example)."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from bot.app import build_app
from bot.errors import ConfigError
from bot.feed_rules import describe_changes, find_feed
from bot.settings import Settings, load_settings
from bot.settings_values import Backlog
from tests.botenv import bot_env, run_main

X_CREDENTIALS = {
    "TWITTER_API_KEY": "k",
    "TWITTER_API_SECRET": "s",
    "TWITTER_ACCESS_TOKEN": "t",
    "TWITTER_ACCESS_TOKEN_SECRET": "ts",
}
PAGE = {"FACEBOOK_PAGE_ID": "104123456789012", "FACEBOOK_PAGE_ACCESS_TOKEN": "page-token"}

GOOD = """
[[feeds]]
name = "news"
url = "https://news.example.com/feed/"

[[feeds]]
name = "jobs"
url = "https://news.example.com/jobs/feed/"
platforms = ["facebook"]
poll_interval = "2h"
include_categories = ["Jobs"]
approval = true

[[feeds]]
name = "events"
url = "https://news.example.com/events/feed/"
hashtags = ["#JCKLasVegas", "Trade Show"]
templates = { twitter = "templates/events.txt" }
poll_cron = "0 9,17 * * *"
backlog = 2
max_story_age = 0
utm_campaign = "events"
exclude_keywords = "sponsored, advertorial"
post_slots = { twitter = ["17:00", "09:00"] }
slot_size = 2
"""


def settings_with(tmp: Path, text: str, **env: str) -> Settings:
    (tmp / "templates").mkdir(exist_ok=True)
    (tmp / "templates" / "events.txt").write_text("{title} {hashtags} {url}\n")
    path = tmp / "feeds.toml"
    path.write_text(text, encoding="utf-8")
    values = bot_env(tmp, FEEDS_FILE=str(path), **X_CREDENTIALS, **PAGE)
    values.pop("BACKLOG")
    values.pop("MAX_STORY_AGE")
    values.update(env)
    return load_settings(values, tmp)


def test_each_feed_has_its_rules_and_every_key_left_out_takes_the_env_value(
    tmp_path: Path,
) -> None:
    settings = settings_with(
        tmp_path, GOOD, POLL_INTERVAL="5m", INCLUDE_KEYWORDS="diamond", BACKLOG="latest:5"
    )
    news, jobs, events = settings.feeds
    assert settings.feed_urls == tuple(f.url for f in settings.feeds)
    assert (news.name, news.platforms, news.poll_interval, news.poll_cron) == (
        "news",
        ("twitter", "facebook"),
        300.0,
        None,
    )
    assert news.include_keywords == ("diamond",) and news.backlog == Backlog("latest", 5)
    assert news.max_story_age == 172800.0 and news.approval == () and news.from_file
    assert jobs.platforms == ("facebook",) and jobs.poll_interval == 7200.0
    assert jobs.include_categories == ("Jobs",) and jobs.approval == ("facebook",)
    assert events.hashtags == ("#JCKLasVegas", "#Trade Show")  # made #TradeShow when composed
    assert events.templates == {"twitter": (tmp_path / "templates" / "events.txt").resolve()}
    assert events.poll_cron == "0 9,17 * * *" and events.schedule_text == "cron 0 9,17 * * *"
    assert events.backlog == Backlog("latest", 2) and events.max_story_age is None
    assert events.utm_campaign == "events"
    assert events.exclude_keywords == ("sponsored", "advertorial")
    assert events.post_slots == {"twitter": (time(9), time(17))} and events.slot_size == 2
    assert find_feed(settings.feeds, "EVENTS") is events
    assert find_feed(settings.feeds, jobs.url) is jobs


def test_feed_urls_feeds_take_the_defaults_and_come_after_the_files(tmp_path: Path) -> None:
    settings = settings_with(
        tmp_path, GOOD, FEED_URLS="https://other.example.com/rss", POLL_INTERVAL="7m"
    )
    last = settings.feeds[-1]
    assert settings.feed_urls[-1] == "https://other.example.com/rss"
    assert (last.name, last.from_file, last.poll_interval) == (last.url, False, 420.0)
    assert last.platforms == ("twitter", "facebook")


def test_default_feeds_file_is_config_feeds_toml_beside_the_env_file(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "feeds.toml").write_text(
        '[[feeds]]\nname = "a"\nurl = "https://a.example.com/feed"\n'
    )
    env_file = tmp_path / ".env"
    env_file.write_text("DRY_RUN=true\n")
    settings = load_settings({"PATH": "/bin"}, tmp_path)
    assert [f.name for f in settings.feeds] == ["a"]
    assert settings.feeds_file == tmp_path / "config" / "feeds.toml"


def test_without_feeds_file_or_feed_urls_the_error_names_both(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DRY_RUN=true\n")
    with pytest.raises(ConfigError, match=r"FEED_URLS is not set.*FEEDS_FILE"):
        load_settings({"PATH": "/bin"}, tmp_path)


def feed(extra: str, url: str = "https://x.example.com/feed", name: str = "column") -> str:
    return f'[[feeds]]\nname = "{name}"\nurl = "{url}"\n{extra}\n'


# (feeds file, the key the message names, words the message must hold)
BAD = [
    (feed("colour = 'red'"), "colour", "not a feed key"),
    (feed("poll_intervall = '5m'"), "poll_intervall", "did you mean poll_interval"),
    ('[[feeds]]\nname = "column"\n', "url", "missing"),
    (feed("platforms = ['myspace']"), "platforms", "'myspace' is not a platform"),
    (feed("platforms = ['instagram']"), "platforms", "instagram is not configured"),
    (feed("platforms = []"), "platforms", "post nowhere"),
    (feed("platforms = 3"), "platforms", "list of strings"),
    (feed("hashtags = ['#2026']"), "hashtags", "makes no hashtag"),
    (feed("templates = { twitter = 'nope.txt' }"), "templates", "not found"),
    (feed("templates = { instagram = 'templates/events.txt' }"), "templates", "not one of this"),
    (feed("poll_interval = 'soon'"), "poll_interval", "not a duration"),
    (feed("poll_interval = '5m'\npoll_cron = '* * * * *'"), "poll_cron", "not both"),
    (feed("poll_cron = 'every day'"), "poll_cron", "5-field crontab"),
    (feed("backlog = 'some'"), "backlog", "not a backlog mode"),
    (feed("max_story_age = true"), "max_story_age", "duration"),
    (feed("utm_campaign = '{campaign}'"), "utm_campaign", "unknown field"),
    (feed("approval = ['instagram']"), "approval", "instagram is not configured"),
    (feed("platforms = ['facebook']\napproval = ['twitter']"), "approval", "not one of this"),
    (feed("post_slots = ['25:00']"), "post_slots", "not a time of day"),
    (feed("slot_size = 0"), "slot_size", "1 or more"),
    (feed("url = 'ftp://x.example.com/feed'", url="ftp://x"), "url", "only http(s)"),
    (feed("") + feed("", url="https://y.example.com/", name="Column"), "name", "already the name"),
    (feed("") + feed("", name="other"), "url", "already the url"),
]


@pytest.mark.parametrize(("text", "key", "words"), BAD, ids=[b[1] + "-" + b[2] for b in BAD])
def test_validation_names_the_file_the_feed_the_key_and_an_example(
    tmp_path: Path, text: str, key: str, words: str
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "bad.txt").write_text("{titel} {url}\n")
    if "ftp://" in text:  # the url key given twice is a TOML error: keep one
        text = text.replace('url = "ftp://x"\n', "")
    with pytest.raises(ConfigError) as caught:
        settings_with(tmp_path, text)
    message = str(caught.value)
    assert str(tmp_path / "feeds.toml") in message
    assert "feed 'column'" in message or "feed 'Column'" in message or "x.example.com" in message
    assert f"key {key}" in message
    assert words in message
    assert "e.g." in message or "known keys" in message
    assert "\n" not in message
    assert caught.value.variable == "FEEDS_FILE"


def test_a_template_naming_an_unknown_field_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "bad.txt").write_text("{titel} {url}\n")
    text = feed("platforms = ['twitter']\ntemplates = { twitter = 'templates/bad.txt' }")
    settings = settings_with(tmp_path, text, DRY_RUN="true")
    with pytest.raises(ConfigError) as caught:
        build_app(settings)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'feeds.toml'}: feed 'column', key templates: twitter")
    assert "unknown field {titel}" in message and "e.g. templates = " in message
    assert caught.value.variable == "FEEDS_FILE"


def test_a_url_in_both_feeds_file_and_feed_urls_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"feed 'news', key url: .* is in FEED_URLS too"):
        settings_with(tmp_path, GOOD, FEED_URLS="https://news.example.com/feed/")


def test_broken_toml_and_a_missing_file_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"feeds\.toml: not valid TOML"):
        settings_with(tmp_path, "[[feeds]\nurl = 1")
    with pytest.raises(ConfigError, match=r"FEEDS_FILE=.*nowhere\.toml: no such file"):
        settings_with(tmp_path, GOOD, FEEDS_FILE=str(tmp_path / "nowhere.toml"))
    with pytest.raises(ConfigError, match="no feeds"):
        settings_with(tmp_path, "title = 'feeds'\n".replace("title", "feeds"))


def test_a_bad_file_exits_2_with_one_line_on_stderr(tmp_path: Path) -> None:
    path = tmp_path / "feeds.toml"
    path.write_text(feed("platforms = ['facebook']\npoll_interval = 'fortnightly'"))
    env = bot_env(tmp_path, FEEDS_FILE=str(path), DRY_RUN="true")
    done = run_main(["status"], env, tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(path) in lines[0] and "feed 'column', key poll_interval" in lines[0]
    assert "e.g. poll_interval = " in lines[0] and "Traceback" not in done.stderr


def test_describe_changes_says_what_a_reload_changed(tmp_path: Path) -> None:
    old = settings_with(tmp_path, GOOD).feeds
    new_text = GOOD.replace('poll_interval = "2h"', 'poll_interval = "1h"').replace(
        '[[feeds]]\nname = "news"\nurl = "https://news.example.com/feed/"\n', ""
    )
    new = settings_with(tmp_path, new_text + feed("", name="column")).feeds
    lines = describe_changes(old, new)
    assert "feed 'column' added (https://x.example.com/feed)" in lines
    assert "feed 'news' removed (https://news.example.com/feed/)" in lines
    assert "feed 'jobs': poll_interval 7200.0 -> 3600.0" in lines
    assert describe_changes(old, old) == []


def test_the_example_feeds_file_and_the_demos_load(tmp_path: Path) -> None:
    from bot.settings import PROJECT_ROOT

    example = PROJECT_ROOT / "config" / "feeds.example.toml"
    env = bot_env(tmp_path, FEEDS_FILE=str(example), DRY_RUN="true")
    settings = load_settings(env, tmp_path)
    assert [f.name for f in settings.feeds] == ["news", "jobs", "events", "column"]
    build_app(settings).close()  # its template is read and fits
    demo = load_settings({"PATH": "/bin"}, tmp_path)
    assert demo.demo and [f.name for f in demo.feeds] == ["news"]
    assert demo.feeds[0].url.endswith("config/sample-feed.xml")
