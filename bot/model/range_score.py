"""The traded-range score (pure): does the map's mass inside the range price trades through predict how much is
liquidated there, beyond how far price moved and how busy the market was?

One observation per (step, side). For a step at ``t`` with price ``p`` and the next bar's candle low ``L`` and high
``H``: the long observation pairs the map's ``long_usd`` in bins within ``[L, p]`` with the USD of longs liquidated
in the bar, and its reach ``(p - L) / p``; the short one pairs ``short_usd`` within ``[p, H]`` with the shorts
liquidated, and reach ``(H - p) / p``. Both carry the trailing 24 h traded notional of the step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.model.scoring import partial_spearman, spearman

F64 = npt.NDArray[np.float64]


def mass_between(bin_price: F64, usd: F64, low: float, high: float) -> float:
    """USD of ``usd`` (b,) in the bins whose centre ``bin_price`` (b,) ascending USD lies within ``[low, high]``."""
    i = int(np.searchsorted(bin_price, low, side="left"))
    j = int(np.searchsorted(bin_price, high, side="right"))
    return float(usd[i:j].sum()) if j > i else 0.0


@dataclass(frozen=True)
class RangeStep:
    """One scored step: the bar ``(t, t + bar_ms]`` after a map made at ``t``.

    ``low``/``high``: USD range of the bar's candles, widened to include ``price`` (price trades on from ``p``).
    ``predicted_*``: the map's pending USD inside the range on each side; ``realized_*``: USD liquidated in the bar;
    ``notional_usd``: traded notional (volume x close) of the candles closed in the trailing 24 h (NaN unknown).
    """

    t: int
    price: float
    bar_ms: int
    low: float
    high: float
    predicted_long: float
    predicted_short: float
    realized_long: float
    realized_short: float
    notional_usd: float

    @property
    def reach_long(self) -> float:
        """How far below ``price`` the bar traded, as a fraction of price."""
        return (self.price - self.low) / self.price

    @property
    def reach_short(self) -> float:
        """How far above ``price`` the bar traded, as a fraction of price."""
        return (self.high - self.price) / self.price

    def to_json(self) -> dict[str, Any]:
        """The ``range`` object of a ``--dump`` line: everything an external scorer needs (NaN as ``None``)."""
        values: dict[str, Any] = {
            "t": int(self.t),
            "p": self.price,
            "bar_ms": int(self.bar_ms),
            "low": self.low,
            "high": self.high,
            "predicted_long_usd": self.predicted_long,
            "predicted_short_usd": self.predicted_short,
            "realized_long_usd": self.realized_long,
            "realized_short_usd": self.realized_short,
            "reach_long": self.reach_long,
            "reach_short": self.reach_short,
            "notional_24h_usd": self.notional_usd,
        }
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}


def observations(steps: tuple[RangeStep, ...] | list[RangeStep]) -> dict[str, F64]:
    """The (2n,) observation columns of ``steps``: longs first, then shorts, in step order.

    Keys: ``predicted`` and ``realized`` USD, ``reach`` (fraction), ``notional`` USD (trailing 24 h).
    """

    def col(long: list[float], short: list[float]) -> F64:
        return np.asarray(long + short, dtype=np.float64)

    return {
        "predicted": col([s.predicted_long for s in steps], [s.predicted_short for s in steps]),
        "realized": col([s.realized_long for s in steps], [s.realized_short for s in steps]),
        "reach": col([s.reach_long for s in steps], [s.reach_short for s in steps]),
        "notional": col([s.notional_usd for s in steps], [s.notional_usd for s in steps]),
    }


@dataclass(frozen=True)
class RangeScore:
    """Rank statistics over the (step, side) observations (NaN when undefined).

    spearman_map: Spearman(predicted, realized). spearman_reach: Spearman(reach, realized), the baseline that knows
    only how far price went. partial: partial Spearman of predicted and realized given reach and the trailing
    notional (the map's information beyond both), over the ``n_partial`` observations whose notional is known.
    """

    n: int
    spearman_map: float
    spearman_reach: float
    partial: float
    n_partial: int

    def to_json(self) -> dict[str, Any]:
        """``range_*`` keys of ``backtest --json`` (NaN as ``None``)."""

        def f(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {
            "range_n": self.n,
            "range_spearman_map": f(self.spearman_map),
            "range_spearman_reach": f(self.spearman_reach),
            "range_partial": f(self.partial),
            "range_partial_n": self.n_partial,
        }


def score_range(steps: tuple[RangeStep, ...] | list[RangeStep]) -> RangeScore:
    """Score the traded range over ``steps`` (one observation per step and side)."""
    obs = observations(steps)
    pred, real, reach, notional = obs["predicted"], obs["realized"], obs["reach"], obs["notional"]
    known = np.isfinite(notional)
    partial = partial_spearman(pred[known], real[known], np.column_stack([reach[known], notional[known]]))
    return RangeScore(
        n=int(pred.size),
        spearman_map=spearman(pred, real),
        spearman_reach=spearman(reach, real),
        partial=partial,
        n_partial=int(known.sum()),
    )
