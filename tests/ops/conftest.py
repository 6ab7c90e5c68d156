"""Ops test fixtures: the shared SQLite database fixtures (real files, migrated)."""

from tests.conftest_db import (  # noqa: F401
    _sqlite_template,
    empty_sqlite_url,
    sqlite_url,
)
