"""Forecast layer: expected liquidated USD per price bin over a horizon, from the pending map plus new positions.

The pending map (``LiqMap``) says where open positions *would* be liquidated; it does not say whether price will
get there, and it holds nothing for positions opened after the map's instant. Over a horizon ``H`` the expected
liquidated notional at price ``y`` is (docs/model.md, "Forecast"):

    F(y) = pending(y) * R~(|ln(y/p)|, H)                                                       (a) open positions
         + sum_side sum_l  rate_side * w'_l * integral_0^H  N(ln(y/p) - d_l ; 0, sigma^2 s) * R~(|ln k_l|, H - s) ds
                                                                                               (b) new positions

with ``R(d, T) = 2 * (1 - Phi(d / (sigma * sqrt(T))))`` the first-passage probability of a driftless random walk
in log price and ``R~`` the same reached *before the holder closes* (the map's exponential decay), ``w'`` the
leverage mix of *opened* notional (open-interest weights / expected lifetime), ``sigma`` the trailing Parkinson
volatility (per sqrt(ms)) of candles closed by ``p``'s instant,
``rate_side`` the recent opening rate (USD per ms) of the model's own flows, ``k_l`` the isolated-margin
liquidation factor of leverage ``l`` and ``d_l`` its offset *as recorded*: exchanges print bankruptcy/order
prices, about one maintenance-margin rate beyond the mark trigger, so every forecast level is moved outward by
the tier's MMR (longs x (1 - MMR), shorts x (1 + MMR)). Pure numpy, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.market.types import LeverageTier, MarketSeries
from bot.model.flows import series_flows
from bot.model.liquidation import liq_factors, tier_lookup
from bot.model.params import DEFAULT_PARAMS, ModelParams
from bot.model.types import LiqMap

F64 = npt.NDArray[np.float64]

HOUR_MS = 3_600_000.0


@dataclass(frozen=True)
class ForecastParams:
    """Tunables of the forecast, each with a physical rationale; only ``sigma_lookback_h`` was chosen on data (out
    of sample, below).

    lookback_h: trailing hours of closed candles used for the opening rate. 24h covers one full daily cycle of
        trading activity, so the rate does not depend on the hour of day.
    sigma_lookback_h: trailing hours of closed candles used for the volatility. Volatility clusters on the scale
        of hours, so the last 2h predict the coming hours' moves better than a day does. Chosen out of sample on
        the 161-day coinglass set (docs/model.md, "Forecast volatility"): 2h beat 3, 6, 12 and 24h on its first
        half, and the second half and the okx set confirmed it.
    time_nodes: midpoint nodes of the integral over the entry time ``s`` in (0, H]; 16 resolves the entry
        density far finer than the 0.25% scoring buckets for any horizon.
    min_sigma_per_sqrt_h: floor on the hourly log volatility (0.05%); a flat or one-candle history must not make
        the reach probability a step function.
    record_at_bankruptcy: move forecast levels outward by the tier's MMR (recorded liquidation prices are
        bankruptcy/order prices); False gives mark-trigger levels.
    turnover_weights: spread *new* notional over leverage as leverage_weights / expected lifetime (the weights
        describe open interest, a stock; short-lived high-leverage positions are a larger share of the flow).
    close_during_horizon: a level counts only if reached before its holder closes it (the map's half-life).
    """

    lookback_h: float = 24.0
    sigma_lookback_h: float = 2.0
    time_nodes: int = 16
    min_sigma_per_sqrt_h: float = 0.0005
    record_at_bankruptcy: bool = True
    turnover_weights: bool = True
    close_during_horizon: bool = True

    def __post_init__(self) -> None:
        if self.lookback_h <= 0 or self.sigma_lookback_h <= 0 or self.time_nodes < 1 or self.min_sigma_per_sqrt_h <= 0:
            raise ValueError("lookback_h, sigma_lookback_h and min_sigma_per_sqrt_h must be > 0 and time_nodes >= 1")


DEFAULT_FORECAST = ForecastParams()


@dataclass(frozen=True)
class Forecast:
    """Expected liquidated USD per bin of the map's grid over ``horizon_ms`` after ``at``, at recorded prices.

    Attributes (b = bins): bin_price (b,) USD; long_usd / short_usd (b,) USD total; pending_usd (b,) USD part (a)
    (both sides); new_usd (b,) USD part (b) (both sides); sigma: log volatility per sqrt(ms); rate_long /
    rate_short: USD opened per ms.
    """

    at: int
    price: float
    horizon_ms: int
    bin_price: F64
    long_usd: F64
    short_usd: F64
    pending_usd: F64
    new_usd: F64
    sigma: float
    rate_long: float
    rate_short: float

    @property
    def total_usd(self) -> F64:
        """(b,) USD long + short."""
        return np.asarray(self.long_usd + self.short_usd, dtype=np.float64)


def _log_half_erfc(x: F64) -> F64:
    """log(erfc(x) / 2) for x >= 0 (Chebyshev fit, Numerical Recipes: fractional error < 1.2e-7), no underflow."""
    t = 1.0 / (1.0 + 0.5 * x)
    poly = -x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    return np.asarray(np.log(0.5 * t) + poly, dtype=np.float64)


def normal_sf(z: F64) -> F64:
    """Standard normal survival 1 - Phi(z), any shape, |error| < 1.2e-7."""
    zz = np.asarray(z, dtype=np.float64)
    tail = np.exp(_log_half_erfc(np.abs(zz) / math.sqrt(2.0)))
    return np.asarray(np.where(zz >= 0, tail, 1.0 - tail), dtype=np.float64)


def reach_before_close(distance: F64, sigma: float, horizon_ms: float, half_life_h: float) -> F64:
    """P(price moves ``distance`` (log, any shape) within ``horizon_ms`` *before the holder closes* the position).

    Closing is exponential with rate lam = ln 2 / half-life (the map's decay). With a = |d| / sigma, c = sqrt(2 lam):
    E[exp(-lam T_a); T_a <= T] = exp(-a c) Phi((c T - a)/sqrt T) + exp(a c) Phi(-(c T + a)/sqrt T)
    (lam = 0 gives ``reach_probability``). The second term is evaluated in logs, so it never overflows.
    """
    if half_life_h <= 0:
        return reach_probability(distance, sigma, horizon_ms)
    d = np.abs(np.asarray(distance, dtype=np.float64))
    if sigma <= 0 or horizon_ms <= 0:
        return np.asarray((d == 0).astype(np.float64), dtype=np.float64)
    a, c, rt = d / sigma, math.sqrt(2.0 * math.log(2.0) / (half_life_h * HOUR_MS)), math.sqrt(horizon_ms)
    first = np.exp(-a * c) * normal_sf((a - c * horizon_ms) / rt)
    second = np.exp(a * c + _log_half_erfc((c * horizon_ms + a) / rt / math.sqrt(2.0)))
    return np.asarray(np.clip(first + second, 0.0, 1.0), dtype=np.float64)


def reach_probability(distance: F64, sigma: float, horizon_ms: float) -> F64:
    """P(a driftless random walk in log price moves ``distance`` (any shape, log units) within ``horizon_ms``).

    Reflection principle: 2 * (1 - Phi(|d| / (sigma * sqrt(T)))). 1 at d = 0, 0 for T <= 0 and d > 0.
    """
    d = np.abs(np.asarray(distance, dtype=np.float64))
    scale = sigma * math.sqrt(max(horizon_ms, 0.0))
    if scale <= 0:
        return np.asarray((d == 0).astype(np.float64), dtype=np.float64)
    return np.minimum(2.0 * normal_sf(d / scale), 1.0)


def _recent(series: MarketSeries, at_ms: int, lookback_ms: float) -> int:
    """Index of the first candle closed in (at_ms - lookback_ms, at_ms] of ``series`` already cut at ``at_ms``."""
    return int(np.searchsorted(series.timestamp + series.timeframe_ms, at_ms - lookback_ms, side="right"))


def parkinson_sigma(series: MarketSeries, at_ms: int, fparams: ForecastParams = DEFAULT_FORECAST) -> float:
    """Log volatility per sqrt(ms) from candles closed in the trailing ``sigma_lookback_h`` before ``at_ms``.

    Parkinson: var per candle = mean(ln(high/low)^2) / (4 ln 2), divided by the timeframe; only candles present
    count (sparse tapes are not diluted by empty buckets). Floored at ``min_sigma_per_sqrt_h``.
    """
    cut = series.upto(at_ms)
    floor = fparams.min_sigma_per_sqrt_h / math.sqrt(HOUR_MS)
    start = _recent(cut, at_ms, fparams.sigma_lookback_h * HOUR_MS)
    hi, lo = cut.high[start:], cut.low[start:]
    ok = (lo > 0) & (hi >= lo)
    if not ok.any():
        return floor
    var = float(np.mean(np.log(hi[ok] / lo[ok]) ** 2)) / (4.0 * math.log(2.0)) / cut.timeframe_ms
    return max(math.sqrt(var), floor)


def opening_rate(
    series: MarketSeries, at_ms: int, params: ModelParams = DEFAULT_PARAMS, fparams: ForecastParams = DEFAULT_FORECAST
) -> tuple[float, float]:
    """(long, short) USD opened per ms over the trailing ``lookback_h``, from the model's own flows (no lookahead).

    The time base is the candles present (n x timeframe), so a sparse tape is not diluted by its gaps.
    """
    cut = series.upto(at_ms)
    start = _recent(cut, at_ms, fparams.lookback_h * HOUR_MS)
    if start >= cut.n:
        return 0.0, 0.0
    flows = series_flows(cut, start, params)
    span = float(flows.n * cut.timeframe_ms)
    longs = float((flows.deposit * flows.long_share).sum())
    shorts = float((flows.deposit * flows.short_share).sum())
    return longs / span, shorts / span


def turnover_weights(stock: F64, distance: F64, sigma: float, half_life_h: float) -> F64:
    """(v,) share of newly *opened* notional per leverage bucket from its share of open interest ``stock`` (v,).

    In a steady state flow_l = stock_l / lifetime_l. A position lives until price first moves ``distance`` (v,)
    (log) against it or its holder closes it (exponential, ``half_life_h``); for a driftless walk
    E[min(T_hit, T_close)] = (1 - exp(-distance * sqrt(2 * lam) / sigma)) / lam with lam = ln 2 / half-life.
    """
    lam = math.log(2.0) / (max(half_life_h, 1e-9) * HOUR_MS)
    life = -np.expm1(-distance * math.sqrt(2.0 * lam) / max(sigma, 1e-300)) / lam
    flow = stock / np.maximum(life, 1e-300)
    total = float(flow.sum())
    return np.asarray(flow / total if total > 0 else stock, dtype=np.float64)


def _cdf_bins(log_edges: F64, centre: F64, scale: F64) -> F64:
    """Normal mass per bin: (..., b) from (b + 1,) log edges and broadcastable centres/scales (..., 1)."""
    z = (log_edges - centre) / scale
    sf = normal_sf(z)
    return np.asarray(sf[..., :-1] - sf[..., 1:], dtype=np.float64)


def typical_mmr(params: ModelParams, tiers: tuple[LeverageTier, ...], inverse: bool, price: float) -> float:
    """MMR of the tier of a typical position (``typical_position_usd``; in the coin at ``price`` for inverse
    contracts, whose tiers are coin-denominated)."""
    notional = params.typical_position_usd / price if inverse else params.typical_position_usd
    return float(tier_lookup(notional, tiers, inverse=inverse)[0])


def _new_positions(
    log_edges: F64, side: int, rate: float, sigma: float, horizon_ms: float, params: ModelParams,
    tiers: tuple[LeverageTier, ...], fparams: ForecastParams, inverse: bool = False, price: float = 1.0,
) -> F64:
    """(b,) USD of positions opened during the horizon on ``side`` and liquidated before it ends, at recorded prices.

    Entry time nodes s_j = (j - 1/2) H / J; entry log price ~ N(0, sigma^2 s_j); leverage l puts the level at
    entry + ln(k_l) (+ the MMR shift) and it is hit with probability R(|ln k_l|, H - s_j). ``inverse``: the
    contract is coin-margined (inverse formula, coin tiers looked up at ``price`` USD).
    """
    levs = np.asarray(params.leverages, dtype=np.float64)
    k = liq_factors(levs, side, params.typical_position_usd, tiers, inverse=inverse, price=price)
    mmr = typical_mmr(params, tiers, inverse, price) if fparams.record_at_bankruptcy else 0.0
    offset = np.log(k * (1.0 - side * mmr))  # (v,) recorded level relative to entry, log
    weights = np.asarray(params.weights, dtype=np.float64)
    if fparams.turnover_weights:
        weights = turnover_weights(weights, np.abs(np.log(k)), sigma, params.half_life_h)
    j = np.arange(fparams.time_nodes, dtype=np.float64)
    s = (j + 0.5) * horizon_ms / fparams.time_nodes  # (J,)
    hl = params.half_life_h if fparams.close_during_horizon else 0.0
    hit = np.stack([reach_before_close(np.log(k), sigma, horizon_ms - sj, hl) for sj in s])  # (J, v)
    mass = rate * (horizon_ms / fparams.time_nodes) * weights[None, :] * hit  # (J, v) USD
    scale = np.maximum(sigma * np.sqrt(s), 1e-12)[:, None, None]  # (J, 1, 1)
    per_bin = _cdf_bins(log_edges, offset[None, :, None], scale)  # (J, v, b)
    return np.asarray(np.einsum("jv,jvb->b", mass, per_bin), dtype=np.float64)


def _shift_outward(bin_price: F64, usd: F64, factor: float) -> F64:
    """(b,) ``usd`` moved from price x to x * factor on the same grid (linear split between neighbours)."""
    width = float(bin_price[1] - bin_price[0])
    u = (bin_price * factor - bin_price[0]) / width
    fl = np.floor(u).astype(np.int64)
    frac = u - fl
    out = np.zeros_like(usd)
    for idx, w in ((fl, 1.0 - frac), (fl + 1, frac)):
        ok = (idx >= 0) & (idx < usd.size)
        np.add.at(out, idx[ok], usd[ok] * w[ok])
    return out


def forecast_liquidations(
    liq_map: LiqMap,
    series: Sequence[MarketSeries],
    horizon_ms: int,
    params: ModelParams = DEFAULT_PARAMS,
    fparams: ForecastParams = DEFAULT_FORECAST,
) -> Forecast:
    """Expected liquidated USD per bin of ``liq_map``'s grid in ``(at, at + horizon_ms]`` (module docstring).

    ``series`` are the inputs of the map (one per exchange); only candles closed by ``liq_map.at`` are read.
    The first series with candles gives the volatility and the MMR shift of the pending levels; the positions
    opened during the horizon add up over exchanges, each at the levels of its own contract (linear or inverse)
    and tiers.
    """
    p, at, centres = liq_map.price, liq_map.at, liq_map.bin_price
    b = centres.size
    zero = np.zeros(b)
    live = [s for s in series if s.upto(at).n > 0]
    if not live or not math.isfinite(p) or p <= 0 or b < 2 or horizon_ms <= 0:
        return Forecast(at, p, horizon_ms, centres, zero, zero.copy(), zero.copy(), zero.copy(), 0.0, 0.0, 0.0)
    sigma = parkinson_sigma(live[0], at, fparams)
    rates = [opening_rate(s, at, params, fparams) for s in live]
    rate_long, rate_short = sum(r[0] for r in rates), sum(r[1] for r in rates)
    first = live[0]
    inverse = first.contract == "inverse"
    mmr = typical_mmr(params, first.tiers, inverse, p) if fparams.record_at_bankruptcy else 0.0
    hl = params.half_life_h if fparams.close_during_horizon else 0.0
    reach = reach_before_close(np.log(centres / p), sigma, float(horizon_ms), hl)
    pend_long = _shift_outward(centres, liq_map.long_usd * reach, 1.0 - mmr)
    pend_short = _shift_outward(centres, liq_map.short_usd * reach, 1.0 + mmr)
    width = float(centres[1] - centres[0])
    log_edges = np.log(np.maximum(np.concatenate((centres - width / 2, [centres[-1] + width / 2])), 1e-12) / p)
    new_long, new_short = np.zeros(b), np.zeros(b)
    for s, (r_long, r_short) in zip(live, rates, strict=True):  # each exchange's positions by its own contract
        inv = s.contract == "inverse"
        new_long += _new_positions(log_edges, 1, r_long, sigma, horizon_ms, params, s.tiers, fparams, inv, p)
        new_short += _new_positions(log_edges, -1, r_short, sigma, horizon_ms, params, s.tiers, fparams, inv, p)
    return Forecast(
        at=at, price=p, horizon_ms=horizon_ms, bin_price=centres,
        long_usd=pend_long + new_long, short_usd=pend_short + new_short,
        pending_usd=pend_long + pend_short, new_usd=new_long + new_short,
        sigma=sigma, rate_long=rate_long, rate_short=rate_short,
    )
