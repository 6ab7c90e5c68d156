"""What the platform-neutral chat service returns (Reply, buttons) and the texts it builds from maps and alerts.

Adapters turn a ``Reply`` into a Telegram or Discord message.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.alerts.messages import DISCLAIMER, replay_note
from bot.alerts.position import position_line
from bot.chat.context_text import context_line
from bot.format import fmt_pct, fmt_price, fmt_range, fmt_time_utc, fmt_usd
from bot.market.symbols import display_symbol
from bot.model.types import Cluster, LiqMap
from bot.render.checks import KINDS
from bot.storage.records import SubscriptionRec

BUTTON_WINDOWS = ("12h", "24h", "3d", "7d")


@dataclass(frozen=True)
class ChatRef:
    """Who is talking: platform ('telegram'|'discord'), the platform's chat id, kind and title."""

    platform: str
    external_id: str
    kind: str = "private"  # 'private' | 'group' | 'channel'
    title: str = ""


@dataclass(frozen=True)
class Button:
    """An inline button: ``label`` shown, ``action`` sent back (``liqmap|<symbol>|<window>|<kind>``, ≤ 64 bytes)."""

    label: str
    action: str


@dataclass(frozen=True)
class Reply:
    """Text (plain, may contain newlines), an optional PNG, rows of buttons; ``error`` for a user-input problem
    (Discord shows those ephemerally)."""

    text: str
    png: bytes | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    error: bool = False
    fields: tuple[tuple[str, str], ...] = ()  # (name, value) shown as Discord embed fields (the context)


def liqmap_action(symbol: str, window: str, kind: str) -> str:
    """The callback string of a liqmap button."""
    return f"liqmap|{symbol}|{window}|{kind}"


def parse_action(action: str) -> tuple[str, str, str] | None:
    """(symbol, window, kind) of a liqmap button's callback string, or None when it is not one."""
    parts = action.split("|")
    if len(parts) != 4 or parts[0] != "liqmap":
        return None
    return parts[1], parts[2], parts[3]


def sub_line(s: SubscriptionRec) -> str:
    """``BTCUSDT 24h within 1.5% · min $50M · long · cooldown 30m`` (+ ``· paused``); a position alert gets
    ``position_line``."""
    if s.kind == "position":
        return position_line(s)
    parts = [f"{display_symbol(s.symbol)} {s.window} within {fmt_pct(s.proximity_pct, 2, signed=False)}"]
    if s.min_usd > 0:
        parts.append(f"min {fmt_usd(s.min_usd)}")
    if s.min_share > 0:
        parts.append(f"min {100 * s.min_share:.4g}% of its side")  # exactly as given: 15.6% stays 15.6%
    parts.append("both sides" if s.sides == "both" else s.sides)
    parts.append(f"cooldown {s.cooldown_s // 60}m")
    if not s.enabled:
        parts.append("paused")
    return " · ".join(parts)


def _zone(c: Cluster) -> str:
    return f"{fmt_range(c.low, c.high)} {fmt_usd(c.usd)} ({fmt_pct(c.distance_pct, 2)})"


def map_caption(m: LiqMap, top: int = 3) -> str:
    """Caption: headline, top clusters above and below price, exchanges and as-of time (SYNTHETIC when so)."""
    above = sorted((c for c in m.clusters if c.side == "short"), key=lambda c: -c.usd)[:top]
    below = sorted((c for c in m.clusters if c.side == "long"), key=lambda c: -c.usd)[:top]
    lines = [f"{display_symbol(m.symbol)} {m.window} liquidation map · price {fmt_price(m.price, full=True)}"]
    if above:
        lines.append("Above (shorts): " + "; ".join(_zone(c) for c in above))
    if below:
        lines.append("Below (longs): " + "; ".join(_zone(c) for c in below))
    if not m.clusters:
        lines.append("No dense clusters right now.")
    if (context := context_line(m.context)) is not None:
        lines.append(context)
    lines.append(f"{', '.join(m.exchanges)} · {fmt_time_utc(m.at)}")
    if m.missing_exchanges:
        lines.append(f"Missing (down or stale, not in this map): {', '.join(m.missing_exchanges)}")
    if m.synthetic:
        lines.append("SYNTHETIC market data (simulator).")
    if m.replay:
        lines.append(replay_note(m.at))
    lines.append(DISCLAIMER)
    return "\n".join(lines)


def levels_text(m: LiqMap, n: int = 4) -> str:
    """Nearest and largest clusters, one per line: side, zone, USD, distance."""

    def row(c: Cluster) -> str:
        return f"{c.side:5s} {fmt_range(c.low, c.high):>13s} {fmt_usd(c.usd):>7s} {fmt_pct(c.distance_pct, 2):>7s}"

    nearest = sorted(m.clusters, key=lambda c: abs(c.distance_pct))[:n]
    largest = sorted(m.clusters, key=lambda c: -c.usd)[:n]
    lines = [f"{display_symbol(m.symbol)} {m.window} · price {fmt_price(m.price, full=True)}"]
    if not m.clusters:
        lines.append("No dense clusters right now.")
    for title, group in (("Nearest", nearest), ("Largest", largest)):
        if group:
            lines.append(f"{title}:")
            lines += [row(c) for c in group]
    if (context := context_line(m.context)) is not None:
        lines.append(context)
    if m.missing_exchanges:
        lines.append(f"Missing (down or stale, not in this map): {', '.join(m.missing_exchanges)}")
    if m.synthetic:
        lines.append("SYNTHETIC market data (simulator).")
    if m.replay:
        lines.append(replay_note(m.at))
    return "\n".join(lines)


def map_buttons(symbol: str, window: str, kind: str) -> tuple[tuple[Button, ...], ...]:
    """Row 1: windows; row 2: chart kinds and refresh. The current choice is marked with a dot."""

    def mark(label: str, current: bool) -> str:
        return f"• {label}" if current else label

    windows = tuple(Button(mark(w, w == window), liqmap_action(symbol, w, kind)) for w in BUTTON_WINDOWS)
    kinds = tuple(Button(mark(k, k == kind), liqmap_action(symbol, window, k)) for k in KINDS)
    return windows, (*kinds, Button("↻ refresh", liqmap_action(symbol, window, kind)))
