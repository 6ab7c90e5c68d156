"""The report of ``liqmap backtest --alerts``: the alert count, the share of zones reached and the liquidated USD
per alert against the baselines, and the squeeze-risk score's rank correlation with the outcome, as JSON and text."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bot.model.alert_score import AlertRecord, AlertScore, score_alerts
from bot.storage.records import SubscriptionRec
from bot.timeparse import iso_utc


def _dur(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms / 60_000:g}m"


def spec_json(sub: SubscriptionRec) -> dict[str, Any]:
    """The replayed subscription's rule."""
    return {
        "proximity_pct": sub.proximity_pct, "min_usd": sub.min_usd, "min_share": sub.min_share, "sides": sub.sides,
        "window": sub.window, "cooldown_s": sub.cooldown_s,
    }


@dataclass(frozen=True)
class AlertBacktestReport:
    """Every alert of one replay with its outcomes; ``split`` (``--halves``) is the step time that starts the
    second half (first: ``t < split``)."""

    exchange: str
    symbol: str
    sub: SubscriptionRec
    step_ms: int
    horizon_ms: int
    steps: int
    stale: int
    empty: int
    sweeps: int
    records: tuple[AlertRecord, ...]
    liquidation_source: str | None
    split: int | None = None
    since: int | None = None
    until: int | None = None
    seed: int = 0
    notes: tuple[str, ...] = ()

    def score(self) -> AlertScore:
        """Statistics over every alert."""
        return score_alerts(self.records)

    def halves(self) -> tuple[AlertScore, AlertScore] | None:
        """Statistics of the alerts before ``split`` and from it on (None without a split)."""
        if self.split is None:
            return None
        cut = self.split
        return (
            score_alerts([r for r in self.records if r.t < cut]),
            score_alerts([r for r in self.records if r.t >= cut]),
        )

    def to_json(self) -> dict[str, Any]:
        """``backtest --alerts --json``: ``alerts``, ``reached_share``, ``baseline_reached_share``,
        ``liquidated_usd_per_alert``, ``baseline_liquidated_usd_per_alert``, ``score_spearman`` and the rest."""
        out: dict[str, Any] = {
            "mode": "alerts",
            "exchange": self.exchange,
            "symbol": self.symbol,
            "spec": spec_json(self.sub),
            "step_ms": int(self.step_ms),
            "horizon_ms": int(self.horizon_ms),
            "steps": int(self.steps),
            "stale_skipped": int(self.stale),
            "empty_skipped": int(self.empty),
            "sweeps": int(self.sweeps),
            **self.score().to_json(),
            "liquidation_source": self.liquidation_source,
            "seed": int(self.seed),
            "from": iso_utc(self.since) if self.since is not None else None,
            "until": iso_utc(self.until) if self.until is not None else None,
        }
        halves = self.halves()
        if halves is not None and self.split is not None:
            out["halves"] = {
                "split_ms": int(self.split),
                "split": iso_utc(self.split),
                "first": halves[0].to_json(),
                "second": halves[1].to_json(),
            }
        out["notes"] = list(self.notes)
        return out

    def format_table(self) -> str:
        """Human-readable summary."""
        s = self.sub
        rule = f"within {s.proximity_pct:g}%"
        if s.min_usd > 0:
            rule += f", min {s.min_usd:,.0f} USD"
        if s.min_share > 0:
            rule += f", min {100 * s.min_share:g}% of side"
        rule += f", {s.sides} side{'s' if s.sides == 'both' else ''}, window {s.window}, cooldown {s.cooldown_s // 60}m"
        limits = "".join(
            f", {name} {iso_utc(v)}" for name, v in (("from", self.since), ("until", self.until)) if v is not None
        )
        lines = [
            f"alert backtest {self.exchange} {self.symbol}: {rule}; step {_dur(self.step_ms)}, "
            f"horizon {_dur(self.horizon_ms)}{limits}",
            f"{self.steps} steps evaluated ({self.stale} stale, {self.empty} with nothing pending skipped); "
            f"{len(self.records)} alerts, {self.sweeps} sweep follow-ups",
        ]
        lines += [f"note: {n}" for n in self.notes]
        rows = [("all alerts", self.score())]
        halves = self.halves()
        if halves is not None and self.split is not None:
            rows += [(f"before {iso_utc(self.split)[:16]}", halves[0]), (f"from {iso_utc(self.split)[:16]}", halves[1])]
        lines += ["", f"{'':<24}{'alerts':>7}{'n':>6}{'reached':>9}{'mirror':>8}{'random':>8}{'min':>6}"
                  f"{'n':>6}{'liq USD/alert':>15}{'mirror':>13}{'random':>13}{'score rho':>11}"]
        for name, sc in rows:
            lines.append(
                f"{name:<24}{sc.alerts:>7}{sc.reach_n:>6}{_p(sc.reached_share):>9}{_p(sc.baseline_reached_share):>8}"
                f"{_p(sc.baseline_random_reached_share):>8}{_n(sc.median_minutes_to_reach, '{:.0f}'):>6}"
                f"{sc.usd_n:>6}{_n(sc.liquidated_usd_per_alert, '{:,.0f}'):>15}"
                f"{_n(sc.baseline_liquidated_usd_per_alert, '{:,.0f}'):>13}"
                f"{_n(sc.baseline_random_liquidated_usd_per_alert, '{:,.0f}'):>13}"
                f"{_n(sc.score_spearman, '{:+.3f}'):>11}"
            )
        lines += [
            "reached: share of the n alerts whose horizon the candles cover in which a wick reached the zone's near",
            "edge (mirror: the zone reflected across price; random: shuffled distances, random side); min: median",
            "minutes to reach; liq USD/alert: USD of the alerted side liquidated inside the zone, over the n alerts",
            "the liquidation record covers; score rho: Spearman(squeeze-risk score, liq USD)",
        ]
        return "\n".join(lines)


def _p(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:.1f}%"


def _n(x: float, fmt: str) -> str:
    return "n/a" if not math.isfinite(x) else fmt.format(x)
