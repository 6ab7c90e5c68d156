"""Reliability test fixtures: the shared database fixtures (real SQLite file and real PostgreSQL), and ``server``:
the exchange stand-in (with scripted faults) holding 10 days of history up to ``NOW``."""

from collections.abc import AsyncIterator

import pytest

from tests.conftest_db import (  # noqa: F401
    _sqlite_template,
    db,
    db_url,
    pg_url,
    sqlite_url,
)
from tests.market.conftest import NOW
from tests.reliability.faulty_exchange import FaultyExchangeServer
from tests.standins.exchange_server import DAY, Tape


@pytest.fixture
async def server() -> AsyncIterator[FaultyExchangeServer]:
    """The exchange stand-in with 10 days of history ending at ``NOW`` (its ``tape.now_ms`` can be moved)."""
    async with FaultyExchangeServer(Tape(start_ms=NOW - 10 * DAY, now_ms=NOW)) as standin:
        yield standin
