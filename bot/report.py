"""Plain-text summaries of a map (CLI output, logs, chat ``/levels``), built on the one money formatter."""

from __future__ import annotations

from collections.abc import Sequence

from bot.format import fmt_price, fmt_range, fmt_usd
from bot.market.types import Freshness
from bot.model.types import Cluster, LiqMap
from bot.timeparse import iso_utc


def cluster_line(c: Cluster) -> str:
    """One cluster as ``short  $412M  68.0k–68.3k  peak 68.1k  +1.25%  (18% of pending)``."""
    return (
        f"{c.side:5s}  {fmt_usd(c.usd):>7s}  {fmt_range(c.low, c.high)}  peak {fmt_price(c.peak)}"
        f"  {c.distance_pct:+.2f}%  ({c.share * 100:.0f}% of pending)"
    )


def format_map_summary(m: LiqMap, freshness: Sequence[Freshness] = ()) -> str:
    """A multi-line summary: header, totals, clusters above then below price, and stale/missing exchanges."""
    tag = (" [SYNTHETIC DATA]" if m.synthetic else "") + (" [REPLAY]" if m.replay else "")
    exchanges = ", ".join(m.exchanges) or "none"
    lines = [
        f"{m.symbol} {m.window} liquidation map at {iso_utc(m.at)}{tag} (estimate)",
        f"price {fmt_price(m.price)}  exchanges: {exchanges}",
        f"pending: longs {fmt_usd(m.total_long_usd)} below, shorts {fmt_usd(m.total_short_usd)} above",
    ]
    if m.missing_exchanges:
        lines.append(f"missing: {', '.join(m.missing_exchanges)}")
    for f in freshness:
        if not f.ok:
            lines.append(f"  {f.exchange}: unavailable ({f.error})")
    if m.is_empty:
        lines.append("no pending liquidations estimated yet (no open-interest build-up in the window)")
    above = sorted((c for c in m.clusters if c.side == "short"), key=lambda c: c.low)
    below = sorted((c for c in m.clusters if c.side == "long"), key=lambda c: -c.high)
    if above:
        lines.append("clusters above price (shorts):")
        lines.extend("  " + cluster_line(c) for c in above)
    if below:
        lines.append("clusters below price (longs):")
        lines.extend("  " + cluster_line(c) for c in below)
    lines.extend(f"note: {n}" for n in m.notes)
    return "\n".join(lines)
