"""A platform is a package: the registry finds it, settings read its section, and reading any of
that imports no client library (the adapter only when a publisher is built)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.models import Limits
from bot.platforms import registry
from bot.platforms.spec import Env, PlatformSpec, Section
from bot.settings import PROJECT_ROOT, Secret, load_settings
from tests.envvars import ALL_VARIABLES

HEAVY = ("tweepy", "requests", "httpx", "PIL", "twitter_text", "sqlalchemy", "feedparser", "boto3")


def test_the_registry_finds_the_packages_and_passes_shared_code_by() -> None:
    assert registry.names()[:3] == ("twitter", "facebook", "instagram")  # in their order
    assert [s.label for s in registry.specs()][:3] == ["X", "Facebook", "Instagram"]
    assert registry.labels().startswith("X, Facebook")
    assert registry.labels().endswith(" and " + registry.specs()[-1].label)
    platforms = PROJECT_ROOT / "bot/platforms"
    with_spec = {
        p.parent.name for p in platforms.glob("*/__init__.py") if "PLATFORM =" in p.read_text()
    }
    assert set(registry.names()) == with_spec  # every folder with a spec, nothing else
    assert not {"graph", "graph_settings", "hosting", "dryrun", "base"} & set(registry.names())
    with pytest.raises(ConfigError, match="'myspace' is not a platform; use one of twitter, "):
        registry.spec("myspace")


def _write_package(root: Path, name: str, declared: str | None) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    body = "PLATFORM = None\n"
    if declared is not None:
        body = textwrap.dedent(f"""
            from bot.models import Limits
            from bot.platforms.spec import PlatformSpec, Section
            PLATFORM = PlatformSpec(
                name={declared!r}, order=5, limits=Limits(500, label={declared.title()!r}),
                section=Section(read=lambda env: None, credentials=("A",), auth_variables=("A",),
                                base_url_variable="B", api_url=str),
                adapter="nowhere:Nothing",
            )
        """)
    (folder / "__init__.py").write_text(body)


def test_a_new_folder_is_a_new_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "probeplatforms"
    _write_package(root, "mynet", "mynet")
    _write_package(root, "shared", None)  # shared code: no spec
    (root / "helpers.py").write_text("PLATFORM = 1\n")  # a module, not a package
    (root / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = registry.discover(root, "probeplatforms")
    assert list(found) == ["mynet"] and found["mynet"].label == "Mynet"


def test_a_package_must_be_named_after_its_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "badplatforms"
    _write_package(root, "folder", "other")
    (root / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RuntimeError, match="named after it"):
        registry.discover(root, "badplatforms")


# --- a platform's settings section, as settings gather it ---------------------------------------


@dataclass(frozen=True)
class ExampleSettings:
    account: str
    token: Secret


def _read(env: Env) -> ExampleSettings | None:
    account, token = env.raw("EXAMPLE_ACCOUNT"), env.secret("EXAMPLE_TOKEN")
    if account is None and token is None:
        return None
    if token is None:
        raise ConfigError(
            "EXAMPLE_TOKEN is not set but EXAMPLE_ACCOUNT is; set both", "EXAMPLE_TOKEN"
        )
    return ExampleSettings(account or "", token)


EXAMPLE = PlatformSpec(
    name="example",
    order=99,
    limits=Limits(max_length=500, default_hashtags=4, label="Example"),
    section=Section(
        read=_read,
        credentials=("EXAMPLE_ACCOUNT", "EXAMPLE_TOKEN"),
        auth_variables=("EXAMPLE_TOKEN",),
        base_url_variable="EXAMPLE_BASE_URL",
        api_url=lambda section: "https://api.example.org",
        read_when_needed=("EXAMPLE_BASE_URL",),
    ),
    adapter="nowhere:Nothing",
)


@pytest.fixture
def with_example(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    found = {**registry._found(), "example": EXAMPLE}
    monkeypatch.setattr(registry, "_found", lambda: found)
    yield


def _load(tmp: Path, **env: str) -> object:
    return load_settings({"FEED_URLS": "https://news.example/feed", **env}, tmp)


def test_settings_gather_a_new_platforms_section(tmp_path: Path, with_example: None) -> None:
    settings = _load(tmp_path, EXAMPLE_ACCOUNT="me", EXAMPLE_TOKEN="s3cret-token",
                     EXAMPLE_HANDLE="@me", EXAMPLE_BASE_URL="x")  # fmt: skip
    assert settings.platforms == ("example",)  # the only one with credentials
    assert settings.section("example") == ExampleSettings("me", Secret("s3cret-token"))
    assert "s3cret-token" in settings.secrets()  # masked in every log line
    assert settings.handles["example"] == "@me"
    assert settings.hashtag_caps["example"] == 4  # the spec's default
    assert not settings.warnings  # EXAMPLE_BASE_URL is a known name though nobody read it


def test_a_sections_own_validation_names_the_variable(tmp_path: Path, with_example: None) -> None:
    with pytest.raises(ConfigError, match="EXAMPLE_TOKEN is not set") as caught:
        _load(tmp_path, EXAMPLE_ACCOUNT="me")
    assert caught.value.variable == "EXAMPLE_TOKEN"


def test_a_listed_platform_without_credentials_names_them(
    tmp_path: Path, with_example: None
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, PLATFORMS="example")
    assert str(caught.value) == (
        "PLATFORMS lists 'example' but EXAMPLE_ACCOUNT and EXAMPLE_TOKEN are not set; set them, "
        "or remove example from PLATFORMS, or run with DRY_RUN=true"
    )
    assert caught.value.variable == "EXAMPLE_ACCOUNT"
    assert _load(tmp_path, PLATFORMS="example", DRY_RUN="true").platforms == ("example",)


def test_every_variable_a_package_declares_is_documented() -> None:
    for spec in registry.specs():
        section = spec.section
        declared = {*section.credentials, *section.auth_variables, section.base_url_variable}
        declared |= {*section.read_when_needed, spec.handle_variable, spec.hashtags_variable}
        declared.add(spec.slots_variable)
        assert declared <= set(ALL_VARIABLES), (spec.name, declared - set(ALL_VARIABLES))


# --- light: specs and settings import no client library -----------------------------------------

PROBE = """
import json, sys
from pathlib import Path
from bot.platforms import registry
from bot.settings import load_settings
specs = registry.specs()
facts = [(s.name, s.label, s.limits.max_length, s.section.credentials) for s in specs]
settings = load_settings(json.loads(sys.argv[1]), Path.cwd())
before = sorted({m.split(".")[0] for m in sys.modules})
publisher = registry.spec("twitter").publisher_class()(settings.section("twitter"))
publisher.close()  # built: X's client stack (tweepy) is loaded now, not with its class
after = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"before": before, "after": after, "platforms": settings.platforms}))
"""


def test_specs_and_settings_are_light_until_a_publisher_is_built(tmp_path: Path) -> None:
    env = {"FEED_URLS": "https://news.example/feed", "TWITTER_API_KEY": "k",
           "TWITTER_API_SECRET": "s", "TWITTER_ACCESS_TOKEN": "t",
           "TWITTER_ACCESS_TOKEN_SECRET": "ts", "FACEBOOK_PAGE_ID": "1",
           "FACEBOOK_PAGE_ACCESS_TOKEN": "p", "INSTAGRAM_USER_ID": "2"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(env)],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])
    assert seen["platforms"] == ["twitter", "facebook", "instagram"]
    assert [name for name in HEAVY if name in seen["before"]] == []
    assert "tweepy" in seen["after"]  # the probe would see a heavy import
