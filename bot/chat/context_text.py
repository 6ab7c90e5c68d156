"""The map's context as chat text: one line for captions and ``/levels`` and name/value fields for Discord embeds,
e.g. ``OI $31.2B (+2.4% 24h) · funding +0.010% (8h) · L/S 1.85 · liquidated 24h: longs $84M, shorts $12M``.
Unknown figures are left out, never shown as zero."""

from __future__ import annotations

from bot.format import fmt_pct, fmt_usd
from bot.model.context import ExchangeContext, MapContext


def funding_text(c: ExchangeContext) -> str | None:
    """``+0.010% (8h)`` (the last settled rate per interval), ``+0.010% (8h, next +0.012%)`` with a prediction."""
    if c.funding_rate is None:
        return None
    text = f"{c.funding_rate * 100:+.3f}%"
    hours = f"{c.funding_interval_h:g}h" if c.funding_interval_h else ""
    extra = [hours] if hours else []
    if c.predicted_funding_rate is not None:
        extra.append(f"next {c.predicted_funding_rate * 100:+.3f}%")
    return f"{text} ({', '.join(extra)})" if extra else text


def oi_text(c: ExchangeContext, window: str) -> str | None:
    """``$31.2B (+2.4% 24h)``."""
    if c.oi_usd is None:
        return None
    change = f" ({fmt_pct(c.oi_change_pct, 1)} {window})" if c.oi_change_pct is not None else ""
    return f"{fmt_usd(c.oi_usd)}{change}"


def realized_text(ctx: MapContext, c: ExchangeContext) -> str | None:
    """``longs $84M, shorts $12M`` (``≥`` when the feed is throttled, so the sums are lower bounds)."""
    if c.realized_long_usd is None or c.realized_short_usd is None:
        return None
    at_least = "≥" if ctx.realized_lower_bound else ""
    return f"longs {at_least}{fmt_usd(c.realized_long_usd)}, shorts {at_least}{fmt_usd(c.realized_short_usd)}"


def context_line(ctx: MapContext | None) -> str | None:
    """The one context line of a caption (None when nothing is known)."""
    if ctx is None:
        return None
    t = ctx.total
    parts = []
    if (oi := oi_text(t, ctx.window)) is not None:
        parts.append(f"OI {oi}")
    if (funding := funding_text(t)) is not None:
        parts.append(f"funding {funding}")
    if t.long_short_ratio is not None:
        parts.append(f"L/S {t.long_short_ratio:.2f}")
    if (realized := realized_text(ctx, t)) is not None:
        parts.append(f"liquidated {ctx.window}: {realized}")
    return " · ".join(parts) or None


def context_fields(ctx: MapContext | None) -> tuple[tuple[str, str], ...]:
    """Discord embed fields (name, value): open interest, funding per exchange (with the annualised rate), the
    long/short ratio and the liquidations recorded over the window."""
    if ctx is None:
        return ()
    fields: list[tuple[str, str]] = []
    if (oi := oi_text(ctx.total, ctx.window)) is not None:
        fields.append(("Open interest", oi))
    rows = []
    for c in ctx.exchanges:
        text = funding_text(c)
        if text is not None:
            yearly = c.funding_annualised_pct
            rows.append(f"{c.exchange} {text}" + (f" · {yearly:+.1f}%/yr" if yearly is not None else ""))
    if rows:
        fields.append(("Funding", "\n".join(rows)))
    if ctx.total.long_short_ratio is not None:
        fields.append(("Long/short accounts", f"{ctx.total.long_short_ratio:.2f}"))
    if (realized := realized_text(ctx, ctx.total)) is not None:
        fields.append((f"Liquidated {ctx.window}", realized))
    return tuple(fields)
