"""Open interest sampled at another cadence than the candles (coarser, finer, offset, with gaps) still gives a map.

Every map here goes through the shipped path: a dataset directory written by ``write_dataset``, read back by the
``replay:DIR`` source that ``make_source`` builds, and turned into a map by ``MapEngine`` (or the ``liqmap``
process). The inflow checks read the model's own flows of the very series the replay source served.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.engine import MapEngine, MapResult
from bot.market.replay import write_dataset
from bot.market.source import make_source
from bot.market.types import MarketSeries
from bot.model.flows import Flows, series_flows
from bot.model.params import DEFAULT_PARAMS
from bot.model.types import WINDOWS
from tests.conftest import shared_dataset

MIN = 60_000
HOUR = 60 * MIN
T0 = 1_780_000_000_000 - 1_780_000_000_000 % (24 * HOUR)  # a UTC midnight, so every cadence below aligns


def _candles(seed: int, tf_ms: int, n: int, with_volume: bool = True) -> MarketSeries:
    """``n`` BTC-like random-walk candles of ``tf_ms`` from T0 (volume and taker split in BTC when asked)."""
    rng = np.random.default_rng(seed)
    close = 60_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0015 * np.sqrt(tf_ms / (5 * MIN)), n)))
    open_ = np.concatenate(([60_000.0], close[:-1]))
    wick = np.abs(rng.normal(0.0, 0.001, (2, n)))
    high = np.maximum(open_, close) * (1.0 + wick[0])
    low = np.minimum(open_, close) * (1.0 - wick[1])
    volume = rng.uniform(50.0, 300.0, n) if with_volume else np.full(n, np.nan)
    return MarketSeries(
        exchange="binanceusdm", symbol="BTC/USDT:USDT", timeframe={5 * MIN: "5m", HOUR: "1h"}[tf_ms],
        timestamp=T0 + tf_ms * np.arange(n, dtype=np.int64), open=open_, high=high, low=low, close=close,
        volume=volume, taker_buy_volume=volume * rng.uniform(0.3, 0.7, n),
    )


def _with_oi(series: MarketSeries, cadence_ms: int, offset_ms: int, seed: int, drift: float) -> MarketSeries:
    """``series`` plus an OI random walk (USD, upward ``drift`` per hour) sampled every ``cadence_ms``.

    Samples start ``offset_ms`` after the first candle's open and run to the last candle's close.
    """
    rng = np.random.default_rng(seed + 1)
    ts = np.arange(int(series.timestamp[0]) + offset_ms, series.last_close_time + 1, cadence_ms, dtype=np.int64)
    per_step = cadence_ms / HOUR
    steps = rng.normal(drift * per_step, 0.004 * np.sqrt(per_step), ts.size)
    return replace(series, oi_timestamp=ts, oi_usd=5e9 * np.exp(np.cumsum(steps)))


def _map_via_replay(series: MarketSeries, window: str, directory: Path) -> tuple[MapResult, MarketSeries]:
    """Write ``series`` as a dataset, serve it with ``replay:DIR`` and compute ``window``'s map at its end.

    Returns the map and the series the source served for it (what the model read).
    """
    write_dataset(series, directory, "test: OI cadence")
    source = make_source(f"replay:{directory}", [])

    async def go() -> tuple[MapResult, MarketSeries]:
        try:
            result = await MapEngine(source).compute(series.symbol, window)
            end = source.end_ms
            assert end is not None
            served = await source.load(series.symbol, WINDOWS[window][1], end - 2 * 86_400_000 * 30, end)
            return result, served.series[0]
        finally:
            await source.close()

    return asyncio.run(go())


def _window_flows(served: MarketSeries, window: str, at: int) -> Flows:
    """The model's flows of the window candles of ``served`` (as ``build_map`` computes them)."""
    span = WINDOWS[window][0]
    start = int(np.searchsorted(served.timestamp + served.timeframe_ms, at - span, side="right"))
    return series_flows(served, start, DEFAULT_PARAMS)


def _positive_rise(oi_ts: np.ndarray, oi: np.ndarray, lo: int, hi: int) -> float:
    """Sum of the positive OI increments between samples, counting the part of each segment inside [lo, hi]."""
    a, b = oi_ts[:-1], oi_ts[1:]
    inside = np.clip(np.minimum(b, hi) - np.maximum(a, lo), 0, None) / (b - a)
    return float((np.maximum(np.diff(oi), 0.0) * inside).sum())


def _assert_finite_map(result: MapResult) -> None:
    m = result.map
    for arr in (m.long_usd, m.short_usd, m.long_by_lev, m.short_by_lev, m.heat_long, m.heat_short):
        assert np.isfinite(arr).all()
        assert (arr >= 0).all()


CADENCES = [1 * MIN, 5 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 4 * HOUR]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    candle=st.sampled_from(["5m", "1h"]),
    cadence=st.sampled_from(CADENCES),
    offset_frac=st.sampled_from([0.0, 0.0, 0.3, 0.7]),
    seed=st.integers(0, 10_000),
    drift=st.floats(0.002, 0.01),
)
def test_any_oi_cadence_gives_a_map_whose_inflow_matches_the_oi_rise(
    candle: str, cadence: int, offset_frac: float, seed: int, drift: float
) -> None:
    window = "24h" if candle == "5m" else "7d"
    tf = 5 * MIN if candle == "5m" else HOUR
    n = int(WINDOWS[window][0] * 1.5) // tf  # the engine loads 1.25 windows; more history is harmless
    offset = int(offset_frac * min(cadence, tf)) // MIN * MIN
    series = _with_oi(_candles(seed, tf, n), cadence, offset, seed, drift)
    with tempfile.TemporaryDirectory() as tmp:
        result, served = _map_via_replay(series, window, Path(tmp))
    m = result.map
    assert not m.is_empty and m.exchanges == ("binanceusdm",)
    _assert_finite_map(result)

    flows = _window_flows(served, window, m.at)
    assert np.isfinite(flows.deposit).all() and np.isfinite(flows.close_factor).all()
    assert (flows.deposit >= 0).all() and ((flows.close_factor > 0) & (flows.close_factor <= 1)).all()
    # Compare only candles the OI samples bracket (the tail after the last sample is the proxy's business).
    last_oi = int(served.oi_timestamp[-1])
    first_close = int(flows.close_time[0])
    covered = flows.close_time <= last_oi
    inflow = float(flows.deposit[covered].sum())
    lo = first_close - tf  # the window's first OI delta starts at the close before it
    hi = int(flows.close_time[covered][-1])
    rise = _positive_rise(served.oi_timestamp, served.oi_usd, lo, hi)
    oi_lo, oi_hi = np.interp([lo, hi], served.oi_timestamp, served.oi_usd)
    assert rise > 0 and inflow > 0
    # Never more than the rises the samples show, never less than the net rise over the same span.
    assert inflow <= rise * (1 + 1e-9)
    assert inflow >= (oi_hi - oi_lo) * (1 - 1e-9)
    if cadence >= tf and offset == 0:
        # Samples on candle closes: every rise is spread over the candles between its samples, exactly.
        assert inflow == pytest.approx(rise, rel=1e-9)


def test_hourly_oi_with_5m_candles_spreads_each_rise_over_its_candles(tmp_path: Path) -> None:
    series = _with_oi(_candles(3, 5 * MIN, 432), HOUR, 0, 3, 0.004)
    result, served = _map_via_replay(series, "24h", tmp_path / "ds")
    assert not result.map.is_empty and result.map.clusters
    flows = _window_flows(served, "24h", result.map.at)
    # Each hour's OI change is spread evenly over its 12 candles: the deposit is constant within an hour.
    hour_of = (flows.close_time - 1) // HOUR
    for h in np.unique(hour_of)[1:-1]:
        dep = flows.deposit[hour_of == h]
        assert dep.size == 12 and np.ptp(dep) <= 1e-6 * max(float(dep.max()), 1.0)
    assert any("OI sampled every 1h" in n for n in result.map.notes)


def test_long_oi_gap_falls_back_to_the_volume_proxy_with_a_note(tmp_path: Path) -> None:
    series = _with_oi(_candles(5, 5 * MIN, 432), 30 * MIN, 0, 5, 0.003)
    # Drop the samples of an 8-hour stretch: a gap far longer than the cadence must not become a straight line.
    gap_lo, gap_hi = T0 + 20 * HOUR, T0 + 28 * HOUR
    keep = (series.oi_timestamp <= gap_lo) | (series.oi_timestamp >= gap_hi)
    series = replace(series, oi_timestamp=series.oi_timestamp[keep], oi_usd=series.oi_usd[keep])
    result, served = _map_via_replay(series, "24h", tmp_path / "ds")
    assert not result.map.is_empty
    _assert_finite_map(result)
    flows = _window_flows(served, "24h", result.map.at)
    in_gap = (flows.close_time > gap_lo) & (flows.close_time < gap_hi)
    assert in_gap.sum() > 80
    notional = served.volume * served.close
    proxy = notional[np.isin(served.timestamp + served.timeframe_ms, flows.close_time[in_gap])]
    # The proxy: a fixed share of each candle's traded notional, so deposits follow volume (a line would not).
    ratio = flows.deposit[in_gap] / proxy
    assert np.ptp(ratio) <= 1e-9 * float(ratio.max()) and float(ratio.max()) > 0
    assert any("volume proxy" in n and "gap" in n for n in result.map.notes)


def test_liqmap_map_cli_with_hourly_oi(tmp_path: Path) -> None:
    """The reported failure, end to end: 5m candles + hourly OI, ``liqmap map --source replay:DIR --json``."""
    directory = tmp_path / "hourly-oi"
    write_dataset(_with_oi(_candles(11, 5 * MIN, 400), HOUR, 0, 11, 0.004), directory, "test: hourly OI")
    assert json.loads((directory / "meta.json").read_text())["timeframe"] == "5m"
    liqmap = Path(sys.executable).with_name("liqmap")
    cmd = [str(liqmap)] if liqmap.exists() else [sys.executable, "-m", "bot"]
    proc = subprocess.run(
        [*cmd, "map", "--source", f"replay:{directory}", "--window", "24h", "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["clusters"] and out["exchanges"] == ["binanceusdm"]
    assert sum(out["bins"]["long_usd"]) > 0 and sum(out["bins"]["short_usd"]) > 0
    assert {c["side"] for c in out["clusters"]} == {"long", "short"}


def test_binance_5m_dataset_maps_across_its_oi_gap() -> None:
    """The real 5m set: OI missing for ~6 days. Maps before, inside, after and across the gap all have mass."""
    path = shared_dataset("binance-btc-5m-2026-06")
    source = make_source(f"replay:{path}", [])
    gap_lo, gap_hi = 1_781_449_500_000, 1_781_952_900_000  # 2026-06-14 15:05, 2026-06-20 10:55 UTC
    across = gap_hi + 24 * HOUR  # a 7d window (1h candles from the 5m ones) with OI on both sides of the gap

    async def go() -> list[MapResult]:
        engine = MapEngine(source)
        out = []
        for window, at in (("24h", gap_lo - 2 * HOUR), ("24h", gap_lo + 12 * HOUR), ("24h", gap_hi + 6 * HOUR),
                           ("7d", across)):
            out.append(await engine.compute("BTC/USDT:USDT", window, at))
        await source.close()
        return out

    results = asyncio.run(go())
    for r in results:
        assert not r.map.is_empty and r.map.clusters
        _assert_finite_map(r)
    before, inside, after, week = (r.map for r in results)
    assert not any("volume proxy" in n for n in before.notes)  # 5m OI on 5m candles: no proxy at all
    # Inside the gap the missing OI is the latest data; just after it, the window starts inside the gap, and the
    # history the engine loads (7 days, for the next-hour layer) holds OI on both sides of it, as does a week.
    assert any("no OI sample in the last" in n and "volume proxy" in n for n in inside.notes)
    assert any("OI gap of 5.8d" in n and "volume proxy" in n for n in after.notes), after.notes
    assert any("OI gap of 5.8d" in n and "volume proxy" in n for n in week.notes), week.notes
    assert any("OI sampled every 5m, read at each 1h candle close" in n for n in week.notes)  # 5m OI onto 1h candles
    # Across the gap the proxy keeps the OI-based scale, and follows the candles instead of a straight line.
    served = asyncio.run(source.load("BTC/USDT:USDT", "1h", across - 9 * 86_400_000, across)).series[0]
    flows = _window_flows(served, "7d", across)
    in_gap = (flows.close_time > gap_lo + HOUR) & (flows.close_time < gap_hi)
    assert in_gap.sum() > 100 and (~in_gap).sum() > 24
    ratio = float(flows.deposit[in_gap].mean() / flows.deposit[~in_gap].mean())
    assert 0.2 < ratio < 5.0
    rel_range = (flows.high - flows.low) / flows.close  # the dataset has no volume: the proxy follows the range
    np.testing.assert_allclose(flows.deposit[in_gap] / rel_range[in_gap],
                               float(flows.deposit[in_gap][0] / rel_range[in_gap][0]), rtol=1e-9)
