"""The synthetic market, SimSource and make_source."""

from __future__ import annotations

import numpy as np
import pytest

from bot.market.ccxt_source import CcxtSource
from bot.market.errors import MarketError
from bot.market.sim import synthetic_series
from bot.market.source import SimSource, make_source

NOW = 1_767_225_600_000 + 3_600_000 * 5 + 777
DAY = 86_400_000


def test_sim_is_deterministic_sane_and_labelled() -> None:
    a = synthetic_series("binanceusdm", "BTC/USDT:USDT", "5m", NOW, 600, seed=7)
    b = synthetic_series("binanceusdm", "BTC/USDT:USDT", "5m", NOW, 600, seed=7)
    c = synthetic_series("binanceusdm", "BTC/USDT:USDT", "5m", NOW, 600, seed=8)
    np.testing.assert_array_equal(a.close, b.close)
    np.testing.assert_array_equal(a.oi_usd, b.oi_usd)
    assert not np.allclose(a.close, c.close)
    for arr in (a.open, a.high, a.low, a.close, a.volume, a.taker_buy_volume, a.oi_usd, a.funding_rate):
        assert np.isfinite(arr).all()
    assert np.all(a.high >= np.maximum(a.open, a.close)) and np.all(a.low <= np.minimum(a.open, a.close))
    assert np.all(a.oi_usd > 0) and np.all(a.taker_buy_volume <= a.volume)
    assert a.synthetic and a.last_close_time <= NOW and np.all(np.diff(a.timestamp) == 300_000)


def test_sim_windows_agree_where_they_overlap() -> None:
    long = synthetic_series("okx", "BTC/USDT:USDT", "1h", NOW, 72, seed=7)
    short = synthetic_series("okx", "BTC/USDT:USDT", "1h", NOW - 5 * 3_600_000, 10, seed=7)
    i = int(np.searchsorted(long.timestamp, short.timestamp[0]))
    np.testing.assert_allclose(long.close[i:i + 10], short.close)


async def test_sim_source_loads_each_exchange() -> None:
    source = SimSource(["binanceusdm", "bybit"], seed=3, now_ms=NOW)
    assert source.synthetic and source.end_ms == NOW and source.exchanges == ("binanceusdm", "bybit")
    result = await source.load("btcusdt", "15m", NOW - DAY)
    assert [s.exchange for s in result.series] == ["binanceusdm", "bybit"]
    for s in result.series:
        assert s.synthetic and s.symbol == "BTC/USDT:USDT" and s.n == 95 and s.tiers  # since is 777 ms past an edge
        assert s.timestamp[0] >= NOW - DAY and s.last_close_time <= NOW
    assert all(f.ok for f in result.freshness)
    assert not np.allclose(result.series[0].volume, result.series[1].volume)
    empty = await source.load("BTC/USDT:USDT", "1h", NOW - 60_000, NOW)
    assert empty.series == [] and empty.freshness[0].ok
    await source.close()


def test_make_source_specs() -> None:
    sim = make_source("sim", ["binanceusdm"], seed=5)
    assert isinstance(sim, SimSource) and sim.seed == 5 and sim.synthetic and sim.end_ms is None
    live = make_source("ccxt", ["binanceusdm", "okx"], api_keys={"okx": "k"}, api_secrets={"okx": "s"})
    assert isinstance(live, CcxtSource) and live.exchanges == ("binanceusdm", "okx") and not live.synthetic
    assert live.end_ms is None


@pytest.mark.parametrize(("spec", "exchanges", "message"), [
    ("live", ["okx"], r"unknown market source 'live'; use 'ccxt', 'sim' or 'replay:DIR\[,DIR...\]'"),
    ("replay:", ["okx"], "replay needs a dataset directory"),
    ("ccxt", ["binnance"], r"unknown exchange 'binnance'; did you mean binance"),
    ("ccxt", [], "no exchanges configured"),
    ("sim", ["nosuchexchange"], "unknown exchange 'nosuchexchange'"),
])
def test_make_source_rejects_bad_specs(spec: str, exchanges: list[str], message: str) -> None:
    with pytest.raises(MarketError, match=message):
        make_source(spec, exchanges)
