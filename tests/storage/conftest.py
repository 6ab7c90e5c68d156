"""Storage test fixtures: the shared database fixtures of tests/conftest_db.py."""

from tests.conftest_db import (  # noqa: F401
    _sqlite_template,
    db,
    db_url,
    empty_pg_url,
    empty_sqlite_url,
    pg_url,
    sqlite_url,
)
