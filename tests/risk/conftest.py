"""Risk test fixtures: the shared database fixtures (real SQLite file and real PostgreSQL)."""

from tests.conftest_db import (  # noqa: F401
    _sqlite_template,
    db,
    db_url,
    pg_url,
    sqlite_url,
)
