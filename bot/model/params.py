"""``ModelParams``: every tunable of the liquidation model, with documented, physically motivated defaults.

The defaults are chosen from how perpetual-futures traders actually use leverage and how exchanges liquidate,
not fitted to any one dataset (see the field comments for the rationale of each).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelParams:
    """Parameters of the position book → liquidation grid model.

    Leverage:
        leverages: (v,) leverage of each bucket. Eight buckets covering what retail venues offer (5x..125x).
        leverage_weights: (v,) share of newly opened notional assigned to each bucket (normalised on use).
            Rationale: exchange disclosures and public surveys put most retail open interest at 10x-25x; very high
            leverage is popular by *count* but small by *notional* (it is only allowed in the first tiers and is
            swept quickly), and 5x is mostly larger, slower accounts. Hence a hump at 10-25x and a thin tail.
        typical_position_usd: notional used to pick the maintenance-margin tier (MMR and cum) for modeled positions.
            Retail positions are mostly well below the first tier cap (50k USD on Binance BTCUSDT).

    Flows:
        half_life_h: hours after which half of a cohort of positions is assumed closed for reasons the OI series
            cannot show (take-profit/stop orders netting out, rolling). 0 disables decay. Default 24h: most
            leveraged perp positions are held for hours to a few days.
        split_strength: when taker buy volume is unknown, long share of new OI = 0.5 + 0.5 * split_strength * CLV,
            CLV = ((close-low) - (high-close)) / (high-low) in [-1, 1] (close location value). Aggressive buyers
            push the close towards the high, so an up-closing candle opened more longs than shorts. 0.5 keeps the
            proxy's share in [0.25, 0.75]: it is a weak signal and must not dominate.
        side_split: how strongly the measured split (taker buy ratio, or the close-location proxy above) tilts new
            notional between longs and shorts: long share = 0.5 + side_split * (measured - 0.5). 1 (default) = as
            measured; 0 = even.
        both_sides: every contract of new open interest has a long and a short holder. Off (default): the inflow
            is split between the sides (long share s, short 1 - s), i.e. the aggressors are taken as the leveraged
            holders. On: each side opens the whole inflow, tilted by the split (2 s and 2 (1 - s)), which doubles
            every USD figure but ranks levels exactly as the default does when side_split = 1 (docs/model.md,
            "Variants tried": no score improved, so it stays off).
        same_candle_sweep: share of each candle's new positions assumed to meet that candle's own low (longs) /
            high (shorts) *after* they opened, so that share is also clipped at it (OHLC does not say whether the
            extreme came before or after an entry). 0 (default) = only later candles sweep; it lowered the
            traded-range score on the 161-day set at 0.75 and 1 and was neutral at 0.25-0.5 (docs/model.md).
        volume_oi_share: with no OI history, the share of a candle's traded notional (volume * close, USD) that is
            assumed to open new leveraged positions. Closing is then represented by the decay only. 0.05 is in the
            range of observed daily OI turnover (OI changes of a few % of volume). When OI exists for part of the
            series, the proxy is rescaled to the mean OI-based deposit so that the two agree in scale.
        oi_max_gap_h / oi_max_gap_samples: OI is interpolated linearly onto candle closes between the samples
            around each close, so any sampling cadence (1m..4h, finer or coarser than the candles) spreads each OI
            change over the candles between its samples. A gap between two samples longer than
            max(oi_max_gap_h hours, oi_max_gap_samples x the median sample spacing) is a data gap, not a cadence: a
            straight line across it would invent a steady flow, so the candles inside use the volume proxy (and the
            map says so in a note). 3h / 3 samples: an hourly feed may miss two samples, a 4h feed one or two.
        oi_max_staleness_candles: after the last OI sample its value is held for at most this many candles (feeds
            publish with a lag); later candles fall back to the volume proxy.

    Next hour:
        next_hour_openings: scale of the next-hour layer (``bot.model.openings``): the positions expected to open
            in the coming hour, at their liquidation levels, kept apart from the pending book (clusters and alerts
            never read it; the traded-range score does). 1 (default) = the model's own opened share of the expected
            notional; 0 = off. Chosen on the first half of the 161-day set (docs/model.md).

    Grid:
        n_bins: price bins of the grid (>= 1000 gives ~0.05% resolution over +-25%).
        range_pct: half-width of the grid around price, fraction (0.25 = +-25%, wide enough for 5x levels).
        heat_columns: cap on heatmap time columns (column times are sampled evenly over the window).
        min_width_frac: smallest liquidation-price interval width, as a fraction of price (a flat candle would
            otherwise be a zero-width interval with infinite density).

    Clusters:
        cluster_smooth_bins: moving-average width (bins) applied before finding dense zones.
        cluster_density: a bin is "dense" when its smoothed mass is >= cluster_density x the mean mass of the
            non-empty bins on that side.
        cluster_gap_bins: dense runs separated by at most this many bins are one zone.
        cluster_min_share: zones holding less than this share of all pending USD are dropped.
        max_clusters: top-N zones by USD kept per side.
    """

    leverages: tuple[float, ...] = (5.0, 10.0, 20.0, 25.0, 50.0, 75.0, 100.0, 125.0)
    leverage_weights: tuple[float, ...] = (0.10, 0.25, 0.22, 0.15, 0.13, 0.06, 0.06, 0.03)
    typical_position_usd: float = 10_000.0
    half_life_h: float = 24.0
    split_strength: float = 0.5
    side_split: float = 1.0
    both_sides: bool = False
    same_candle_sweep: float = 0.0
    volume_oi_share: float = 0.05
    oi_max_gap_h: float = 3.0
    oi_max_gap_samples: float = 3.0
    oi_max_staleness_candles: float = 3.0
    next_hour_openings: float = 1.0
    n_bins: int = 1000
    range_pct: float = 0.25
    heat_columns: int = 400
    min_width_frac: float = 1e-5
    cluster_smooth_bins: int = 5
    cluster_density: float = 1.5
    cluster_gap_bins: int = 3
    cluster_min_share: float = 0.01
    max_clusters: int = 5

    def __post_init__(self) -> None:
        if len(self.leverages) != len(self.leverage_weights) or not self.leverages:
            raise ValueError("leverages and leverage_weights must be non-empty and the same length")
        if any(lev <= 1.0 for lev in self.leverages):
            raise ValueError("every leverage bucket must be above 1x")
        if any(w < 0 for w in self.leverage_weights) or sum(self.leverage_weights) <= 0:
            raise ValueError("leverage_weights must be non-negative and not all zero")
        if self.n_bins < 10:
            raise ValueError("n_bins must be at least 10")
        if not 0.0 < self.range_pct < 1.0:
            raise ValueError("range_pct must be between 0 and 1 (e.g. 0.25 for +-25%)")
        if not 0.0 <= self.side_split <= 1.0 or not 0.0 <= self.same_candle_sweep <= 1.0:
            raise ValueError("side_split and same_candle_sweep must be between 0 and 1")
        if self.next_hour_openings < 0:
            raise ValueError("next_hour_openings must be >= 0 (0 turns the next-hour layer off)")
        if self.half_life_h < 0:
            raise ValueError("half_life_h must be >= 0 (0 disables decay)")
        if self.oi_max_gap_h < 0 or self.oi_max_gap_samples < 0 or self.oi_max_staleness_candles < 0:
            raise ValueError("oi_max_gap_h, oi_max_gap_samples and oi_max_staleness_candles must be >= 0")
        if self.heat_columns < 1:
            raise ValueError("heat_columns must be >= 1")

    @property
    def weights(self) -> tuple[float, ...]:
        """Leverage weights normalised to sum 1."""
        total = sum(self.leverage_weights)
        return tuple(w / total for w in self.leverage_weights)


DEFAULT_PARAMS = ModelParams()
