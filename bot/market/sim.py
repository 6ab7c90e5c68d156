"""A seeded synthetic perpetual market (BTC-like by default), labelled ``synthetic=True`` everywhere.

The path is a pure function of (seed, symbol, exchange, UTC day): every UTC day is generated from its own
seeded generator as a Brownian bridge between two daily anchor levels, at 1-minute resolution, and then
aggregated to the requested timeframe. So any window, any timeframe and any "now" see the same market, and
loading a later window only appends candles. Exchanges share the underlying price (plus a small basis) and
differ in volume, open interest and funding noise.
"""

from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from bot.market.symbols import is_inverse
from bot.market.types import F64, I64, TIMEFRAME_MS, MarketSeries

DAY_MS = 86_400_000
MIN_MS = 60_000
MIN_PER_DAY = 1440
FUNDING_EVERY_MS = 8 * 3_600_000
BASE_PRICE = {"BTC": 65_000.0, "ETH": 3_200.0}
EXCHANGE_SCALE = {"binanceusdm": 1.0, "bybit": 0.6, "okx": 0.45}
DAILY_SIGMA = 0.022  # daily log-return scale of the anchor noise
MINUTE_SIGMA = 0.025 / np.sqrt(MIN_PER_DAY)  # intraday diffusion per minute at vol multiplier 1
BTC_PER_MINUTE = 120.0  # Binance-like BTCUSDT perp volume per minute
OI_BTC = 90_000.0  # Binance-like BTCUSDT open interest, BTC


def _h(text: str) -> int:
    return zlib.crc32(text.encode())


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([k & 0xFFFFFFFF for k in key])


@lru_cache(maxsize=4096)
def _day_shock(seed: int, sym: int, day: int) -> tuple[float, float, float]:
    """Per-day standard normals: (anchor level noise, vol-cluster noise, OI anchor noise)."""
    z = _rng(seed, sym, day, 1).standard_normal(3)
    return float(z[0]), float(z[1]), float(z[2])


def _vol_mult(seed: int, sym: int, day: int) -> float:
    """Daily volatility multiplier: an exponentially weighted sum of recent daily shocks (vol clusters)."""
    acc = sum(0.65**k * _day_shock(seed, sym, day - k)[1] for k in range(6))
    return float(np.exp(0.35 * acc - 0.15))


def _anchor(seed: int, sym: int, day: int, base: float) -> tuple[float, float]:
    """(log price, log OI in BTC) at 00:00 UTC of ``day``: slow cycles plus daily noise, mean-reverting."""
    r = _rng(seed, sym, 0)
    periods, phases = r.uniform(20, 400, 4), r.uniform(0, 2 * np.pi, 4)
    slow = float(np.sum(0.08 * np.sin(2 * np.pi * day / periods + phases)))
    zp, _, zo = _day_shock(seed, sym, day)
    lp = np.log(base) + slow + DAILY_SIGMA * _vol_mult(seed, sym, day) * zp
    lo = np.log(OI_BTC) + 0.5 * slow + 0.04 * zo
    return float(lp), float(lo)


def _bridge(rng: np.random.Generator, sigma: F64) -> F64:
    """A Brownian bridge from 0 to 0 over len(sigma)+1 points with per-step scale ``sigma``: (n+1,)."""
    w = np.r_[0.0, np.cumsum(sigma * rng.standard_normal(sigma.shape[0]))]
    return w - w[-1] * np.linspace(0.0, 1.0, w.shape[0])


@lru_cache(maxsize=128)
def _day_minutes(seed: int, symbol: str, exchange: str, day: int) -> dict[str, F64]:
    """One UTC day at 1m resolution for one exchange: arrays of shape (1440,)."""
    sym, ex = _h(symbol), _h(exchange)
    base = BASE_PRICE.get(symbol.split("/")[0], 100.0)
    (lp0, lo0), (lp1, lo1) = _anchor(seed, sym, day, base), _anchor(seed, sym, day + 1, base)
    r = _rng(seed, sym, day, 2)
    hourly = np.exp(0.3 * np.cumsum(0.5 * r.standard_normal(25)) / np.sqrt(np.arange(1, 26)))
    vol = _vol_mult(seed, sym, day) * np.interp(np.arange(MIN_PER_DAY) / 60.0, np.arange(25), hourly)
    steps = _bridge(r, MINUTE_SIGMA * vol)
    logp = lp0 + (lp1 - lp0) * np.linspace(0.0, 1.0, MIN_PER_DAY + 1) + steps  # (1441,) minute edges
    # exchange-specific parts: basis, wick sizes, volume, OI, all from the exchange's own generator
    e = _rng(seed, sym, ex, day, 3)
    basis = 2e-4 * (((ex % 11) - 5) / 5.0) + 5e-5 * e.standard_normal(MIN_PER_DAY + 1)
    edge = np.exp(logp + basis)
    o, c = edge[:-1], edge[1:]
    wick = MINUTE_SIGMA * vol * 0.6
    hi = np.maximum(o, c) * np.exp(np.abs(e.standard_normal(MIN_PER_DAY)) * wick)
    lo = np.minimum(o, c) * np.exp(-np.abs(e.standard_normal(MIN_PER_DAY)) * wick)
    z = np.diff(logp) / (MINUTE_SIGMA * vol)
    scale = EXCHANGE_SCALE.get(exchange, 0.3)
    noise = np.exp(0.3 * e.standard_normal(MIN_PER_DAY))
    volume = scale * BTC_PER_MINUTE * vol * (0.4 + 0.6 * np.abs(z)) * noise
    buy_frac = np.clip(0.5 + 0.25 * np.tanh(z) + 0.05 * e.standard_normal(MIN_PER_DAY), 0.05, 0.95)
    # OI in BTC: bridge between daily anchors, pushed by price moves (positions open into trends)
    oi_path = (lo1 - lo0) * np.linspace(0.0, 1.0, MIN_PER_DAY + 1) + _bridge(e, 0.0015 * vol) + 0.3 * steps
    log_oi = lo0 + oi_path[:-1]
    return {
        "open": o, "high": hi, "low": lo, "close": c, "volume": volume, "taker_buy_volume": volume * buy_frac,
        "oi_usd": scale * np.exp(log_oi) * o,
    }


def _funding(seed: int, symbol: str, exchange: str, times: I64) -> F64:
    """Funding per settlement at ``times`` (k,) ms: positive carry plus a premium following the 8h trend
    before it, (k,) fraction. Depends only on the settlement time, never on the requested window."""
    sym, ex = _h(symbol), _h(exchange)
    out = np.empty(times.shape[0], dtype=np.float64)
    for i, t in enumerate(times.tolist()):
        day = (t - 1) // DAY_MS
        closes = _day_minutes(seed, symbol, exchange, day)["close"]
        end = (t - day * DAY_MS) // MIN_MS  # minutes into ``day`` at settlement (480, 960 or 1440)
        trend = np.log(closes[end - 1] / closes[end - 1 - FUNDING_EVERY_MS // MIN_MS + 1])
        noise = _rng(seed, sym, ex, t // FUNDING_EVERY_MS, 4).standard_normal()
        out[i] = 1e-4 + 2.5e-4 * np.tanh(trend / 0.02) + 2e-5 * noise
    return out


LIQ_LOOKBACK_MIN = 60  # a minute whose wick makes a new low (high) beyond the last hour's liquidates longs (shorts)
LIQ_SCALE = 0.1  # USD liquidated per USD of open interest per unit of the new extreme (fraction of price)


def synthetic_liquidations(minutes: dict[str, F64], first_ms: int) -> tuple[I64, npt.NDArray[np.int8], F64, F64]:
    """Simulated liquidation prints from one-minute bars (``minutes``: (k,) arrays low/high/oi_usd, the first
    opening at ``first_ms``): a wick beyond the lowest low (highest high) of the previous ``LIQ_LOOKBACK_MIN``
    minutes sweeps the levels left there, liquidating longs at the low (shorts at the high) in USD proportional to
    open interest and to how far the new extreme went (about 0.5-3 % of open interest a day). Returns (time ms,
    side +1 long / -1 short, price USD, amount BTC), time ascending; deterministic."""
    low, high, look = minutes["low"], minutes["high"], LIQ_LOOKBACK_MIN
    prior_low = sliding_window_view(np.concatenate([np.full(look, low[0]), low])[:-1], look).min(axis=1)
    prior_high = sliding_window_view(np.concatenate([np.full(look, high[0]), high])[:-1], look).max(axis=1)
    down = np.maximum(prior_low - low, 0.0) / prior_low
    up = np.maximum(high - prior_high, 0.0) / prior_high
    t = first_ms + MIN_MS * np.arange(low.shape[0], dtype=np.int64) + MIN_MS // 2
    parts = []
    for sign, excess, at_price in ((1, down, low), (-1, up, high)):
        hit = excess > 0
        usd = minutes["oi_usd"][hit] * excess[hit] * LIQ_SCALE
        parts.append((t[hit], np.full(int(hit.sum()), sign, dtype=np.int8), at_price[hit], usd / at_price[hit]))
    ts, sides, prices, amounts = (np.concatenate(c) for c in zip(*parts, strict=True))
    order = np.argsort(ts, kind="stable")
    return ts[order], sides[order].astype(np.int8), prices[order], amounts[order]


def synthetic_series(
    exchange: str, symbol: str, timeframe: str, end_ms: int, n_candles: int, seed: int
) -> MarketSeries:
    """``n_candles`` closed candles of ``timeframe`` ending at or before ``end_ms`` (ms UTC), synthetic.

    Returns OHLC (USD), volume/taker-buy volume (BTC), open interest (USD) at each candle open time,
    funding at 00/08/16 UTC within the span and simulated liquidation prints
    (``synthetic_liquidations``). Deterministic in (seed, symbol, exchange).
    """
    tf = TIMEFRAME_MS[timeframe]
    if n_candles < 1:
        raise ValueError("n_candles must be at least 1")
    if tf % MIN_MS or DAY_MS % tf:
        raise ValueError(f"timeframe {timeframe} does not divide a day")
    last_open = (end_ms // tf) * tf - tf
    first_open = last_open - (n_candles - 1) * tf
    d0, d1 = first_open // DAY_MS, (last_open + tf - 1) // DAY_MS
    days = [_day_minutes(seed, symbol, exchange, d) for d in range(d0, d1 + 1)]
    cat = {k: np.concatenate([d[k] for d in days]) for k in days[0]}
    skip = (first_open - d0 * DAY_MS) // MIN_MS
    per = tf // MIN_MS
    span = n_candles * per
    m = {k: v[skip : skip + span].reshape(n_candles, per) for k, v in cat.items()}
    ts = first_open + tf * np.arange(n_candles, dtype=np.int64)
    first_f = -(-first_open // FUNDING_EVERY_MS) * FUNDING_EVERY_MS
    f_ts = np.arange(first_f, last_open + tf, FUNDING_EVERY_MS, dtype=np.int64)
    rates = _funding(seed, symbol, exchange, f_ts)
    liq_t, liq_side, liq_price, liq_amount = synthetic_liquidations(
        {k: v[skip : skip + span] for k, v in cat.items()}, first_open)
    return MarketSeries(
        exchange=exchange,
        symbol=symbol,
        timeframe=timeframe,
        timestamp=ts,
        open=m["open"][:, 0].copy(),
        high=m["high"].max(axis=1),
        low=m["low"].min(axis=1),
        close=m["close"][:, -1].copy(),
        volume=m["volume"].sum(axis=1),
        taker_buy_volume=m["taker_buy_volume"].sum(axis=1),
        contract="inverse" if is_inverse(symbol) else "linear",
        oi_timestamp=ts.copy(),
        oi_usd=m["oi_usd"][:, 0].copy(),
        funding_timestamp=f_ts,
        funding_rate=np.asarray(rates, dtype=np.float64),
        liq_timestamp=liq_t,
        liq_side=liq_side,
        liq_price=liq_price,
        liq_amount=liq_amount,
        synthetic=True,
        fetched_at=int(end_ms),
    )

