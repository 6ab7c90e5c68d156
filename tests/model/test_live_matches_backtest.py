"""The map a live bot shows is the map the backtest scores: on the shipped path (``build_app`` from user settings,
ccxt pointed at the exchange stand-in, the stored-data wrapper), the engine loads all the history ``build_map``
reads, so its next-hour layer (whose hour-of-day profile reads 7 days) and its pending book equal those of
``build_map`` over the whole recorded history at the same instant, which is what ``liqmap backtest`` computes.

Before, the engine loaded the window + 25 % only: the layer's hour-of-day factor rested on one or two candles and,
for the 12h window, its 24 h activity level on 15 h (read as a quiet market)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from bot.app import App
from bot.model.build import build_map, history_ms
from bot.model.openings import PROFILE_SPAN_MS
from bot.model.types import WINDOWS
from tests.market.conftest import NOW
from tests.reliability.shipped import running_app
from tests.standins.exchange_server import DAY, ExchangeServer, Tape

SYMBOL = "BTC/USDT:USDT"


@pytest.fixture
async def application(tmp_path: Path) -> AsyncIterator[App]:
    """The shipped app over an exchange stand-in with 12 days of history (more than the 7 days loaded)."""
    async with (
        ExchangeServer(Tape(start_ms=NOW - 12 * DAY, now_ms=NOW)) as server,
        running_app(tmp_path, server) as app,
    ):
        yield app


@pytest.mark.parametrize("window", ["12h", "24h"])
async def test_live_map_equals_the_backtests_map_at_the_same_instant(application: App, window: str) -> None:
    live = (await application.service.map_for(SYMBOL, window))[0].map
    assert live.next_long_usd.sum() > 0 and live.next_short_usd.sum() > 0
    # the whole recorded history, as the backtest reads a dataset
    everything = await application.source.load(SYMBOL, WINDOWS[window][1], NOW - 11 * DAY, live.at)
    scored = build_map(everything.series, window=window, at_ms=live.at)
    assert scored.exchanges == live.exchanges
    np.testing.assert_allclose(live.next_long_usd, scored.next_long_usd, rtol=1e-9)
    np.testing.assert_allclose(live.next_short_usd, scored.next_short_usd, rtol=1e-9)
    np.testing.assert_allclose(live.long_usd, scored.long_usd, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(live.short_usd, scored.short_usd, rtol=1e-9, atol=1e-6)


def test_history_covers_the_hour_of_day_profile_only_while_the_layer_is_on() -> None:
    from bot.model.params import ModelParams

    assert history_ms("24h") == PROFILE_SPAN_MS + 5 * 60_000  # and one 5m candle
    assert history_ms("30d") == int(30 * DAY * 1.25)
    assert history_ms("24h", ModelParams(next_hour_openings=0.0)) == int(DAY * 1.25)
