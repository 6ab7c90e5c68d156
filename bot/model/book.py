"""The pending position book of one series at the end of its window, as liquidation levels on the grid.

Each (candle j, leverage l, side) cohort opened ``deposit_j * side_share_j * weight_l`` USD with entries spread
uniformly over the candle's [low, high], hence liquidation prices spread uniformly over [low*k_l, high*k_l]
(k_l from the isolated-margin formula of the contract: linear, or inverse for coin-margined contracts).
A long level is liquidated once a *later* candle's low reaches it (LP >= running min of later lows), a short
level once a later high reaches it; the survivors are the interval clipped at that running extreme. Survivors
shrink with every later OI fall (``close_factor``) and with the decay. With ``same_candle_sweep`` q > 0, a share
q of each cohort is also clipped at its own candle's low (longs) / high (shorts).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.market.types import LeverageTier
from bot.model.flows import Flows, decay_weights, later_factor
from bot.model.grid import Grid, accumulate_intervals
from bot.model.liquidation import liq_factors
from bot.model.params import ModelParams

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Cohorts:
    """Liquidation-price intervals of every (candle, leverage) cohort of one side.

    lo/hi: (n, v) USD interval of liquidation prices; mass: (n, v) USD opened (before closes and decay).
    """

    lo: F64
    hi: F64
    mass: F64


def side_cohorts(
    flows: Flows, side: int, params: ModelParams, tiers: tuple[LeverageTier, ...] = ()
) -> Cohorts:
    """Cohort intervals for ``side`` (+1 long, -1 short) of every window candle: shapes (n, v).

    Linear contracts: one factor per leverage, (v,). Inverse ones pick the tier by the typical position's notional
    in the coin at each candle's close, so the factors are (n, v) (identical rows unless a tier boundary is crossed).
    """
    levs = np.asarray(params.leverages, dtype=np.float64)
    if flows.inverse:
        k = liq_factors(levs, side, params.typical_position_usd, tiers, inverse=True, price=flows.close[:, None])
    else:
        k = liq_factors(levs, side, params.typical_position_usd, tiers)[None, :]
    weights = np.asarray(params.weights, dtype=np.float64)
    share = flows.long_share if side > 0 else flows.short_share
    lo = flows.low[:, None] * k
    hi = flows.high[:, None] * k
    min_w = params.min_width_frac * flows.close[:, None]
    pad = np.maximum(min_w - (hi - lo), 0.0) / 2.0
    mass = (flows.deposit * share)[:, None] * weights[None, :]
    return Cohorts(lo=lo - pad, hi=hi + pad, mass=mass)


def later_extremes(flows: Flows) -> tuple[F64, F64]:
    """(n,) running min of lows and max of highs over candles strictly after each candle (+-inf for the last)."""
    later_low = np.concatenate((np.minimum.accumulate(flows.low[::-1])[::-1][1:], [np.inf]))
    later_high = np.concatenate((np.maximum.accumulate(flows.high[::-1])[::-1][1:], [-np.inf]))
    return later_low, later_high


def surviving(cohorts: Cohorts, side: int, sweep: F64, weight: F64) -> Cohorts:
    """Clip each cohort at its sweep extreme (``sweep``: (n,) USD) and scale by ``weight`` (n,).

    Longs keep the part strictly below the later low, shorts the part strictly above the later high;
    the mass kept is proportional to the interval length kept (uniform density).
    """
    lo, hi = cohorts.lo, cohorts.hi
    width = hi - lo
    if side > 0:
        new_lo, new_hi = lo, np.minimum(hi, sweep[:, None])
    else:
        new_lo, new_hi = np.maximum(lo, sweep[:, None]), hi
    kept = np.clip((new_hi - new_lo) / width, 0.0, 1.0)
    return Cohorts(lo=new_lo, hi=np.maximum(new_hi, new_lo), mass=cohorts.mass * kept * weight[:, None])


def sweep_parts(flows: Flows, side: int, sweep: F64, weight: F64, params: ModelParams) -> list[tuple[F64, F64]]:
    """(sweep, weight) pairs, each (n,), that split every cohort by ``same_candle_sweep`` (q).

    A share q of a candle's positions is assumed to meet the candle's own extreme after it opened (its low for
    longs, its high for shorts), so that part is also clipped there; the rest only by later candles.
    """
    q = params.same_candle_sweep
    if q <= 0.0:
        return [(sweep, weight)]
    own = np.minimum(sweep, flows.low) if side > 0 else np.maximum(sweep, flows.high)
    if q >= 1.0:
        return [(own, weight)]
    return [(sweep, weight * (1.0 - q)), (own, weight * q)]


def surviving_parts(
    flows: Flows, side: int, sweep: F64, weight: F64, params: ModelParams, tiers: tuple[LeverageTier, ...]
) -> Iterator[Cohorts]:
    """The surviving cohorts of ``side`` for each ``sweep_parts`` pair (one unless ``same_candle_sweep``).

    The unclipped intervals are released before the last part is handed out, so the caller's temporaries never
    sit next to them (peak memory as with a single clip).
    """
    cohorts = side_cohorts(flows, side, params, tiers)
    *first, (last_sweep, last_weight) = sweep_parts(flows, side, sweep, weight, params)
    for sw, wt in first:
        yield surviving(cohorts, side, sw, wt)
    last = surviving(cohorts, side, last_sweep, last_weight)
    del cohorts
    yield last


def pending_by_leverage(
    flows: Flows, grid: Grid, params: ModelParams, tiers: tuple[LeverageTier, ...] = (), end_ms: int | None = None
) -> tuple[F64, F64]:
    """Pending long and short liquidation USD at the end of the window, each (v, n_bins) on ``grid``."""
    v = len(params.leverages)
    if flows.n == 0:
        return np.zeros((v, grid.n_bins)), np.zeros((v, grid.n_bins))
    end = int(flows.close_time[-1]) if end_ms is None else end_ms
    weight = later_factor(flows.close_factor) * decay_weights(flows.close_time, end, params.half_life_h)
    later_low, later_high = later_extremes(flows)
    lev_row = np.broadcast_to(np.arange(v, dtype=np.int64)[None, :], (flows.n, v)).ravel()
    out: list[F64] = []
    for side, sweep in ((1, later_low), (-1, later_high)):
        total = np.zeros((v, grid.n_bins))
        for c in surviving_parts(flows, side, sweep, weight, params, tiers):
            alive = c.hi > c.lo
            lo = np.where(alive, c.lo, 0.0).ravel()
            hi = np.where(alive, c.hi, 1.0).ravel()
            mass = np.where(alive, c.mass, 0.0).ravel()
            total += accumulate_intervals(grid, lo, hi, mass, lev_row, v)
        out.append(total)
    return out[0], out[1]


def pending_total(flows: Flows, params: ModelParams, tiers: tuple[LeverageTier, ...] = ()) -> float:
    """All pending USD (both sides, no grid clipping) at the end of the window, for conservation checks."""
    if flows.n == 0:
        return 0.0
    weight = later_factor(flows.close_factor) * decay_weights(
        flows.close_time, int(flows.close_time[-1]), params.half_life_h
    )
    later_low, later_high = later_extremes(flows)
    total = 0.0
    for side, sweep in ((1, later_low), (-1, later_high)):
        for c in surviving_parts(flows, side, sweep, weight, params, tiers):
            total += float(c.mass.sum())
    return total
