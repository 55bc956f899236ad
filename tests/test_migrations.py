"""Frozen migrations: the steps build exactly the declared schema, and a newer store is refused.

The steps (`bot.store.migrations`) and the model (`bot.store.schema`) are written separately on
purpose; these tests are what keeps them one schema. Both run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

from bot.store import Store, migrations, schema
from bot.store.repository import StoreTooNew
from tests.botenv import bot_env, run_main
from tests.pg import fresh_database


def _describe(engine: Engine) -> dict[str, Any]:
    """Everything a reader of the schema relies on, in a form two databases can be compared by."""
    insp = inspect(engine)
    tables: dict[str, Any] = {}
    for name in sorted(insp.get_table_names()):
        columns = {
            c["name"]: (
                str(c["type"]).split("(")[0].upper(),
                getattr(c["type"], "length", None),
                c["nullable"],
                _default(c.get("default")),
            )
            for c in insp.get_columns(name)
        }
        pk = insp.get_pk_constraint(name)
        tables[name] = {
            "columns": columns,
            "primary_key": tuple(pk["constrained_columns"]),
            "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(name)),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in insp.get_indexes(name)
            ),
            "foreign_keys": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in insp.get_foreign_keys(name)
            ),
        }
    return tables


def _default(value: str | None) -> str | None:
    """'0', '0'::integer, ('0') and nextval('x_id_seq'::regclass) mean the same in both builds."""
    if value is None:
        return None
    if value.startswith("nextval("):
        return "serial"
    return re.sub(r"::\w+( \w+)?", "", value).strip("()'\"")


def _second_database(database_url: str, tmp_path: Path) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'declared.db'}"
    return fresh_database(database_url.rsplit("/", 1)[0] + "/postgres")


def test_the_migrations_build_exactly_the_declared_schema(
    database_url: str, tmp_path: Path
) -> None:
    Store.open(database_url).close()  # every step, from an empty database
    declared_url = _second_database(database_url, tmp_path)
    declared = create_engine(declared_url)
    migrated = create_engine(database_url)
    try:
        schema.metadata.create_all(declared)
        assert _describe(migrated) == _describe(declared)
    finally:
        declared.dispose()
        migrated.dispose()


def test_every_step_file_is_registered_in_order() -> None:
    """A step file left out of STEPS, or two steps with one number, would fork the history."""
    folder = Path(migrations.__file__).parent
    files = sorted(m.name for m in pkgutil.iter_modules([str(folder)]))
    assert [step.__name__.rsplit(".", 1)[1] for step in migrations.STEPS] == files
    numbers = [int(re.match(r"m(\d{4})_", name).group(1)) for name in files]  # type: ignore[union-attr]
    assert numbers == list(range(1, len(files) + 1))
    assert all(step.__doc__ for step in migrations.STEPS), "each step says why it exists"


def test_the_steps_never_import_the_current_tables() -> None:
    for step in migrations.STEPS:
        source = Path(step.__file__).read_text(encoding="utf-8")  # type: ignore[arg-type]
        assert "bot.store.schema" not in source and "metadata" not in source.replace(
            "`metadata.create_all`", ""
        ), step.__name__


def _make_newer(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO schema_version (version, applied_at) VALUES (:v, 0)"),
            {"v": migrations.LATEST + 3},
        )
    engine.dispose()


def _snapshot(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                list(conn.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all())
                for t in ("schema_version", "feeds", "stories", "deliveries")
            ]
    finally:
        engine.dispose()


def test_a_store_newer_than_the_code_is_refused_untouched(database_url: str) -> None:
    store = Store.open(database_url)
    store.feeds.ensure_feeds(["https://example.com/feed/"])
    store.close()
    _make_newer(database_url)
    before = _snapshot(database_url)
    with pytest.raises(StoreTooNew) as refused:
        Store.open(database_url)
    message = str(refused.value)
    assert f"schema version {migrations.LATEST + 3}" in message
    assert f"versions up to {migrations.LATEST}" in message
    assert _snapshot(database_url) == before


def test_downgrade_refusal_on_the_command_line(tmp_path: Path) -> None:
    """Every command stops with exit 2 and one line naming both versions; the file is untouched."""
    db = tmp_path / "bot.db"
    url = f"sqlite:///{db}"
    Store.open(url).close()
    _make_newer(url)
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    feed = tmp_path / "feed.xml"
    feed.write_text("<rss version='2.0'><channel><title>t</title></channel></rss>")
    env = bot_env(tmp_path, FEED_URLS=feed.as_uri(), DRY_RUN="true", PLATFORMS="twitter")
    for command in (["status"], ["status", "--json"], ["poll"]):
        result = run_main(command, env, tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert f"schema version {migrations.LATEST + 3}" in lines[0]
        assert f"up to {migrations.LATEST}" in lines[0]
        assert result.stdout == ""
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_status_json_reports_the_schema_version(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_text("<rss version='2.0'><channel><title>t</title></channel></rss>")
    env = bot_env(tmp_path, FEED_URLS=feed.as_uri(), DRY_RUN="true", PLATFORMS="twitter")
    result = run_main(["status", "--json"], env, tmp_path)
    assert f'"schema_version": {migrations.LATEST}' in result.stdout, result.stderr
