"""Alert message texts (platform-neutral plain text; adapters may restyle): approach alerts and sweep follow-ups."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bot.format import fmt_pct, fmt_price, fmt_range, fmt_time_utc, fmt_usd
from bot.market.symbols import display_symbol
from bot.model.context import LiquidationPrints

SYNTHETIC_NOTE = "SYNTHETIC market data (simulator), not a real market."
DISCLAIMER = "Estimate, not financial advice."


def replay_note(at_ms: int) -> str:
    """The label of everything computed from recorded data played back as live, with the virtual time."""
    return f"REPLAY of recorded market data · virtual time {fmt_time_utc(at_ms)}"


def with_footer(lines: list[str], synthetic: bool, replay_at: int | None) -> str:
    """The message's lines, then the SYNTHETIC and REPLAY labels where they apply, then the disclaimer."""
    notes = [SYNTHETIC_NOTE] if synthetic else []
    if replay_at is not None:
        notes.append(replay_note(replay_at))
    return "\n".join([*lines, *notes, DISCLAIMER])


def approach_text(
    *,
    symbol: str,
    window: str,
    side: str,
    low: float,
    high: float,
    usd: float,
    price: float,
    distance_pct: float,
    score: int,
    reasons: Sequence[str],
    synthetic: bool,
    replay_at: int | None = None,
) -> str:
    """The approach alert: side, zone, USD, distance, squeeze-risk score and reasons (prices USD, distance %)."""
    where = "below" if side == "long" else "above"
    head = (
        f"⚠️ {display_symbol(symbol)}: price {fmt_price(price, full=True)} is {fmt_pct(distance_pct, 2, signed=False)} "
        f"from a {side} liquidation cluster {where}"
    )
    lines = [
        head,
        f"Zone {fmt_range(low, high)} · {fmt_usd(usd)} pending ({window} map)",
        f"Squeeze risk {score}/100" + (f": {'; '.join(reasons)}" if reasons else ""),
    ]
    return with_footer(lines, synthetic, replay_at)


def sweep_text(
    *, symbol: str, window: str, side: str, low: float, high: float, usd: float, price: float, synthetic: bool,
    replay_at: int | None = None, confirmed: str | None = None,
) -> str:
    """The sweep follow-up: price traded through an alerted zone; ``usd`` is the estimated USD liquidated;
    ``confirmed`` the line saying what the exchanges' feeds really recorded there (``sweep_confirmation``)."""
    verb = "fell through" if side == "long" else "rose through"
    lines = [
        f"💥 {display_symbol(symbol)}: price {verb} the {side} cluster {fmt_range(low, high)} "
        f"(now {fmt_price(price, full=True)})",
        f"Estimated {fmt_usd(usd)} of {side}s liquidated ({window} map)",
    ]
    if confirmed:
        lines.append(confirmed)
    return with_footer(lines, synthetic, replay_at)


def sweep_confirmation(prints: LiquidationPrints | None, *, side: str, low: float, high: float, since_ms: int,
                       until_ms: int, slack: float = 0.0) -> str | None:
    """What was really liquidated in a swept zone: the recorded events of ``side`` priced within ``[low - slack,
    high + slack]`` (USD; ``slack`` allows for the map's bin width) with ``since_ms < time <= until_ms`` (the zone's
    alert to now), e.g. "Zone 64.0k–64.7k swept: $38M of shorts liquidated in 14 min (recorded: bybit, okx)".
    "no liquidations recorded" when the feeds saw none there while complete; None when there is no feed at all
    (``prints`` None) or the feeds had a gap in that span and saw nothing (the absence proves nothing).
    Totals of a throttled feed (Binance) are lower bounds, said as "at least"."""
    if prints is None:
        return None
    zone = fmt_range(low, high)
    p = prints.between(since_ms, until_ms)
    keep = (p.is_long == (side == "long")) & (p.price >= low - slack) & (p.price <= high + slack)
    complete = prints.complete_after(since_ms)  # the feeds delivered without a gap since the zone was alerted
    if not keep.any():
        return f"Zone {zone} swept: no liquidations recorded" if complete else None
    t = p.time_ms[keep]
    minutes = max(1, round(float(np.max(t) - np.min(t)) / 60_000))
    span = f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"
    bound = "at least " if p.lower_bound or not complete else ""
    label = "simulated" if p.source == "simulated" else "recorded"  # the synthetic market prints its own
    where = f" ({label}: {', '.join(p.exchanges)})" if p.exchanges else ""
    return (f"Zone {zone} swept: {bound}{fmt_usd(float(p.usd[keep].sum()))} of {side}s liquidated in {span}{where}")
