"""Where the settings come from: the env file (strict about its syntax), the process environment,
or the bundled demo; and which of their names the bot does not know.

Kept apart from bot.settings, which turns the merged values into typed settings: this module only
decides which file is read, reads it line by line so a bad line is named by file and line, and
spots names that look like settings but are not (`POLL_INTERVALL=5m` would otherwise be ignored
without a word).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ConfigError

SYSTEMD_UNIT_DIRS = (Path("/etc/systemd/system"),)
"""Where an installed unit of this bot is looked for before falling into the demo."""

# Names of the process itself that an env file may carry for systemd's EnvironmentFile.
_PROCESS_NAMES = re.compile(
    r"^(PATH|HOME|USER|LANG|LANGUAGE|TZ|TERM|LC_[A-Z]+|PYTHON[A-Z0-9_]*|SSL_CERT_(FILE|DIR)"
    r"|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE)$"
)


@dataclass(frozen=True)
class Sources:
    """The merged values and what they came from."""

    values: dict[str, str]
    file: Path | None
    """The env file read (.env, --env-file, the demo's), None when only the environment is."""
    file_names: Mapping[str, int]
    """The names the env file sets and their lines, to warn about those no setting reads."""
    base: Path
    """The folder relative paths resolve against: the env file's, or the project's."""
    demo: bool
    note: str | None = None
    """How the file was found when nobody named it (an installed systemd unit's)."""


def read_env_file(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    """The file's NAME=value lines (python-dotenv syntax, `${VAR}` expanded), and each name's
    line number.

    A line python-dotenv cannot read is a ConfigError naming the file and the line: dotenv alone
    would log a warning without the file and drop the line, and the setting would silently go."""
    from dotenv import dotenv_values  # only with an env file: about 4 ms of every command
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            f"env file {path} not found; check the path given to --env-file, "
            "or create it from .env.example"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"env file {path} is a folder; give the path of the file") from None
    except PermissionError:
        raise ConfigError(
            f"env file {path} cannot be read by this user; run as its owner or group "
            "(e.g. sudo -u feedbot), or make it readable"
        ) from None
    except UnicodeDecodeError as exc:
        line = text_line(exc.object, exc.start)
        raise ConfigError(f"env file {path} line {line} is not UTF-8; save it as UTF-8") from None
    lines: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        # python-dotenv counts the blank lines before a statement as part of it
        original = binding.original.string
        line = binding.original.line + original[: len(original) - len(original.lstrip())].count(
            "\n"
        )
        if binding.key is not None:
            lines[binding.key] = line
        if binding.error:
            raise ConfigError(
                f"env file {path} line {line} cannot be read "
                f"({_start_of(binding.original.string)}); write NAME=value, with quotes "
                "around a value that holds spaces, # or quotes"
            )
    values = {k: v or "" for k, v in dotenv_values(stream=io.StringIO(text)).items()}
    return values, lines


def text_line(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _start_of(line: str) -> str:
    """The line's first word only: the rest may be a credential."""
    word = re.split(r"[\s=]", line.strip(), maxsplit=1)[0][:40]
    return f"it starts with {word!r}" if word else "it is malformed"


def find_sources(
    environ: Mapping[str, str],
    cwd: Path,
    *,
    project_root: Path,
    demo_env: Path,
    env_file: Path | None = None,
    unit_dirs: Iterable[Path] | None = None,
) -> Sources:
    """Pick the env file: --env-file, else ./.env, else (no FEED_URLS nor FEEDS_FILE in the
    environment) the env file of an installed systemd unit running this bot, else the demo. The
    process environment wins over the file."""
    note = None
    demo = False
    if env_file is not None:
        path = env_file if env_file.is_absolute() else cwd / env_file
    elif (cwd / ".env").is_file():
        path = cwd / ".env"
    elif "FEED_URLS" in environ or "FEEDS_FILE" in environ:
        path = None
    else:
        found = installed_env_file(project_root, unit_dirs)
        if found is not None:
            path, unit = found
            note = f"settings read from {path}, the env file of {unit}"
        else:
            path, demo = demo_env, True
    file_values, lines = read_env_file(path) if path is not None else ({}, {})
    base = project_root if demo or path is None else path.resolve().parent
    return Sources(
        {**file_values, **environ},
        None if path is None else path.resolve(),
        lines,
        base,
        demo,
        note,
    )


def installed_env_file(
    project_root: Path, unit_dirs: Iterable[Path] | None = None
) -> tuple[Path, Path] | None:
    """The env file of a systemd unit that runs this copy of the bot, and the unit.

    An operator who runs `main.py status` in the install folder gets the service's settings,
    not the demo; with no such unit (a developer's checkout) this finds nothing."""
    for folder in SYSTEMD_UNIT_DIRS if unit_dirs is None else unit_dirs:
        try:
            units = sorted(folder.glob("*.service"))
        except OSError:
            continue
        for unit in units:
            try:
                text = unit.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            found = _unit_env_file(text, project_root)
            if found is not None:
                return found, unit
    return None


def _unit_env_file(text: str, project_root: Path) -> Path | None:
    entries: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            entries.setdefault(key.strip(), value.strip())
    command = entries.get("ExecStart", "")
    import shlex

    try:
        words = shlex.split(command.lstrip("-@:+!"))
    except ValueError:
        return None
    main = str(project_root / "main.py")
    workdir = entries.get("WorkingDirectory", "")
    ours = main in words or (
        "main.py" in words and Path(workdir.lstrip("-")).resolve() == project_root.resolve()
    )
    if not ours:
        return None
    for i, word in enumerate(words):
        if word == "--env-file" and i + 1 < len(words):
            return Path(words[i + 1])
        if word.startswith("--env-file="):
            return Path(word.partition("=")[2])
    environment_file = entries.get("EnvironmentFile")
    return Path(environment_file.lstrip("-")) if environment_file else None


DEMO_STORE_PREFIX = "feedbot-demo-"


def demo_database_url() -> str:
    """A store of the demo's own for this process, in the temporary folder: every demo run shows
    its posts again, two demos never share one, and nothing lands where a command is started."""
    import secrets  # imported here: only the demo needs them, and every command imports this
    import tempfile

    name = f"{DEMO_STORE_PREFIX}{secrets.token_hex(6)}.db"
    return f"sqlite:///{Path(tempfile.gettempdir()) / name}"


def remove_demo_store(url: str) -> None:
    """Delete the demo's temporary store (and SQLite's -wal and -shm files) when it exits."""
    import tempfile

    path = Path(url.removeprefix("sqlite:///"))
    if path.parent != Path(tempfile.gettempdir()) or not path.name.startswith(DEMO_STORE_PREFIX):
        return  # DATABASE_URL was set: that store is the user's
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


# --- names that are not settings -----------------------------------------------------------


def did_you_mean(name: str, known: Iterable[str], cutoff: float = 0.75) -> str | None:
    import difflib  # only when a name is not a setting

    match = difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=cutoff)
    return match[0] if match else None


def unknown_name_warnings(
    sources: Sources, environ: Mapping[str, str], known: Iterable[str], platforms: Iterable[str]
) -> list[str]:
    """One line per name in the env file that no setting reads, and per name in the environment
    that looks meant for the bot (a feed or platform prefix, or a near miss of a setting)."""
    known = set(known)
    ours = ("FEED", *(name.upper() + "_" for name in platforms))
    warnings: list[str] = []
    for name, line in sources.file_names.items():
        if name in known or _PROCESS_NAMES.match(name):
            continue
        warnings.append(
            f"env file {sources.file} line {line}: {name} is not a setting, so it is ignored; "
            + _fix(name, known)
        )
    for name in sorted(environ):
        if name in known or name in sources.file_names:
            continue
        near = did_you_mean(name, known, cutoff=0.9)
        if not (name.upper().startswith(ours) or near):
            continue
        warnings.append(
            f"the environment has {name}, which is not a setting, so it is ignored; "
            + _fix(name, known)
        )
    return warnings


def _fix(name: str, known: set[str]) -> str:
    near = did_you_mean(name, known)
    if near:
        return f"did you mean {near}?"
    return "see .env.example for the settings there are"
