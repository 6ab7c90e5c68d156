"""Engine and session factory for SQLite (file, WAL, foreign keys ON) and PostgreSQL (psycopg 3).

The engine is synchronous; async code calls small repository functions through ``asyncio.to_thread``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.dialects.postgresql import dml as pg_dml
from sqlalchemy.dialects.sqlite import dml as sqlite_dml
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import LiqmapError

Dialect = Literal["sqlite", "postgresql"]
SQLITE_BUSY_TIMEOUT_MS = 10_000
_BEGIN_OPTION = "liqmap_sqlite_begin"


def prepare_sqlite_file(url: str) -> None:
    """Create the parent directory of a SQLite database file (e.g. ``data/``) so the first start just works."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """A SQLAlchemy engine for ``url`` with liqmap's connection setup.

    SQLite: WAL journal, ``foreign_keys=ON``, a busy timeout, and explicit ``BEGIN`` handling so that
    ``Database.session`` takes the write lock up front (``BEGIN IMMEDIATE``).
    PostgreSQL: ``pool_pre_ping`` so a restarted server does not surface as an error.
    Raises ``LiqmapError`` for a malformed or unsupported URL.
    """
    try:
        if url.startswith("sqlite"):
            prepare_sqlite_file(url)
            engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
            _setup_sqlite(engine)
        elif url.startswith("postgresql"):
            engine = create_engine(url, echo=echo, pool_pre_ping=True)
        else:
            raise LiqmapError(f"unsupported database URL {url!r}: use sqlite:///path.db or postgresql+psycopg://...")
    except (ArgumentError, ImportError) as exc:
        raise LiqmapError(f"invalid database URL {url!r}: {exc}") from None
    return engine


def _setup_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` that keep loaded attributes after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


class RoundTripCounter:
    """Counts statements sent to the database (``before_cursor_execute``), e.g. for ``tick_db_roundtrips``.

    Connection setup (pragmas, ``BEGIN``) issued by liqmap's listeners is counted too, since it is a round trip.
    """

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, *_args: Any) -> None:
        with self._lock:
            self.count += 1

    def reset(self) -> int:
        """Return the count so far and start again from zero."""
        with self._lock:
            value, self.count = self.count, 0
        return value


class Database:
    """One engine + session factory for a URL. ``session()`` is a unit of work (commit on success)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self.sessions = session_factory(self.engine)
        self._immediate = session_factory(self.engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"}))
        self.roundtrips = RoundTripCounter(self.engine)

    @property
    def dialect(self) -> Dialect:
        """'sqlite' or 'postgresql'."""
        name = self.engine.dialect.name
        return "postgresql" if name == "postgresql" else "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on error.

        On SQLite every transaction takes the write lock at BEGIN (``BEGIN IMMEDIATE``): a deferred transaction that
        read first and then writes fails at once with "database is locked" when another connection committed in
        between (WAL snapshot conflict, the busy timeout does not apply), while IMMEDIATE simply waits its turn.
        WAL readers outside liqmap are not blocked. On PostgreSQL row locks (``FOR UPDATE``) do this job.
        """
        factory = self._immediate if self.dialect == "sqlite" else self.sessions
        with factory.begin() as s:
            yield s

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"


def upsert_insert(s: Session, entity: Any) -> sqlite_dml.Insert | pg_dml.Insert:
    """``INSERT`` for ``entity`` (ORM class or Table) in the session's dialect (has ``on_conflict_do_*``)."""
    if s.get_bind().dialect.name == "postgresql":
        return pg_dml.insert(entity)
    return sqlite_dml.insert(entity)
