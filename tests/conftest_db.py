"""Database fixtures shared by tests/storage and tests/alerts (import them into a conftest.py).

- ``sqlite_url``: a SQLite file under ``tmp_path``, migrated to head (copied from a once-per-session template).
- ``pg_url``: a fresh PostgreSQL schema on 127.0.0.1:5432 db ``test`` (``LIQMAP_TEST_PG_URL`` overrides),
  migrated to head, selected through ``?options=-csearch_path=<schema>`` and dropped afterwards, so parallel
  runs never collide. Skips, with the reason, when PostgreSQL is unreachable.
- ``db_url``: parametrized over both; ``db``: a ``Database`` on ``db_url``, disposed afterwards.
- ``empty_sqlite_url`` / ``empty_pg_url``: the same without migrations (for migration tests).

The URLs work from subprocesses too (the schema is part of the URL).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, pool, text
from sqlalchemy.exc import SQLAlchemyError

from bot.storage import migrate
from bot.storage.db import Database

SCHEMA_RE = re.compile(r"t_(\d+)_[0-9a-f]{10}")
PG_BASE_URL = os.environ.get("LIQMAP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@functools.cache
def pg_unreachable_reason() -> str | None:
    """None when the test PostgreSQL answers, else a one-line reason (cached for the session)."""
    engine = create_engine(PG_BASE_URL, poolclass=pool.NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        first = str(exc.orig if hasattr(exc, "orig") else exc).strip().splitlines()[0]
        return f"PostgreSQL not reachable at {make_url(PG_BASE_URL).render_as_string()}: {first}"
    finally:
        engine.dispose()
    _drop_orphan_schemas()
    return None


def _drop_orphan_schemas() -> None:
    """Drop test schemas left behind by killed test processes (their pid no longer exists on this host)."""
    admin = create_engine(PG_BASE_URL, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            names = conn.execute(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%'")).scalars().all()
            for name in names:
                m = SCHEMA_RE.fullmatch(name)
                if m and not Path(f"/proc/{m.group(1)}").exists():
                    conn.execute(text("SET lock_timeout = '2s'"))
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    except SQLAlchemyError as exc:
        warnings.warn(f"could not clean up old test schemas: {exc}", stacklevel=1)
    finally:
        admin.dispose()


def require_pg() -> None:
    """Skip the calling test (printing why) when PostgreSQL is unreachable."""
    reason = pg_unreachable_reason()
    if reason:
        pytest.skip(reason)


@contextmanager
def pg_schema(*, migrated: bool) -> Iterator[str]:
    """A URL whose search_path is a brand-new schema; the schema is dropped on exit."""
    require_pg()
    schema = f"t_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_BASE_URL, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_BASE_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = url.render_as_string(hide_password=False)
    try:
        if migrated:
            migrate.upgrade(url_text)
        yield url_text
    finally:
        try:
            with admin.connect() as conn:
                conn.execute(text("SET lock_timeout = '10s'"))
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        except SQLAlchemyError as exc:  # a leaked connection still holds locks: leave the schema, say so
            warnings.warn(f"could not drop test schema {schema}: {exc}", stacklevel=1)
        admin.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite_template") / "liqmap.db"
    migrate.upgrade(f"sqlite:///{path.as_posix()}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A migrated SQLite database file of this test."""
    path = tmp_path / "liqmap.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path.as_posix()}"


@pytest.fixture
def empty_sqlite_url(tmp_path: Path) -> str:
    """A SQLite URL of a file that does not exist yet (nothing migrated)."""
    return f"sqlite:///{(tmp_path / 'data' / 'empty.db').as_posix()}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL schema of this test (skipped when PostgreSQL is unreachable)."""
    with pg_schema(migrated=True) as url:
        yield url


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """An empty PostgreSQL schema of this test (skipped when PostgreSQL is unreachable)."""
    with pg_schema(migrated=False) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A migrated database URL: the test runs once on SQLite and once on PostgreSQL."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A ``Database`` on ``db_url``; its connections are closed after the test."""
    database = Database(db_url)
    try:
        yield database
    finally:
        database.dispose()
