"""The slim context strip under every chart: open interest and its change, funding per exchange with the
annualised rate, the long/short ratio and the liquidations really recorded over the window, by side in the sides'
colours. Drawn as a row of texts, each placed right after the previous one (no layout engine)."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text

from bot.chat.context_text import funding_text, oi_text
from bot.format import fmt_usd
from bot.model.context import MapContext
from bot.render.theme import LONG, MUTED, SHORT, SMALL_SIZE, TEXT, exchange_name, text_kw

STRIP_Y = 0.093  # figure fraction: between the x tick labels and the footer
ROW_STEP = 0.03  # a second row, when the first is full
STRIP_X = 0.012


def strip_segments(ctx: MapContext) -> list[tuple[str, str]]:
    """(text, colour) pieces of the strip, in order; empty when nothing is known."""
    parts: list[tuple[str, str]] = []
    t = ctx.total
    if (oi := oi_text(t, ctx.window)) is not None:
        parts.append((f"OI {oi}", TEXT))
    funding = []
    for c in ctx.exchanges:
        text = funding_text(c)
        yearly = c.funding_annualised_pct
        if text is not None:
            yearly_text = f" ≈{yearly:+.0f}%/yr" if yearly is not None else ""
            funding.append(f"{exchange_name(c.exchange)} {text}{yearly_text}")
    if funding:
        parts.append(("funding " + ", ".join(funding), TEXT))
    if t.long_short_ratio is not None:
        parts.append((f"L/S {t.long_short_ratio:.2f}", TEXT))
    if t.realized_long_usd is not None and t.realized_short_usd is not None:
        at_least = "≥" if ctx.realized_lower_bound else ""
        parts.append((f"liquidated {ctx.window}:", MUTED))
        parts.append((f"longs {at_least}{fmt_usd(t.realized_long_usd)}", LONG))
        parts.append((f"shorts {at_least}{fmt_usd(t.realized_short_usd)}", SHORT))
    return parts


def add_context_strip(fig: Figure, ctx: MapContext | None) -> None:
    """Draw the strip at the bottom left (gid ``context``), wrapping onto a second row (below) where a piece would
    run past the right edge; nothing when ``ctx`` is None or empty."""
    if ctx is None:
        return
    segments = strip_segments(ctx)
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    limit = fig.bbox.width * (1.0 - STRIP_X)
    y = STRIP_Y
    previous: Text | None = None
    for i, (text, colour) in enumerate(segments):
        sep = " " if i and segments[i - 1][0].endswith(":") else "  ·  "
        if previous is not None:
            note = Annotation(f"{sep}{text}", xy=(1.0, 0.5), xycoords=previous, xytext=(0, 0),
                              textcoords="offset points", va="center", ha="left", **text_kw(SMALL_SIZE, colour),
                              gid="context")
            fig.add_artist(note)
            if note.get_window_extent(renderer).x1 <= limit or y < STRIP_Y:
                previous = note
                continue
            note.remove()  # past the right edge: start the next row with this piece
            y = STRIP_Y - ROW_STEP
        previous = fig.text(STRIP_X, y, text, ha="left", va="center", **text_kw(SMALL_SIZE, colour), gid="context")
