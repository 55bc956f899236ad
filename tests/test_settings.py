"""Settings: every variable's good and bad values, precedence, the demo fallback, exit code 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.platforms import registry
from bot.settings import PROJECT_ROOT, Backlog, Secret, load_settings
from tests.envvars import ALL_VARIABLES

FEED = {"FEED_URLS": "https://example.com/feed/"}
TW = {
    "TWITTER_API_KEY": "ck-123456",
    "TWITTER_API_SECRET": "cs-123456",
    "TWITTER_ACCESS_TOKEN": "at-123456",
    "TWITTER_ACCESS_TOKEN_SECRET": "as-123456",
}


def load(env: dict[str, str], cwd: Path) -> object:
    return load_settings({**FEED, **env}, cwd)


GOOD = [
    ("POLL_INTERVAL", "90", "poll_interval", 90.0),
    ("POLL_INTERVAL", "90s", "poll_interval", 90.0),
    ("POLL_INTERVAL", "10m", "poll_interval", 600.0),
    ("POLL_INTERVAL", "1h", "poll_interval", 3600.0),
    ("POLL_INTERVAL", "1h30m", "poll_interval", 5400.0),
    ("POLL_CRON", "*/10 * * * *", "poll_cron", "*/10 * * * *"),
    ("TIMEZONE", "America/New_York", "timezone", "America/New_York"),
    ("PLATFORMS", "twitter", "platforms", ("twitter",)),
    ("DRY_RUN", "true", "dry_run", True),
    ("DRY_RUN", "no", "dry_run", False),
    ("DATABASE_URL", "sqlite:////srv/x.db", "database_url", "sqlite:////srv/x.db"),
    ("DATABASE_URL", "postgres://u:p@h/db", "database_url", "postgresql+psycopg://u:p@h/db"),
    ("DATABASE_URL", "postgresql://u:p@h/db", "database_url", "postgresql+psycopg://u:p@h/db"),
    ("BACKLOG", "skip", "backlog", Backlog("skip")),
    ("BACKLOG", "all", "backlog", Backlog("all")),
    ("BACKLOG", "latest:3", "backlog", Backlog("latest", 3)),
    ("LOG_LEVEL", "debug", "log_level", "DEBUG"),
    ("LOG_FORMAT", "json", "log_format", "json"),
    ("HTTP_TIMEOUT", "5s", "http_timeout", 5.0),
    ("MAX_FEED_BYTES", "2MB", "max_feed_bytes", 2_000_000),
    ("MAX_FEED_BYTES", "1000", "max_feed_bytes", 1000),
    ("FEED_CONCURRENCY", "4", "feed_concurrency", 4),
    ("MAX_STORY_AGE", "0", "max_story_age", None),
    ("MAX_STORY_AGE", "3d", "max_story_age", 259200.0),
    ("INCLUDE_KEYWORDS", "diamond, lab-grown", "include_keywords", ("diamond", "lab-grown")),
    ("EXCLUDE_CATEGORIES", "Sponsored", "exclude_categories", ("Sponsored",)),
    ("POST_SPACING", "2m", "post_spacing", 120.0),
    ("MAX_POSTS_PER_HOUR", "6", "max_posts_per_hour", 6),
    ("RETRY_BASE_SECONDS", "10", "retry_base_seconds", 10.0),
    ("MAX_ATTEMPTS", "3", "max_attempts", 3),
    ("LEASE_SECONDS", "30s", "lease_seconds", 30.0),
    (
        "HTTPS_PROXY",
        "http://proxy.internal:3128",
        "proxies",
        {"https": "http://proxy.internal:3128"},
    ),
    ("HTTP_PROXY", "proxy.internal:3128", "proxies", {"http": "http://proxy.internal:3128"}),
    ("NO_PROXY", "localhost,.internal", "proxies", {"no": "localhost,.internal"}),
]


@pytest.mark.parametrize(("name", "raw", "attr", "expected"), GOOD, ids=lambda v: str(v)[:20])
def test_good_values(name: str, raw: str, attr: str, expected: object, clean_env: Path) -> None:
    env = {name: raw, **(TW if name == "PLATFORMS" else {})}
    settings = load(env, clean_env)
    assert getattr(settings, attr) == expected


BAD = [
    ("POLL_INTERVAL", "abc", "POLL_INTERVAL='abc' is not a duration; use e.g. 90s, 10m or 1h"),
    ("POLL_INTERVAL", "0", "POLL_INTERVAL='0' must be longer than zero"),
    ("POLL_CRON", "every day", "POLL_CRON='every day' is not a 5-field crontab"),
    ("POLL_CRON", "61 * * * *", "POLL_CRON='61 * * * *' is not a valid crontab"),
    ("TIMEZONE", "Mars/Olympus", "TIMEZONE='Mars/Olympus' is not an IANA time zone"),
    ("PLATFORMS", "twitter,myspace", "PLATFORMS has 'myspace', which is not a platform"),
    ("DRY_RUN", "maybe", "DRY_RUN='maybe' is not a boolean; use true or false"),
    ("DATABASE_URL", "mysql://x", "DATABASE_URL='mysql://x' is not a supported database URL"),
    ("BACKLOG", "some", "BACKLOG='some' is not a backlog mode; use skip, latest:3 or all"),
    ("BACKLOG", "latest:0", "BACKLOG='latest:0' is not a backlog mode"),
    ("TWITTER_HANDLE", "@bad handle!", "TWITTER_HANDLE='@bad handle!' is not a twitter handle"),
    ("TWITTER_HANDLE", "@jck-magazine", "TWITTER_HANDLE='@jck-magazine' is not a twitter handle"),
    ("MASTODON_HANDLE", "jck magazine", "MASTODON_HANDLE='jck magazine' is not a mastodon handle"),
    ("BLUESKY_HANDLE", "@jckmagazine", "BLUESKY_HANDLE='@jckmagazine' is not a Bluesky handle"),
    (
        "LINKEDIN_HANDLE",
        "@jckmagazine",
        "LINKEDIN_HANDLE='@jckmagazine' is not a linkedin handle (an organization or person URN, "
        "e.g. urn:li:organization:",
    ),
    ("LOG_LEVEL", "loud", "LOG_LEVEL='loud' is not one of"),
    ("LOG_FORMAT", "xml", "LOG_FORMAT='xml' is not one of text, json"),
    ("HTTP_TIMEOUT", "soon", "HTTP_TIMEOUT='soon' is not a duration"),
    ("MAX_FEED_BYTES", "big", "MAX_FEED_BYTES='big' is not a size"),
    ("FEED_CONCURRENCY", "0", "FEED_CONCURRENCY='0' is out of range"),
    ("MAX_STORY_AGE", "old", "MAX_STORY_AGE='old' is not a duration"),
    ("HASHTAGS_TWITTER", "31", "HASHTAGS_TWITTER='31' is out of range"),
    ("HASHTAGS_INSTAGRAM", "five", "HASHTAGS_INSTAGRAM='five' is not a whole number"),
    ("POST_SPACING", "-1", "POST_SPACING='-1' is not a duration"),
    ("MAX_POSTS_PER_HOUR", "many", "MAX_POSTS_PER_HOUR='many' is not a whole number"),
    ("QUIET_HOURS", "late", "QUIET_HOURS='late' is not a time window; use e.g. 23:00-06:00"),
    ("QUIET_HOURS", "25:00-06:00", "QUIET_HOURS='25:00-06:00' is not a time window"),
    ("RETRY_BASE_SECONDS", "x", "RETRY_BASE_SECONDS='x' is not a duration"),
    ("MAX_ATTEMPTS", "0", "MAX_ATTEMPTS='0' is out of range"),
    ("TWITTER_API_BASE_URL", "api.x.com", "TWITTER_API_BASE_URL='api.x.com' is not an http(s) URL"),
    (
        "GRAPH_API_VERSION",
        "25",
        "GRAPH_API_VERSION='25' is not a Graph API version; use e.g. v25.0",
    ),
    ("FACEBOOK_POST_TYPE", "video", "FACEBOOK_POST_TYPE='video' is not one of link, photo"),
    ("FEED_URLS", "ftp://example.com/feed", "FEED_URLS has 'ftp://example.com/feed'"),
    ("FEED_URLS", " , ", "FEED_URLS is empty"),
    ("ALL_PROXY", "socks5://u:hunter2@p:1080", "ALL_PROXY is not an http(s) proxy URL"),
]


@pytest.mark.parametrize(("name", "raw", "message"), BAD, ids=lambda v: str(v)[:20])
def test_bad_values(name: str, raw: str, message: str, clean_env: Path) -> None:
    env = {name: raw}
    if name in ("TWITTER_API_BASE_URL",):
        env.update(TW)
    if name == "FACEBOOK_POST_TYPE":
        env.update({"FACEBOOK_PAGE_ID": "123", "FACEBOOK_PAGE_ACCESS_TOKEN": "tok-1234"})
    with pytest.raises(ConfigError) as info:
        load(env, clean_env)
    assert message in str(info.value)
    assert info.value.variable == name


def test_proxy_spellings_and_passwords(clean_env: Path) -> None:
    settings = load(
        {
            "https_proxy": "http://bot:s3cret-pw@proxy.internal:3128",
            "HTTPS_PROXY": "http://other:3128",
            "no_proxy": "intranet.example",
        },
        clean_env,
    )
    assert settings.proxies == {
        "https": "http://bot:s3cret-pw@proxy.internal:3128",  # the lower-case spelling wins
        "no": "intranet.example",
    }
    assert "s3cret-pw" in settings.secrets()  # masked in every log line
    with pytest.raises(ConfigError) as info:
        load({"HTTPS_PROXY": "socks5://bot:hunter2@p:1080"}, clean_env)
    assert "hunter2" not in str(info.value)  # the message never repeats a proxy's password


def test_missing_feed_urls_with_env_file(clean_env: Path) -> None:
    (clean_env / ".env").write_text("DRY_RUN=true\n")
    with pytest.raises(ConfigError, match="FEED_URLS is not set"):
        load_settings({}, clean_env)


def test_partial_twitter_credentials_name_the_missing_one(clean_env: Path) -> None:
    env = dict(TW)
    del env["TWITTER_ACCESS_TOKEN_SECRET"]
    with pytest.raises(ConfigError) as info:
        load(env, clean_env)
    assert info.value.variable == "TWITTER_ACCESS_TOKEN_SECRET"


def test_listed_platform_without_credentials_is_refused_unless_dry_run(clean_env: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load({"PLATFORMS": "facebook"}, clean_env)
    assert "FACEBOOK_PAGE_ID" in str(info.value)
    settings = load({"PLATFORMS": "facebook", "DRY_RUN": "true"}, clean_env)
    assert settings.platforms == ("facebook",)


def test_platforms_default_to_those_with_credentials(clean_env: Path) -> None:
    settings = load({**TW, "FACEBOOK_PAGE_ID": "1", "FACEBOOK_PAGE_ACCESS_TOKEN": "tok"}, clean_env)
    assert settings.platforms == ("twitter", "facebook")
    assert isinstance(settings.section("twitter").api_key, Secret)
    assert "ck-123456" not in repr(settings)


def test_instagram_token_falls_back_to_page_token(clean_env: Path) -> None:
    env = {"FACEBOOK_PAGE_ID": "1", "FACEBOOK_PAGE_ACCESS_TOKEN": "page-tok",
           "INSTAGRAM_USER_ID": "1784"}  # fmt: skip
    settings = load(env, clean_env)
    assert settings.section("instagram").access_token.reveal() == "page-tok"


def test_local_paths_become_file_urls(clean_env: Path) -> None:
    # Relative to the env file's folder; with no env file, to the project folder (not the cwd).
    (clean_env / ".env").write_text("FEED_URLS=feeds/a.xml, https://x.org/rss file:///tmp/b.xml\n")
    settings = load_settings({}, clean_env)
    assert settings.feed_urls == (
        (clean_env / "feeds/a.xml").resolve().as_uri(),
        "https://x.org/rss",
        "file:///tmp/b.xml",
    )
    settings = load({"FEED_URLS": "feeds/a.xml"}, clean_env / "elsewhere")
    assert settings.feed_urls == ((PROJECT_ROOT / "feeds/a.xml").as_uri(),)


def test_process_environment_wins_over_env_file(clean_env: Path) -> None:
    (clean_env / ".env").write_text(
        "FEED_URLS=https://from-file.example/feed\nPOLL_INTERVAL=5m\nLOG_LEVEL=debug\n"
    )
    settings = load_settings({"POLL_INTERVAL": "1h"}, clean_env)
    assert settings.feed_urls == ("https://from-file.example/feed",)
    assert settings.poll_interval == 3600.0  # process wins
    assert settings.log_level == "DEBUG"  # file fills the rest
    assert not settings.demo


def test_demo_when_no_env_file_and_no_feed_urls(clean_env: Path) -> None:
    settings = load_settings({}, clean_env)
    assert settings.demo
    assert settings.dry_run
    assert settings.feed_urls == ((PROJECT_ROOT / "config/sample-feed.xml").as_uri(),)
    assert settings.platforms == ("twitter", "facebook", "instagram")
    assert settings.backlog == Backlog("all")
    assert settings.handles["twitter"] == "@jckmagazine"


def test_no_demo_when_feed_urls_set_in_process(clean_env: Path) -> None:
    settings = load_settings({"FEED_URLS": "https://a.example/feed"}, clean_env)
    assert not settings.demo


def test_every_variable_is_documented_in_env_example() -> None:
    example = (PROJECT_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    source = (PROJECT_ROOT / "bot/settings.py").read_text()
    source += (PROJECT_ROOT / "bot/settings_reach.py").read_text()
    source += (PROJECT_ROOT / "bot/platforms/graph_settings.py").read_text()
    for spec in registry.specs():  # each registered platform's own variables
        source += (PROJECT_ROOT / f"bot/platforms/{spec.name}/settings.py").read_text()
    read = set(re.findall(r"\"([A-Z][A-Z0-9_]{3,})\"", source)) - {"UTC", "INFO", "PROJECT_ROOT"}
    assert read <= set(ALL_VARIABLES), read - set(ALL_VARIABLES)
    assert set(ALL_VARIABLES) <= documented, set(ALL_VARIABLES) - documented


def test_bad_value_exits_2_with_one_message(clean_env: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "FEED_URLS": "https://a.example/feed", "POLL_INTERVAL": "abc"}
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), "poll", "--dry-run"],
        env=env, cwd=clean_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "POLL_INTERVAL='abc' is not a duration; use e.g. 90s, 10m or 1h" in result.stderr
    assert result.stdout == ""


def test_each_platform_takes_its_own_handle_syntax(clean_env: Path) -> None:
    """The brand handles the README shows for each network are taken as written: a Bluesky
    domain (hyphens and all), a Mastodon user@instance; each is checked by its own platform's
    rule, active or not."""
    settings = load(
        {
            "TWITTER_HANDLE": "jckmagazine",
            "BLUESKY_HANDLE": "jck-magazine.bsky.social",
            "MASTODON_HANDLE": "@jckmagazine@mastodon.social",
            "INSTAGRAM_HANDLE": "@jck.magazine",
        },
        clean_env,
    )
    handles = settings.handles  # type: ignore[attr-defined]
    assert handles["twitter"] == "@jckmagazine"
    assert handles["bluesky"] == "@jck-magazine.bsky.social"
    assert handles["mastodon"] == "@jckmagazine@mastodon.social"
    assert handles["instagram"] == "@jck.magazine"
