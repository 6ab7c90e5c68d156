"""Telegram test fixtures: a migrated SQLite file, the local Bot API stand-in, and a running bot against both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.storage.db import Database
from tests.conftest_db import _sqlite_template, sqlite_url  # noqa: F401
from tests.standins.telegram_server import BotApiStandin
from tests.telegram.harness import TOKEN, Harness


@pytest.fixture
def tg_db(sqlite_url: str) -> Iterator[Database]:  # noqa: F811
    database = Database(sqlite_url)
    yield database
    database.dispose()


@pytest.fixture
async def server() -> AsyncIterator[BotApiStandin]:
    standin = BotApiStandin(TOKEN)
    await standin.start()
    yield standin
    await standin.close()


@pytest.fixture
async def bot(tg_db: Database, server: BotApiStandin) -> AsyncIterator[Harness]:
    harness = Harness(tg_db, server)
    await harness.start()
    yield harness
    await harness.stop()
