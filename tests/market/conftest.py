"""Fixtures for market tests: the exchange stand-in and a CcxtSource wired to it (no real waiting on retries)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.market.ccxt_fetch import RetryPolicy
from bot.market.ccxt_source import CcxtSource
from tests.standins.exchange_server import DAY, HOUR, ExchangeServer, Tape

NOW = 1_767_225_600_000 + 7 * HOUR + 123  # 2026-01-01 07:00:00.123 UTC, deliberately not on a candle edge
SYMBOL = "BTC/USDT:USDT"


async def no_wait(_seconds: float) -> None:
    """Retry sleep for tests: back off without waiting."""


NO_WAIT = RetryPolicy(attempts=4, sleep=no_wait)


@pytest.fixture
async def stand_in() -> AsyncIterator[ExchangeServer]:
    """A running exchange stand-in with 60 days of history ending at NOW."""
    async with ExchangeServer(Tape(start_ms=NOW - 60 * DAY, now_ms=NOW)) as server:
        yield server


def source_for(server: ExchangeServer, *exchanges: str, api_keys: dict[str, str] | None = None) -> CcxtSource:
    """A CcxtSource whose clock is the stand-in's ``now`` and whose exchanges point at the stand-in."""
    return CcxtSource(exchanges, api_keys=api_keys, exchange_factory=server.factory,
                      clock=lambda: server.tape.now_ms, retry=NO_WAIT)
