"""Why the store cannot be opened or used, said in one line a person can act on.

A driver's own message is a paragraph at best and a 130-line traceback at worst; the operator
needs the culprit (DATABASE_URL with its password masked, or the SQLite folder) and the fix.
`describe` is pure apart from a look at the SQLite path, so every case is unit-testable.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

from bot.errors import ConfigError
from bot.settings_values import masked_url, url_password

VARIABLE = "DATABASE_URL"


class StoreUnavailable(ConfigError):
    """The store cannot be opened: exit 2 for every command (see `bot.cli.main`)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message, variable=VARIABLE)
        self.kind = kind


def sqlite_path(url: str) -> Path | None:
    """The database file of a sqlite:/// URL (None for in-memory)."""
    path = url.split("///", 1)[1] if "///" in url else ""
    path = path.split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path).expanduser().absolute()


def sqlite_preflight(url: str) -> StoreUnavailable | None:
    """An existing SQLite store the bot could read but not write (a read-only file, or a folder
    where SQLite cannot put its journal) fails here, for every command, before it half-works:
    `status` would answer from it while the worker could never record a post."""
    path = sqlite_path(url)
    if path is None or not path.is_file():
        return None
    if not os.access(path, os.W_OK):
        kind, text = (
            "readonly",
            f"the store file {path} is read-only; make it writable by this user "
            f"(chmod u+w {path}) or point {VARIABLE} elsewhere",
        )
    elif not os.access(path.parent, os.W_OK):
        kind, text = "permission", _folder_not_writable(path.parent)
    else:
        return None
    return StoreUnavailable(_line(url, text), kind)


def _folder_not_writable(folder: Path) -> str:
    return (
        f"the folder {folder} is not writable (SQLite writes its journal beside the file); "
        f"make it writable by this user (chown/chmod) or point {VARIABLE} elsewhere"
    )


def describe(url: str, exc: BaseException) -> tuple[str, str]:
    """(kind, one line naming the culprit and the fix) for a failure to open or use the store."""
    if url.startswith("sqlite"):
        kind, text = _describe_sqlite(url, exc)
    else:
        kind, text = _describe_postgres(exc)
    return kind, _line(url, text)


def _line(url: str, text: str) -> str:
    line = f"cannot use the store ({VARIABLE}={masked_url(url)}): {text}"
    password = url_password(url)
    if password and len(password) >= 2:
        line = line.replace(password, "***")
    return " ".join(line.split())


def _driver_message(exc: BaseException) -> str:
    """The driver's own first line, without SQLAlchemy's wrapping and background link."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first or type(exc).__name__


def _describe_postgres(exc: BaseException) -> tuple[str, str]:
    message = _driver_message(exc)
    low = message.lower()
    fix_host = f"start PostgreSQL there or fix the host and port in {VARIABLE}"
    if m := re.search(r"failed to resolve host '([^']*)'", message) or re.search(
        r'could not translate host name "([^"]*)"', message
    ):
        return "dns", f"the host {m.group(1)!r} is unknown (DNS); fix the host in {VARIABLE}"
    if "connection refused" in low:
        where = _pg_where(message)
        return "refused", f"connection refused{where}; {fix_host}"
    if "timeout" in low or "timed out" in low:
        where = _pg_where(message)
        return "timeout", f"no answer{where} in time; check the host, port and firewall"
    if "password authentication failed" in low or "no password supplied" in low:
        return "credentials", f"{message}; fix the user or password in {VARIABLE}"
    if m := re.search(r'database "([^"]*)" does not exist', message):
        return (
            "missing",
            f"the database {m.group(1)!r} does not exist; create it (createdb {m.group(1)}) "
            f"or fix its name in {VARIABLE}",
        )
    if "permission denied" in low:
        return "permission", f"{message}; grant the user its rights or use another {VARIABLE}"
    if "read-only" in low or "read only" in low:
        return "readonly", f"{message}; point {VARIABLE} at the primary server, not a replica"
    return "other", f"{message}; check that PostgreSQL is running and {VARIABLE} is right"


def _pg_where(message: str) -> str:
    m = re.search(r'server at "([^"]*)"(?:, port (\d+))?', message)
    if m is None:
        return ""
    return f" at {m.group(1)}" + (f":{m.group(2)}" if m.group(2) else "")


def _describe_sqlite(url: str, exc: BaseException) -> tuple[str, str]:
    path = sqlite_path(url)
    where = "the store file" if path is None else f"the store file {path}"
    if isinstance(exc, OSError) and exc.filename:
        blocked = Path(exc.filename)
        if exc.errno in (errno.ENOTDIR, errno.EEXIST):
            file = _first_file(blocked)
            return (
                "not_a_folder",
                f"{file or blocked} is a file, not a folder, so {blocked} cannot be created "
                f"there; point {VARIABLE} at a path inside a folder",
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            return (
                "permission",
                f"cannot create the folder {blocked} (permission denied); create it writable "
                f"by this user (mkdir -p {blocked} && chown) or point {VARIABLE} elsewhere",
            )
        if exc.errno == errno.EROFS:
            return (
                "readonly",
                f"{blocked} is on a read-only file system; point {VARIABLE} elsewhere",
            )
        return "other", f"{exc.strerror or exc} for {blocked}; point {VARIABLE} elsewhere"
    message = _driver_message(exc)
    low = message.lower()
    folder = path.parent if path else None
    if path is not None and path.is_dir():
        return "not_a_file", f"{path} is a folder, not a database file; fix {VARIABLE}"
    if folder is not None and not os.access(folder, os.W_OK):
        return "permission", _folder_not_writable(folder)
    if "readonly" in low or "read-only" in low or (path and path.exists() and _read_only(path)):
        return (
            "readonly",
            f"{where} is read-only; make it writable by this user (chmod u+w {path}) "
            f"or point {VARIABLE} elsewhere",
        )
    if "unable to open" in low:
        return (
            "permission",
            f"{where} cannot be opened; check its folder and rights or fix {VARIABLE}",
        )
    if "not a database" in low or "malformed" in low:
        return (
            "corrupt",
            f"{where} is not a readable SQLite database ({message}); restore it from a backup",
        )
    if "locked" in low:
        return "locked", f"{where} is locked by another program ({message}); try again"
    if "disk" in low and "full" in low:
        return "full", f"the disk holding {where} is full; free space"
    return "other", f"{message} ({where}); check the file and its folder"


def _read_only(path: Path) -> bool:
    return not os.access(path, os.W_OK)


def _first_file(path: Path) -> Path | None:
    """The ancestor of `path` that is a file (what blocks creating the folder)."""
    for parent in (path, *path.parents):
        if parent.exists():
            return parent if not parent.is_dir() else None
    return None
