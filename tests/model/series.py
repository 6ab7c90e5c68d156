"""Seeded random-walk market series for model tests (no shared data, no simulator internals)."""

from __future__ import annotations

import numpy as np

from bot.market.types import MarketSeries

T0 = 1_750_000_000_000 - (1_750_000_000_000 % 3_600_000)


def random_series(
    seed: int,
    n: int = 120,
    tf_ms: int = 300_000,
    with_oi: bool = True,
    with_taker: bool = True,
    liq_every: int = 0,
) -> MarketSeries:
    """``n`` candles of 5m (default) BTC-like random walk around 60k USD, with OI (USD) and taker volume (BTC).

    ``liq_every`` > 0 adds one liquidation per that many candles (price at the candle's low/high, 1 BTC).
    """
    rng = np.random.default_rng(seed)
    ret = rng.normal(0.0, 0.002, n)
    close = 60_000.0 * np.exp(np.cumsum(ret))
    open_ = np.concatenate(([60_000.0], close[:-1]))
    wick = np.abs(rng.normal(0.0, 0.0015, (2, n))) * close
    high = np.maximum(open_, close) + wick[0]
    low = np.minimum(open_, close) - wick[1]
    volume = rng.uniform(50.0, 300.0, n)
    buy = volume * rng.uniform(0.3, 0.7, n)
    ts = T0 + tf_ms * np.arange(n, dtype=np.int64)
    oi = 5e9 * np.exp(np.cumsum(rng.normal(0.0, 0.003, n)))
    extra: dict[str, object] = {}
    if with_oi:
        extra.update(oi_timestamp=ts + tf_ms, oi_usd=oi)
    if liq_every:
        idx = np.arange(liq_every // 2, n, liq_every)
        side = np.where(idx % 2 == 0, 1, -1).astype(np.int8)
        extra.update(
            liq_timestamp=ts[idx] + tf_ms // 2,
            liq_side=side,
            liq_price=np.where(side > 0, low[idx], high[idx]),
            liq_amount=np.ones(idx.size),
        )
    return MarketSeries(
        exchange="testex",
        symbol="BTC/USDT:USDT",
        timeframe={60_000: "1m", 300_000: "5m", 3_600_000: "1h"}[tf_ms],
        timestamp=ts,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        taker_buy_volume=buy if with_taker else np.full(n, np.nan),
        synthetic=True,
        **extra,  # type: ignore[arg-type]
    )
