"""The report of ``liqmap backtest``: capture/visited-Spearman scores of the snapshots and the traded-range score,
as JSON (``--json``) and as a text table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from bot.model.range_score import RangeScore, RangeStep, score_range
from bot.model.scoring import SnapshotScore
from bot.timeparse import iso_utc

Prediction = Literal["forecast", "pending"]


def _weighted_mean(values: list[float], weights: list[float]) -> float:
    """Mean of the finite ``values`` weighted by ``weights`` (NaN when none are finite)."""
    v, w = np.asarray(values, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    ok = np.isfinite(v) & (w > 0)
    return float(np.average(v[ok], weights=w[ok])) if ok.any() else float("nan")


def _dur(ms: int) -> str:
    """Duration in ms as the largest whole unit: ``90m``, ``24h``, ``3d``."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms / 60_000:g}m"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:6.1f}%"


def _num(x: float | None, fmt: str = "{:+.3f}") -> str:
    return "n/a" if x is None else fmt.format(x)


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 and math.isfinite(a) else float("nan")


@dataclass(frozen=True)
class RangeReport:
    """The traded-range observations of one backtest run and how many steps were skipped, and why.

    ``split``: when set (``--halves``), the step time that splits the scored span into two halves (first: ``t <
    split``); each half is scored on its own (ranks and residuals within the half).
    """

    bar_ms: int
    source: str
    steps: tuple[RangeStep, ...]
    skipped_record: int
    skipped_candles: int
    stale: int
    split: int | None = None

    def score(self) -> RangeScore:
        """Rank statistics over every scored step."""
        return score_range(self.steps)

    def halves(self) -> tuple[RangeScore, RangeScore] | None:
        """Scores of the steps before ``split`` and from it on (None without a split)."""
        if self.split is None:
            return None
        cut = self.split
        return score_range([s for s in self.steps if s.t < cut]), score_range([s for s in self.steps if s.t >= cut])

    def to_json(self) -> dict[str, Any]:
        """``range_*`` keys of ``backtest --json`` (and ``range_halves`` with a split)."""
        out: dict[str, Any] = {
            "range_source": self.source,
            "range_bar_ms": int(self.bar_ms),
            "range_steps": len(self.steps),
            **self.score().to_json(),
            "range_skipped_record": int(self.skipped_record),
            "range_skipped_candles": int(self.skipped_candles),
            "range_stale": int(self.stale),
        }
        halves = self.halves()
        if halves is not None and self.split is not None:
            out["range_halves"] = {
                "split_ms": int(self.split),
                "split": iso_utc(self.split),
                "first": halves[0].to_json(),
                "second": halves[1].to_json(),
            }
        return out

    def format_lines(self) -> list[str]:
        """The text table's traded-range section."""
        j = self.to_json()

        def line(name: str, r: dict[str, Any]) -> str:
            return (
                f"{name:<24}{r['range_n']:>6}{_num(r['range_spearman_map']):>10}"
                f"{_num(r['range_spearman_reach']):>10}{_num(r['range_partial']):>10}"
            )

        lines = [
            f"traded-range score (next {_dur(self.bar_ms)} bar, realized from liquidation {self.source}): "
            f"{j['range_steps']} steps scored; skipped {self.skipped_record} unknown to the liquidation record, "
            f"{self.skipped_candles} with missing candles, {self.stale} stale",
            f"{'range Spearman':<24}{'n':>6}{'map':>10}{'reach':>10}{'partial':>10}",
            line("all steps", j),
        ]
        if "range_halves" in j:
            h = j["range_halves"]
            lines += [line(f"before {h['split'][:16]}", h["first"]), line(f"from {h['split'][:16]}", h["second"])]
        lines.append("n = (step, side) observations; partial = Spearman of map and realized given reach and the")
        lines.append("trailing 24h traded notional (the map's information beyond how far price moved and how busy)")
        return lines


@dataclass(frozen=True)
class BacktestReport:
    """Scores of every scored snapshot plus their realized-notional-weighted summary, and the traded-range score.

    ``capture_scored`` is False when the dataset has no liquidation prices (only per-bar totals): capture and the
    visited Spearman are then not computed (``notes`` says so), unless they were scored on estimated prices
    (``capture_estimated``, ``--estimate-prices``). ``since``/``until``: the step-time limits.
    """

    exchange: str
    symbol: str
    step_ms: int
    window: str
    horizon_ms: int
    snapshots: tuple[SnapshotScore, ...]
    n_steps: int
    n_stale: int
    prediction: Prediction = "forecast"
    range: RangeReport | None = None
    capture_scored: bool = True
    since: int | None = None
    until: int | None = None
    notes: tuple[str, ...] = ()
    capture_estimated: bool = False  # capture/visited scored on estimated liquidation prices (--estimate-prices)

    def _w(self) -> list[float]:
        return [s.realized_usd for s in self.snapshots]

    @property
    def capture_map(self) -> float:
        """Realized-notional-weighted mean capture@10% of the map."""
        return _weighted_mean([s.capture_map for s in self.snapshots], self._w())

    @property
    def capture_nearest(self) -> float:
        """Same for the nearest baseline (4 buckets each side of price)."""
        return _weighted_mean([s.capture_nearest for s in self.snapshots], self._w())

    @property
    def capture_uniform(self) -> float:
        """Same for the uniform baseline (always 0.10)."""
        return _weighted_mean([s.capture_uniform for s in self.snapshots], self._w())

    @property
    def spearman_map(self) -> float:
        """Weighted mean visited Spearman of the map (snapshots where both Spearman values are defined)."""
        both = [s for s in self.snapshots if math.isfinite(s.spearman_map) and math.isfinite(s.spearman_nearest)]
        return _weighted_mean([s.spearman_map for s in both], [s.realized_usd for s in both])

    @property
    def spearman_baseline(self) -> float:
        """Weighted mean visited Spearman of the ``-|bucket - p|`` baseline on the same snapshots."""
        both = [s for s in self.snapshots if math.isfinite(s.spearman_map) and math.isfinite(s.spearman_nearest)]
        return _weighted_mean([s.spearman_nearest for s in both], [s.realized_usd for s in both])

    @property
    def spearman_pending(self) -> float:
        """Weighted mean visited Spearman of the raw map (the pending book, whatever the prediction scored), on the
        snapshots where it is defined."""
        ok = [s for s in self.snapshots if math.isfinite(s.spearman_pending)]
        return _weighted_mean([s.spearman_pending for s in ok], [s.realized_usd for s in ok])

    @property
    def beat_nearest_share(self) -> float:
        """Share of scored snapshots where the map's capture is strictly above the nearest baseline's."""
        if not self.snapshots:
            return float("nan")
        return sum(s.capture_map > s.capture_nearest for s in self.snapshots) / len(self.snapshots)

    def to_json(self) -> dict[str, Any]:
        """Summary as plain floats/ints (NaN becomes ``None``)."""

        def f(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        out: dict[str, Any] = {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "step_ms": int(self.step_ms),
            "window": self.window,
            "horizon_ms": int(self.horizon_ms),
            "prediction": self.prediction,
            "steps": int(self.n_steps),
            "stale_skipped": int(self.n_stale),
            "snapshots": len(self.snapshots),
            "realized_usd": float(sum(self._w())),
            "capture_map": f(self.capture_map),
            "capture_nearest": f(self.capture_nearest),
            "capture_uniform": f(self.capture_uniform),
            "lift_vs_nearest": f(_ratio(self.capture_map, self.capture_nearest)),
            "lift_vs_uniform": f(_ratio(self.capture_map, self.capture_uniform)),
            "beat_nearest_share": f(self.beat_nearest_share),
            "spearman_map": f(self.spearman_map),
            "spearman_baseline": f(self.spearman_baseline),
            "spearman_pending": f(self.spearman_pending),
            "spearman_snapshots": sum(
                math.isfinite(s.spearman_map) and math.isfinite(s.spearman_nearest) for s in self.snapshots
            ),
            "capture_scored": self.capture_scored,
            "capture_estimated": self.capture_estimated,
            "from": iso_utc(self.since) if self.since is not None else None,
            "until": iso_utc(self.until) if self.until is not None else None,
        }
        if self.range is not None:
            out.update(self.range.to_json())
        out["notes"] = list(self.notes)
        return out

    def format_table(self) -> str:
        """Human-readable summary table."""
        limits = "".join(
            f", {name} {iso_utc(v)}" for name, v in (("from", self.since), ("until", self.until)) if v is not None
        )
        lines = [
            f"backtest {self.exchange} {self.symbol} ({self.prediction}): step {_dur(self.step_ms)}, "
            f"window {self.window}, "
            f"horizon {_dur(self.horizon_ms)}{limits}",
        ]
        lines += [f"note: {n}" for n in self.notes]
        if self.capture_scored:
            lines += self._capture_lines()
        if self.range is not None:
            lines += ["", *self.range.format_lines()]
        return "\n".join(lines)

    def _capture_lines(self) -> list[str]:
        j, pct, num = self.to_json(), _pct, _num
        return [
            f"snapshots scored {j['snapshots']} of {j['steps']} steps with realized liquidations "
            f"({j['stale_skipped']} skipped as stale); realized notional summed over snapshots "
            f"{j['realized_usd']:,.0f} USD",
            "",
            f"{'metric':<22}{self.prediction:>10}{'nearest':>10}{'uniform':>10}",
            f"{'capture@10%':<22}{pct(j['capture_map']):>10}{pct(j['capture_nearest']):>10}"
            f"{pct(j['capture_uniform']):>10}",
            f"{'lift (vs baseline)':<22}{'':>10}{num(j['lift_vs_nearest'], '{:.2f}x'):>10}"
            f"{num(j['lift_vs_uniform'], '{:.2f}x'):>10}",
            f"{'visited Spearman':<22}{num(j['spearman_map'], '{:+.3f}'):>10}"
            f"{num(j['spearman_baseline'], '{:+.3f}'):>10}{'':>10}",
            f"{'  of the raw map':<22}{num(j['spearman_pending'], '{:+.3f}'):>10}",
            f"{self.prediction} beats nearest on capture in {pct(j['beat_nearest_share']).strip()} of snapshots",
        ]

