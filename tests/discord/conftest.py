"""Discord test fixtures: a migrated SQLite database, the chat service on the sim market, the real bot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.chat.discord.bot import LiqmapBot
from bot.chat.service import ChatService
from bot.engine import MapEngine
from bot.market.source import SimSource
from bot.render import RenderCache
from bot.storage.db import Database
from tests.alerts.helpers import EXCHANGES, NOW, Clock, settings
from tests.conftest_db import _sqlite_template, sqlite_url  # noqa: F401


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:  # noqa: F811
    database = Database(sqlite_url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def service(db: Database) -> ChatService:
    engine = MapEngine(SimSource(EXCHANGES, seed=7, now_ms=NOW))
    return ChatService(db, engine, settings(), render_cache=RenderCache(), clock=Clock())


@pytest.fixture
def simcord_bot(service: ChatService) -> LiqmapBot:
    """The real liqmap bot for simcord's ``simcord_env`` fixture."""
    return LiqmapBot(service, service.config)
