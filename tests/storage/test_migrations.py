"""Alembic is the only way the schema is made: upgrade → downgrade → upgrade, no drift, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from bot.errors import LiqmapError
from bot.storage import migrate
from bot.storage.db import make_engine
from bot.storage.models import Base

REPO = Path(__file__).resolve().parents[2]
TABLES = set(Base.metadata.tables)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("empty_sqlite_url" if request.param == "sqlite" else "empty_pg_url"))


def test_upgrade_downgrade_upgrade(empty_url: str) -> None:
    assert migrate.current(empty_url) is None
    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == migrate.head()
    assert _tables(empty_url) == TABLES
    migrate.check(empty_url)

    migrate.downgrade(empty_url, "base")
    assert migrate.current(empty_url) is None
    assert _tables(empty_url) == set()

    migrate.upgrade(empty_url)
    assert _tables(empty_url) == TABLES
    migrate.check(empty_url)


def test_check_reports_drift(db_url: str) -> None:
    migrate.check(db_url)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE leases ADD COLUMN sneaky INTEGER"))
    engine.dispose()
    with pytest.raises(LiqmapError, match="drift"):
        migrate.check(db_url)


def test_check_on_unmigrated_database_is_one_clear_error(empty_sqlite_url: str) -> None:
    migrate.upgrade(empty_sqlite_url)
    migrate.downgrade(empty_sqlite_url, "base")
    with pytest.raises(LiqmapError, match="schema check failed"):
        migrate.check(empty_sqlite_url)


def test_unknown_revision_is_one_clear_error(empty_sqlite_url: str) -> None:
    with pytest.raises(LiqmapError, match="migration failed"):
        migrate.upgrade(empty_sqlite_url, "nope")


def test_sqlite_file_gets_wal_and_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_migrations_ship_inside_the_package() -> None:
    """The scripts are package data beside bot/storage/migrate.py; no top-level alembic/ directory is left behind."""
    directory = migrate.alembic_dir()
    assert directory == migrate.packaged_dir() == REPO / "bot" / "storage" / "migrations"
    assert (directory / "env.py").is_file() and (directory / "script.py.mako").is_file()
    versions = sorted(p.name for p in (directory / "versions").glob("0*.py"))
    assert versions[:2] == ["0001_initial.py", "0002_job_ticks.py"]
    assert not (REPO / "alembic").exists()


def test_alembic_dir_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "env.py").write_text("")
    (tmp_path / "versions").mkdir()
    monkeypatch.setenv(migrate.ALEMBIC_DIR_ENV, str(tmp_path))
    assert migrate.alembic_dir() == tmp_path
    monkeypatch.setenv(migrate.ALEMBIC_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(LiqmapError, match=f"not found in .*nowhere.*{migrate.ALEMBIC_DIR_ENV}"):
        migrate.alembic_dir()
    monkeypatch.setenv(migrate.ALEMBIC_DIR_ENV, "")  # empty means unset
    assert migrate.alembic_dir() == migrate.packaged_dir()


def test_package_copied_elsewhere_migrates_from_any_directory(tmp_path: Path) -> None:
    """bot/ alone (as a wheel installs it), run from a directory with no alembic/, finds and applies its migrations."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "bot", site / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    work = tmp_path / "work"
    work.mkdir()
    url = f"sqlite:///{(tmp_path / 'copied.db').as_posix()}"
    probe = (
        "import bot; from bot.storage import migrate; "
        f"migrate.upgrade({url!r}); print(bot.__file__); print(migrate.alembic_dir()); print(migrate.current({url!r}))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop(migrate.ALEMBIC_DIR_ENV, None)
    cmd = [sys.executable, "-P", "-c", probe]  # -P: the working directory is not put on sys.path
    done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    package_file, directory, revision = done.stdout.split()
    assert Path(package_file).is_relative_to(site)
    assert Path(directory) == site / "bot" / "storage" / "migrations"
    assert revision == migrate.head()


def test_alembic_command_line_uses_liqmap_settings(tmp_path: Path) -> None:
    """`alembic upgrade head` from the repo root migrates the database LIQMAP_DATABASE_URL names."""
    url = f"sqlite:///{(tmp_path / 'cli.db').as_posix()}"
    env = {**os.environ, "LIQMAP_DATABASE_URL": url}
    alembic = Path(sys.executable).with_name("alembic")
    done = subprocess.run(
        [str(alembic), "upgrade", "head"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert migrate.current(url) == migrate.head()


@pytest.mark.postgres
def test_replicas_starting_together_migrate_once(empty_pg_url: str) -> None:
    """Two processes upgrading the same empty PostgreSQL schema at once both succeed (advisory lock)."""
    code = f"from bot.storage import migrate; migrate.upgrade({empty_pg_url!r})"
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    assert migrate.current(empty_pg_url) == migrate.head()
    migrate.check(empty_pg_url)
