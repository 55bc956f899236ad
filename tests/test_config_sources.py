"""Where settings come from and what is said about them: --env-file, paths relative to the env
file, names that are not settings, malformed lines, DRY_RUN checked by every command, templates
only for active platforms, `{{title}}`, the demo and an installed systemd unit."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from bot import envfile
from bot.cli import main
from bot.compose.templates import parse_template
from bot.errors import ConfigError
from bot.settings import CONFIG_DIR, PROJECT_ROOT, load_settings
from tests.botenv import Item, bot_env, run_main, write_feed
from tests.envvars import ALL_VARIABLES


def env_file(folder: Path, text: str, name: str = "bot.env") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- names that are not settings ---------------------------------------------------------------


def test_a_misspelt_name_in_the_env_file_is_warned_with_its_line_and_a_suggestion(
    clean_env: Path,
) -> None:
    path = env_file(clean_env, "FEED_URLS=https://a.example/feed\n\nPOLL_INTERVALL=5m\n")
    settings = load_settings({}, clean_env, env_file=path)
    assert settings.poll_interval == 600.0  # the misspelt one is not used...
    assert settings.warnings == (  # ...and says so
        f"env file {path} line 3: POLL_INTERVALL is not a setting, so it is ignored; "
        "did you mean POLL_INTERVAL?",
    )


def test_names_far_from_any_setting_point_to_the_example_and_process_names_pass(
    clean_env: Path,
) -> None:
    path = env_file(
        clean_env,
        "FEED_URLS=https://a.example/feed\nPYTHONUNBUFFERED=1\nLANG=C.UTF-8\nWIDGET_COLOUR=red\n",
    )
    warnings = load_settings({}, clean_env, env_file=path).warnings
    assert warnings == (
        f"env file {path} line 4: WIDGET_COLOUR is not a setting, so it is ignored; "
        "see .env.example for the settings there are",
    )


def test_feed_and_platform_looking_names_in_the_environment_are_warned(clean_env: Path) -> None:
    environ = {
        "FEED_URL": "https://a.example/feed",  # meant FEED_URLS (which is missing, below)
        "FEED_URLS": "https://a.example/feed",
        "TWITTER_API_KEYS": "k",
        "INSTAGRAM_TOKEN": "t",
        "POLL_INTERVALL": "5m",  # no prefix of ours, but one letter from a setting
        "EDITOR": "vim",
        "HOME": "/root",
        "PATH": "/usr/bin",
        "LOGNAME": "root",
    }
    warnings = load_settings(environ, clean_env).warnings
    assert warnings == (
        "the environment has FEED_URL, which is not a setting, so it is ignored; "
        "did you mean FEED_URLS?",
        "the environment has INSTAGRAM_TOKEN, which is not a setting, so it is ignored; "
        "did you mean INSTAGRAM_ACCESS_TOKEN?",
        "the environment has POLL_INTERVALL, which is not a setting, so it is ignored; "
        "did you mean POLL_INTERVAL?",
        "the environment has TWITTER_API_KEYS, which is not a setting, so it is ignored; "
        "did you mean TWITTER_API_KEY?",
    )


def test_every_documented_variable_is_known_even_when_only_some_are_read(
    clean_env: Path,
) -> None:
    # Empty values leave every setting at its default, so the settings read only in some
    # configurations (an X base URL without X credentials) are not read: still no warning.
    path = env_file(clean_env, "".join(f"{name}=\n" for name in ALL_VARIABLES))
    settings = load_settings({"FEED_URLS": "https://a.example/feed"}, clean_env, env_file=path)
    assert settings.warnings == ()


def test_the_worker_logs_the_warning_at_start(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed.xml", [])
    path = env_file(tmp_path / "conf", f"FEED_URLS={feed}\nPOLL_INTERVALL=5m\nDRY_RUN=true\n")
    env = {k: v for k, v in bot_env(tmp_path).items() if k in ("PATH", "HOME", "DATABASE_URL")}
    result = run_main(["--env-file", str(path), "status"], env, tmp_path)
    assert "POLL_INTERVALL is not a setting, so it is ignored; did you mean POLL_INTERVAL?" in (
        result.stderr
    )


# --- malformed lines and missing files ------------------------------------------------------------


def test_a_malformed_line_names_the_file_and_line_but_not_the_value(tmp_path: Path) -> None:
    path = env_file(
        tmp_path,
        "FEED_URLS=https://a.example/feed\n# a comment\nFACEBOOK_PAGE_ACCESS_TOKEN EAAB-secret-9\n",
    )
    result = run_main(["--env-file", str(path), "status"], bot_env(tmp_path), tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: env file {path} line 3 cannot be read (it starts with "
        "'FACEBOOK_PAGE_ACCESS_TOKEN'); write NAME=value, with quotes around a value that "
        "holds spaces, # or quotes\n"
    )
    assert "EAAB" not in result.stderr and result.stdout == ""


def test_a_malformed_dot_env_is_named_too(clean_env: Path) -> None:
    (clean_env / ".env").write_text('FEED_URLS=https://a.example/feed\nTITLE="unclosed\n')
    with pytest.raises(ConfigError, match=r"env file .*/\.env line 2 cannot be read"):
        load_settings({}, clean_env)


def test_a_missing_env_file_is_exit_2_naming_it(tmp_path: Path) -> None:
    result = run_main(["--env-file", "nowhere.env", "poll"], bot_env(tmp_path), tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: env file {tmp_path / 'nowhere.env'} not found; check the path given to "
        "--env-file, or create it from .env.example\n"
    )
    assert list(tmp_path.iterdir()) == []


# --- relative paths ------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_env_file_folder_not_the_cwd(tmp_path: Path) -> None:
    conf, elsewhere = tmp_path / "conf", tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_feed(env_file(conf, "", "feed.xml"), [Item(1)])
    templates = conf / "templates"
    shutil.copytree(CONFIG_DIR / "templates", templates)
    path = env_file(
        conf,
        "FEED_URLS=feed.xml\nDATABASE_URL=sqlite:///data/bot.db\nTEMPLATE_DIR=templates\n"
        "DRY_RUN=true\nPLATFORMS=twitter\nBACKLOG=all\nMAX_STORY_AGE=0\n",
    )
    env = {"PATH": bot_env(tmp_path)["PATH"], "HOME": str(tmp_path)}
    result = run_main(["--env-file", "../conf/bot.env", "poll", "--json"], env, elsewhere)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["status"] for line in result.stdout.splitlines()] == ["dry_run"]
    assert (conf / "data" / "bot.db").is_file()
    assert list(elsewhere.iterdir()) == []  # nothing created where the command was started
    settings = load_settings({}, elsewhere, env_file=path)
    assert settings.database_url == f"sqlite:///{conf / 'data' / 'bot.db'}"
    assert settings.feed_urls == ((conf / "feed.xml").as_uri(),)
    assert settings.template_dir == templates


def test_the_default_store_is_in_the_project_folder(clean_env: Path) -> None:
    project_store = f"sqlite:///{PROJECT_ROOT / 'data' / 'bot.db'}"
    settings = load_settings({"FEED_URLS": "https://a.example/feed"}, clean_env)
    assert settings.database_url == project_store
    # An env file elsewhere (systemd's /etc/feedbot) with DATABASE_URL empty, as in .env.example.
    path = env_file(clean_env / "etc", "FEED_URLS=https://a.example/feed\nDATABASE_URL=\n")
    assert load_settings({}, clean_env, env_file=path).database_url == project_store
    memory = load_settings(
        {"FEED_URLS": "https://a.example/feed", "DATABASE_URL": "sqlite:///:memory:"}, clean_env
    )
    assert memory.database_url == "sqlite:///:memory:"


@pytest.mark.parametrize("command", [["status", "--json"], ["poll", "--json"], ["preview"]])
def test_the_demo_from_another_folder_creates_nothing_there(
    command: list[str], tmp_path: Path
) -> None:
    env = {"PATH": bot_env(tmp_path)["PATH"], "HOME": str(tmp_path)}
    result = run_main(command, env, tmp_path)
    assert "DEMO MODE" in result.stderr
    assert result.stdout  # the demo answered
    assert list(tmp_path.iterdir()) == []  # no ./data/demo.db here
    assert not (PROJECT_ROOT / "data" / "demo.db").exists()  # nor in the project


def test_each_demo_has_a_temporary_store_of_its_own(tmp_path: Path) -> None:
    first, second = load_settings({}, tmp_path), load_settings({}, tmp_path)
    assert first.demo and first.database_url != second.database_url
    assert Path(first.database_url.removeprefix("sqlite:///")).parent == Path(tempfile.gettempdir())
    chosen = load_settings({"DATABASE_URL": f"sqlite:///{tmp_path}/mine.db"}, tmp_path)
    assert chosen.demo and chosen.database_url == f"sqlite:///{tmp_path}/mine.db"


# --- an installed systemd unit ---------------------------------------------------------------


def unit(folder: Path, exec_start: str, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feedbot.service"
    path.write_text(
        "[Unit]\nDescription=feedbot\n\n[Service]\n"
        f"WorkingDirectory={PROJECT_ROOT}\n{extra}ExecStart={exec_start}\n"
    )
    return path


def test_status_in_the_install_folder_reads_the_units_env_file_not_the_demo(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clean_env: Path,
) -> None:
    conf = env_file(
        tmp_path / "etc",
        f"FEED_URLS=https://news.example/feed\nDATABASE_URL=sqlite:///{tmp_path}/prod.db\n",
    )
    units = tmp_path / "systemd"
    unit(units, f"{PROJECT_ROOT}/.venv/bin/python main.py --env-file {conf} run")
    monkeypatch.setattr(envfile, "SYSTEMD_UNIT_DIRS", (units,))
    monkeypatch.chdir(PROJECT_ROOT)  # the install folder (no .env in a clean checkout)
    if (PROJECT_ROOT / ".env").exists():
        pytest.skip("this checkout has a .env, which comes first")
    code = main(["status", "--json"])
    out, err = capsys.readouterr()
    assert "DEMO MODE" not in err
    assert f"settings read from {conf}, the env file of {units / 'feedbot.service'}" in err
    info = json.loads(out)
    assert [f["url"] for f in info["feeds"]] == ["https://news.example/feed"]
    assert code == 1  # never polled: unhealthy, but the real store's truth
    assert (tmp_path / "prod.db").is_file()


def test_a_unit_with_environment_file_is_found_and_other_units_are_not(tmp_path: Path) -> None:
    conf = env_file(tmp_path / "etc", "FEED_URLS=https://news.example/feed\n")
    units = tmp_path / "systemd"
    unit(units, ".venv/bin/python main.py run", extra=f"EnvironmentFile=-{conf}\n")
    found = load_settings({}, tmp_path, unit_dirs=[units])
    assert not found.demo and found.feed_urls == ("https://news.example/feed",)
    other = tmp_path / "other"
    unit(other, "/srv/elsewhere/.venv/bin/python /srv/elsewhere/main.py run")
    (other / "feedbot.service").write_text(
        (other / "feedbot.service")
        .read_text()
        .replace(f"WorkingDirectory={PROJECT_ROOT}", "WorkingDirectory=/srv/elsewhere")
        + f"EnvironmentFile={conf}\n"
    )
    assert load_settings({}, tmp_path, unit_dirs=[other]).demo


# --- DRY_RUN, templates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["run"],
        ["poll"],
        ["poll", "--dry-run"],
        ["post", "https://news.example/story-1/", "--dry-run"],
        ["preview"],
        ["status"],
        ["check"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_every_command_checks_dry_run_alike(args: list[str], tmp_path: Path) -> None:
    env = bot_env(tmp_path, FEED_URLS="https://news.example/feed", DRY_RUN="maybe")
    result = run_main(args, env, tmp_path)
    assert result.returncode == 2
    assert result.stderr == "error: DRY_RUN='maybe' is not a boolean; use true or false\n"


def test_templates_are_needed_only_for_active_platforms(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    shutil.copy(CONFIG_DIR / "templates" / "twitter.txt", templates / "twitter.txt")
    feed = write_feed(tmp_path / "feed.xml", [Item(1)])
    env = bot_env(tmp_path, FEED_URLS=feed, TEMPLATE_DIR=str(templates), DRY_RUN="true")
    ok = run_main(["poll", "--json"], {**env, "PLATFORMS": "twitter"}, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert [json.loads(line)["platform"] for line in ok.stdout.splitlines()] == ["twitter"]
    missing = run_main(["poll"], {**env, "PLATFORMS": "twitter,instagram"}, tmp_path)
    assert missing.returncode == 2
    assert f"template {templates / 'instagram.txt'} not found" in missing.stderr


def test_double_braced_fields_are_warned(tmp_path: Path) -> None:
    template = parse_template("{{title}}\n## {{url}} in a comment is fine\n{{{url}}} {url}", "t")
    assert template.warnings == (
        "template t line 1: {{title}} prints the text {title} in every post ({{ and }} are "
        "literal braces); write {title} to insert the title",
    )
    templates = tmp_path / "templates"
    shutil.copytree(CONFIG_DIR / "templates", templates)
    (templates / "twitter.txt").write_text("{{title}} {url}\n")
    feed = write_feed(tmp_path / "feed.xml", [Item(1)])
    env = bot_env(tmp_path, FEED_URLS=feed, TEMPLATE_DIR=str(templates), PLATFORMS="twitter")
    result = run_main(["preview", "--json"], {**env, "DRY_RUN": "true"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"template {templates / 'twitter.txt'} line 1: {{{{title}}}} prints" in result.stderr
