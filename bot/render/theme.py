"""Dark theme, page layout and the marks every chart shares (header, estimate / synthetic badges, ticks).

Styling is applied artist by artist: nothing here touches ``matplotlib.rcParams`` or pyplot, so
figures can be built concurrently in worker threads.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text
from matplotlib.ticker import FuncFormatter, MaxNLocator

from bot.format import fmt_price, fmt_time_utc, fmt_usd
from bot.model.types import LiqMap

# 6.4 x 3.6 in at 200 dpi = 1280 x 720 px: text at 7-10 pt is 20-28 px tall, readable on a phone.
FIGSIZE: tuple[float, float] = (6.4, 3.6)
DPI = 200
WIDTH_PX, HEIGHT_PX = 1280, 720
FONT = "DejaVu Sans"  # ships with matplotlib: identical glyphs on every machine
# Font sizes (pt). At 200 dpi 1 pt = 2.8 px, so tick labels are ~20 px tall on the 1280 px image.
TITLE_SIZE = 10.5
SUBTITLE_SIZE = 7.0
TICK_SIZE = 7.0
LABEL_SIZE = 7.0  # cluster labels, price tag
SMALL_SIZE = 6.0  # colour bar, legend, captions, footer

BG = "#0e1117"
PANEL = "#0e1117"
TEXT = "#e6e9ef"
MUTED = "#8b93a3"
GRID = "#2a303c"
SPINE = "#3a4150"
PRICE = "#f5f5f5"
LONG = "#ff6b3d"  # long liquidations (below price): red-orange
SHORT = "#35d07f"  # short liquidations (above price): green
WARN = "#ffb020"

GridAxis = Literal["x", "y", "both", ""]

# Main plotting area in figure fractions (left, bottom, width, height); the right margin holds labels.
MAIN_RECT: tuple[float, float, float, float] = (0.075, 0.16, 0.695, 0.69)  # the context strip sits below
TITLE_Y = 0.955
SUBTITLE_Y = 0.893

EXCHANGE_NAMES: dict[str, str] = {
    "binance": "Binance",
    "binanceusdm": "Binance",
    "bybit": "Bybit",
    "okx": "OKX",
    "bitget": "Bitget",
    "deribit": "Deribit",
    "hyperliquid": "Hyperliquid",
}


def exchange_name(ccxt_id: str) -> str:
    """Display name of a ccxt exchange id (``binanceusdm`` -> ``Binance``); unknown ids pass through."""
    return EXCHANGE_NAMES.get(ccxt_id, ccxt_id)


def new_figure() -> Figure:
    """A 1280x720 dark figure with its own Agg canvas (no pyplot, no global state)."""
    fig = Figure(figsize=FIGSIZE, dpi=DPI, facecolor=BG)
    FigureCanvasAgg(fig)
    return fig


def text_kw(size: float, color: str = TEXT, **extra: Any) -> dict[str, Any]:
    """Keyword arguments for a themed text artist (fixed font; ``$`` never starts mathtext)."""
    return {"fontsize": size, "color": color, "fontfamily": FONT, "parse_math": False, **extra}


def style_ticks(ax: Axes) -> None:
    """Muted tick marks and labels in the fixed font (so images do not depend on rcParams fonts)."""
    ax.tick_params(colors=MUTED, labelcolor=MUTED, labelsize=TICK_SIZE, width=0.5, length=2.5, pad=2,
                   labelfontfamily=FONT)


def style_axes(ax: Axes, grid_axis: GridAxis = "y") -> None:
    """Dark panel, muted spines and ticks, faint grid on ``grid_axis`` ('x', 'y', 'both' or '' for none)."""
    ax.set_facecolor(PANEL)
    for side, spine in ax.spines.items():
        spine.set_color(SPINE)
        spine.set_linewidth(0.6)
        spine.set_visible(side in ("left", "bottom"))
    style_ticks(ax)
    if grid_axis:
        ax.grid(True, axis=grid_axis, color=GRID, linewidth=0.5, alpha=0.8)
        ax.set_axisbelow(True)


def price_formatter(step: float) -> FuncFormatter:
    """Tick formatter writing prices as ``67.4k`` with as many decimals as the tick ``step`` (USD) needs."""
    return FuncFormatter(lambda x, _pos: fmt_price(x, tick_decimals(step)))


def tick_decimals(step: float) -> int:
    """Fewest decimals (0..3) of the ``k`` unit that write every multiple of ``step`` (USD) exactly.

    ``2500`` -> 1 (``62.5k``), ``5000`` -> 0 (``65k``), ``250`` -> 2 (``67.25k``).
    """
    if not step > 0:
        return 1
    k_step = step / 1000
    for decimals in range(4):
        scaled = k_step * 10**decimals
        if abs(scaled - round(scaled)) < 1e-6 * max(scaled, 1.0):
            return decimals
    return 3


def set_price_axis(ax: Axes, axis: str, lo: float, hi: float, nbins: int = 7) -> None:
    """Limits ``lo..hi`` and nice price ticks on ``axis`` ('x' or 'y'), labelled like ``67.4k``."""
    locator = MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10])
    ticks = locator.tick_values(lo, hi)
    step = float(ticks[1] - ticks[0]) if len(ticks) > 1 else 0.0
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(locator)
    target.set_major_formatter(price_formatter(step))
    if axis == "y":
        ax.set_ylim(lo, hi)
    else:
        ax.set_xlim(lo, hi)


def usd_formatter() -> FuncFormatter:
    """Tick formatter writing USD amounts as ``$120M``."""
    return FuncFormatter(lambda x, _pos: fmt_usd(x))


def add_header(fig: Figure, m: LiqMap, chart_name: str) -> None:
    """Title (symbol, window, chart) and a subtitle (exchanges, missing ones, price, as-of time UTC)."""
    fig.text(0.012, TITLE_Y, f"{m.symbol}  ·  {m.window} {chart_name}", va="center", ha="left",
             **text_kw(TITLE_SIZE, TEXT, fontweight="bold"), gid="title")
    names = ", ".join(exchange_name(e) for e in m.exchanges) or "no exchanges"
    parts = [names]
    if math.isfinite(m.price) and m.price > 0:
        parts.append(f"price {fmt_price(m.price, full=True)}")
    parts.append(f"as of {fmt_time_utc(m.at)}")
    sub = fig.text(0.012, SUBTITLE_Y, "  ·  ".join(parts), va="center", ha="left", **text_kw(SUBTITLE_SIZE, MUTED),
                   gid="subtitle")
    if m.missing_exchanges:
        missing = ", ".join(exchange_name(e) for e in m.missing_exchanges)
        note = Annotation(f"·  missing: {missing}", xy=(1.0, 0.5), xycoords=sub, xytext=(4, 0),
                          textcoords="offset points", va="center", ha="left", **text_kw(SUBTITLE_SIZE, WARN),
                          gid="missing")
        fig.add_artist(note)


def basis_text(oi_share: float) -> str:
    """What the map was built from, by the share (0..1, NaN: unknown) of its candles modelled from open interest:
    ``modelled from open interest``, ``... from traded volume (no open-interest data)``, or the mix."""
    if not math.isfinite(oi_share):
        return "modelled from market data"
    if oi_share >= 0.995:
        return "modelled from open interest"
    if oi_share <= 0.005:
        return "modelled from traded volume (no open-interest data)"
    return f"modelled from open interest ({100 * (1 - oi_share):.0f}% of candles from traded volume)"


def add_marks(fig: Figure, m: LiqMap) -> None:
    """Footer: the 'estimate' mark stating what the map was built from (always), a 'SYNTHETIC DATA' badge when the
    source is synthetic and a 'REPLAY' badge with the virtual time when recorded data is played back as live."""
    fig.text(0.988, 0.025, f"ESTIMATE · {basis_text(m.oi_share)}, not exchange data", ha="right",
             va="center", **text_kw(SMALL_SIZE, MUTED, style="italic"), gid="estimate")
    badges = [(" SYNTHETIC DATA ", "synthetic")] if m.synthetic else []
    if m.replay:
        badges.append((f" REPLAY · {fmt_time_utc(m.at)} ", "replay"))
    for row, (text, gid) in enumerate(badges):  # side by side on the footer line (the context strip is above)
        fig.text(0.012 + 0.14 * row, 0.025, text, ha="left", va="center",
                 **text_kw(SUBTITLE_SIZE, "#111111", fontweight="bold"), gid=gid,
                 bbox={"boxstyle": "round,pad=0.25", "facecolor": WARN, "edgecolor": "none"})


def add_message(fig: Figure, headline: str, detail: str = "") -> None:
    """A centred message in the plotting area (empty or degenerate maps)."""
    x = MAIN_RECT[0] + MAIN_RECT[2] / 2 + 0.06
    fig.text(x, 0.53, headline, ha="center", va="center", **text_kw(13, TEXT, fontweight="bold"),
             gid="message")
    if detail:
        fig.text(x, 0.43, detail, ha="center", va="center", **text_kw(7.5, MUTED), gid="message-detail",
                 wrap=True)


def texts_by_gid(fig: Figure, gid: str) -> list[Text]:
    """Every text artist in ``fig`` (figure or axes level) whose gid is ``gid`` (used by tests and tools)."""
    found = [t for t in fig.findobj(Text) if t.get_gid() == gid]
    return found
