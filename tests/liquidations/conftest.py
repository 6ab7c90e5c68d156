"""Fixtures for the real-liquidations tests: the REST exchange stand-in (market lists, history), the liquidation
websocket stand-in, the shipped app (``build_app`` from ``Settings``, production defaults) with ccxt's REST and
websocket URLs pointed at them through ``LIQMAP_EXCHANGE_OPTIONS``, and the shared database fixtures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from tests.conftest_db import (  # noqa: F401
    _sqlite_template,
    db,
    db_url,
    pg_url,
    sqlite_url,
)
from tests.market.conftest import NOW
from tests.reliability.shipped import ALL, exchange_options, shipped_app, shipped_settings
from tests.standins.exchange_server import DAY, ExchangeServer, Tape
from tests.standins.liquidation_ws import LiquidationWsServer, ws_urls


@pytest.fixture
async def rest() -> AsyncIterator[ExchangeServer]:
    """The REST stand-in with 2 days of history ending at ``NOW``."""
    async with ExchangeServer(Tape(start_ms=NOW - 2 * DAY, now_ms=NOW)) as server:
        yield server


@pytest.fixture
async def ws() -> AsyncIterator[LiquidationWsServer]:
    """The liquidation websocket stand-in."""
    server = LiquidationWsServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def live_options(rest: ExchangeServer, ws: LiquidationWsServer) -> dict[str, Any]:
    """``LIQMAP_EXCHANGE_OPTIONS`` as a user pointing ccxt at proxies writes them: REST and websocket URLs."""
    options = exchange_options(rest, ALL)
    for ex in ALL:
        options[ex]["urls"]["api"]["ws"] = ws_urls(ex, ws.port)
    return options


@pytest.fixture
async def app(tmp_path: Path, rest: ExchangeServer, ws: LiquidationWsServer) -> AsyncIterator[App]:
    """The shipped app on live settings (``LIQMAP_SOURCE=ccxt``, liquidation streams at their default)."""
    settings = shipped_settings(tmp_path, rest, exchange_options=live_options(rest, ws))
    application = await shipped_app(settings, rest)
    try:
        yield application
    finally:
        await application.close()


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait (bounded, polling) until ``condition()`` holds; fails the test with the timeout otherwise."""
    step = 0.02
    for _ in range(int(timeout_s / step)):
        if condition():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"condition not met within {timeout_s:g} s")
