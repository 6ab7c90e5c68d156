"""Time x price heatmap of pending liquidations: the book's state at up to ``heat_columns`` column times.

Candles are grouped into blocks ending at each column time. Within a block every cohort is clipped exactly
(segmented running extremes); across blocks the state is carried on the grid, so an old level is swept at bin
resolution (the partly reached bin keeps the fraction still beyond the block's low/high). One small numpy
step per column, never per candle or per level.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from bot.market.types import LeverageTier
from bot.model.book import surviving_parts
from bot.model.flows import Flows
from bot.model.grid import Grid, accumulate_intervals
from bot.model.params import ModelParams

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def column_times(close_time: I64, max_columns: int) -> I64:
    """(t,) ms column times: every close time, or ``max_columns`` of them sampled evenly (always the last)."""
    n = close_time.shape[0]
    if n <= max_columns:
        return close_time.copy()
    idx = np.unique(np.round(np.linspace(0, n - 1, max_columns)).astype(np.int64))
    return np.asarray(close_time[idx], dtype=np.int64)


def _segmented_later(values: F64, block: I64, fn: str) -> F64:
    """(n,) min ("min") or max ("max") of ``values`` over later candles of the same block (+-inf if none).

    Offsetting each block by a multiple of a span larger than the data keeps accumulate from crossing blocks.
    """
    span = float(np.ptp(values)) + 1.0
    if fn == "min":
        shifted = values + block * span
        acc = np.minimum.accumulate(shifted[::-1])[::-1]
        later = np.concatenate((acc[1:], [np.inf]))
        same = np.concatenate((block[1:] == block[:-1], [False]))
        return np.where(same, later - block * span, np.inf)
    shifted = values - block * span
    acc = np.maximum.accumulate(shifted[::-1])[::-1]
    later = np.concatenate((acc[1:], [-np.inf]))
    same = np.concatenate((block[1:] == block[:-1], [False]))
    return np.where(same, later + block * span, -np.inf)


def heatmap(
    flows: Flows, grid: Grid, times: I64, params: ModelParams, tiers: tuple[LeverageTier, ...] = ()
) -> tuple[F64, F64]:
    """Pending long and short USD at each column time, each (t, n_bins).

    times: (t,) ascending ms; candle j belongs to the first column whose time is >= its close time
    (candles after the last column are ignored).
    """
    t, b = times.shape[0], grid.n_bins
    if flows.n == 0 or t == 0:
        return np.zeros((t, b)), np.zeros((t, b))
    block = np.searchsorted(times, flows.close_time, side="left").astype(np.int64)
    keep = block < t
    if not keep.all():
        flows = replace(
            flows, close_time=flows.close_time[keep], low=flows.low[keep], high=flows.high[keep],
            close=flows.close[keep], deposit=flows.deposit[keep], long_share=flows.long_share[keep],
            close_factor=flows.close_factor[keep], short_share=flows.short_share[keep],
        )
        block = block[keep]
    lam = math.log(2.0) / (params.half_life_h * 3_600_000.0) if params.half_life_h > 0 else 0.0
    # Weight of a candle's cohort at its block end: later closes inside the block and decay to the column time.
    logf = np.log(flows.close_factor)
    seg_sum = np.bincount(block, weights=logf, minlength=t)
    incl = np.cumsum(logf)
    block_start_cum = np.concatenate(([0.0], np.cumsum(seg_sum)))[block]
    later_in_block = (block_start_cum + seg_sum[block]) - incl
    weight = np.exp(later_in_block - lam * (times[block] - flows.close_time))
    block_factor = np.exp(seg_sum)
    gap = np.diff(np.concatenate(([times[0]], times))).astype(np.float64)
    block_decay = np.exp(-lam * gap)
    block_low = np.full(t, np.inf)
    np.minimum.at(block_low, block, flows.low)
    block_high = np.full(t, -np.inf)
    np.maximum.at(block_high, block, flows.high)
    state = _block_deposits(flows, grid, block, t, weight, params, tiers)
    carry = block_factor * block_decay
    # Longs survive strictly below the block's low, shorts strictly above its high (fractions in the cut bin).
    lim_l = np.clip(grid.to_units(block_low), 0.0, float(b))
    cut_l = np.floor(lim_l).astype(np.int64)
    frac_l = lim_l - cut_l
    lim_s = np.clip(grid.to_units(block_high), 0.0, float(b))
    cut_s = np.ceil(lim_s).astype(np.int64)
    frac_s = cut_s - lim_s
    longs, shorts = state[0], state[1]
    for col in range(1, t):
        c, cl, cs = float(carry[col]), int(cut_l[col]), int(cut_s[col])
        longs[col, :cl] += longs[col - 1, :cl] * c
        shorts[col, cs:] += shorts[col - 1, cs:] * c
        if cl < b:
            longs[col, cl] += longs[col - 1, cl] * c * frac_l[col]
        if cs > 0:
            shorts[col, cs - 1] += shorts[col - 1, cs - 1] * c * frac_s[col]
    return longs, shorts


def _block_deposits(
    flows: Flows, grid: Grid, block: I64, t: int, weight: F64, params: ModelParams, tiers: tuple[LeverageTier, ...]
) -> F64:
    """(2, t, n_bins) USD opened in each block (longs, shorts) and still pending at the block's column time."""
    parts: list[tuple[F64, F64, F64, I64]] = []
    for si, side in enumerate((1, -1)):
        sweep = _segmented_later(flows.low if side > 0 else flows.high, block, "min" if side > 0 else "max")
        for c in surviving_parts(flows, side, sweep, weight, params, tiers):
            alive = c.hi > c.lo
            rows = np.broadcast_to((block + si * t)[:, None], c.lo.shape)[alive]
            parts.append((c.lo[alive], c.hi[alive], c.mass[alive], rows))
    lo, hi, mass, rows = (np.concatenate(x) for x in zip(*parts, strict=True))
    out = accumulate_intervals(grid, lo, hi, mass, rows, 2 * t, clean=False)
    return np.asarray(out.reshape(2, t, grid.n_bins))
