"""The personal risk check behind ``/risk`` and ``liqmap risk``: a parsed position → venue, tiers, the current map
→ ``RiskAnswer`` → text, JSON or the marked map image.

The liquidation price is the exchange's isolated-margin formula (``bot.model.risk``: Binance USDⓈ-M and COIN-M,
Bybit USDT), with the exchange's live tier table when the market source has one for that exchange and symbol, else
the bundled BTC table of that exchange.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.alerts.messages import with_footer
from bot.alerts.position import fmt_liq, sub_liq_price
from bot.chat.parse import CommandError, PositionSpec, parse_position
from bot.chat.reply import Reply, sub_line
from bot.format import fmt_pct, fmt_price, fmt_range, fmt_time_utc, fmt_usd
from bot.market.symbols import display_symbol, is_inverse
from bot.market.tiers import default_tiers
from bot.market.types import LeverageTier, timeframe_ms
from bot.model.risk import FORMULA_NAMES, Position, RiskCheck, assess, bundled_tiers, tier_of
from bot.model.types import WINDOWS, Cluster, LiqMap
from bot.render.risk_marks import RiskMarks, render_risk_png_async
from bot.storage.records import SubscriptionRec

DEFAULT_SIZE_USD = 10_000.0  # the notional assumed when the user gives none (said in every answer)
DEFAULT_SYMBOL = "BTC/USDT:USDT"
RISK_WINDOW = "24h"  # the map the check reads (clusters, price, volatility)
FORMULAS = {"binanceusdm": False, "binancecoinm": True, "bybit": False}  # exchanges with a formula → inverse
FORMULA_OF = {"binanceusdm": "binance", "binancecoinm": "binance", "bybit": "bybit"}
MAX_SHOWN = 3  # clusters listed between price and the level

MapOf = Callable[[str, str], Awaitable[LiqMap]]
Store = Callable[[PositionSpec, "Venue", Position, float], Awaitable[SubscriptionRec]]  # ..., liquidation price USD


@dataclass(frozen=True)
class Venue:
    """Where the position is: ccxt ``exchange`` id, unified ``symbol``, and whether the contract is inverse."""

    exchange: str
    symbol: str
    inverse: bool


@dataclass(frozen=True)
class RiskAnswer:
    """One answered check: the model's result, the map it read, the venue, whether the tiers were the exchange's
    live table, and whether the size was the default."""

    check: RiskCheck
    map: LiqMap
    venue: Venue
    live_tiers: bool
    size_defaulted: bool
    max_leverage: float  # the exchange's maximum for this notional at entry


def venue_of(spec: PositionSpec) -> Venue:
    """The venue of ``spec``: the symbol (default BTCUSDT) and the exchange (default by contract kind:
    binanceusdm for USDⓈ-M, binancecoinm for COIN-M). ``CommandError`` for an exchange without a formula here or
    a symbol of the other contract kind."""
    symbol = spec.symbol or DEFAULT_SYMBOL
    inverse = is_inverse(symbol)
    exchange = spec.exchange or "binance"
    if exchange == "binance":
        exchange = "binancecoinm" if inverse else "binanceusdm"
    if exchange not in FORMULAS:
        raise CommandError(f"I know Binance's and Bybit's liquidation formulas: use binanceusdm (USDⓈ-M, e.g. "
                           f"BTCUSDT), binancecoinm (COIN-M, e.g. BTCUSD) or bybit (USDT), not {exchange}")
    if FORMULAS[exchange] != inverse:
        kind = "COIN-M symbols like BTCUSD" if FORMULAS[exchange] else "USDⓈ-M symbols like BTCUSDT"
        raise CommandError(f"{exchange} lists {kind}, not {display_symbol(symbol)}")
    return Venue(exchange, symbol, inverse)


def position_of(spec: PositionSpec, venue: Venue) -> Position:
    """The model's position for ``spec`` (size: the default notional when none was given)."""
    size = spec.size_usd if spec.size_usd is not None else DEFAULT_SIZE_USD
    return Position(side=1 if spec.side == "long" else -1, entry=spec.entry, leverage=spec.leverage,
                    size_usd=size, inverse=venue.inverse, formula=FORMULA_OF[venue.exchange])


async def _live_tiers(source: object, venue: Venue, price: float) -> tuple[LeverageTier, ...]:
    """The tiers a ccxt market source holds for the venue (fetched once and cached by the source), or ()."""
    src: Any = source
    for _ in range(8):  # unwrap StoredSource and the like (``inner``); CcxtSource caches tiers per symbol
        if venue.exchange in getattr(src, "exchanges", ()) and hasattr(src, "leverage_tiers"):
            return tuple(await src.leverage_tiers(venue.exchange, venue.symbol, price))
        src = getattr(src, "inner", None)
        if src is None:
            break
    return ()


async def venue_tiers(source: object, venue: Venue, price: float) -> tuple[tuple[LeverageTier, ...], bool]:
    """(tiers, live): the exchange's own table when the source has it, else the exchange's bundled table, which is
    BTC's: another coin without a live table gets a ``CommandError``."""
    try:
        live = await _live_tiers(source, venue, price)
    except Exception:  # an exchange outage must not block the check: the bundled table answers
        live = ()
    bundled = bundled_tiers(venue.inverse, FORMULA_OF[venue.exchange])
    if live and live not in (bundled, default_tiers(venue.symbol)):  # the source's fallback is Binance's table
        return live, True
    if not venue.symbol.startswith("BTC/"):
        raise CommandError(f"no maintenance-margin tiers for {display_symbol(venue.symbol)} on {venue.exchange} "
                           "right now: only BTC has a bundled table")
    return bundled, False


def check_leverage(pos: Position, tiers: tuple[LeverageTier, ...], venue: Venue) -> None:
    """``CommandError`` when the leverage is above the exchange's maximum for the position's notional."""
    if math.isfinite(tiers[-1].cap_usd) and pos.tier_notional >= tiers[-1].cap_usd:
        raise CommandError(f"a {fmt_usd(pos.size_usd)} position is beyond the tier table I have for {venue.exchange} "
                           f"(up to {fmt_usd(tiers[-1].cap_usd)}): its live table is unavailable right now")
    tier = tier_of(pos, tiers)
    if pos.leverage > tier.max_leverage:
        raise CommandError(f"{pos.leverage:g}x is above {venue.exchange}'s maximum of {tier.max_leverage:g}x for a "
                           f"{fmt_usd(pos.size_usd)} position: lower the leverage or the size")


async def run_risk(spec: PositionSpec, map_of: MapOf, source: object) -> RiskAnswer:
    """Resolve the venue, read the current map (``map_of(symbol, window)``), pick the tiers, check the leverage and
    assess the position. Every user mistake is a ``CommandError``."""
    venue = venue_of(spec)
    m = await map_of(venue.symbol, RISK_WINDOW)
    pos = position_of(spec, venue)
    tiers, live = await venue_tiers(source, venue, m.price)
    check_leverage(pos, tiers, venue)
    check = assess(pos, m, timeframe_ms(WINDOWS[RISK_WINDOW][1]), tiers)
    return RiskAnswer(check, m, venue, live, spec.size_usd is None, tier_of(pos, tiers).max_leverage)


def _zone(c: Cluster) -> str:
    return f"{fmt_range(c.low, c.high)} {fmt_usd(c.usd)} ({fmt_pct(c.distance_pct, 1)})"


def _tier_text(a: RiskAnswer) -> str:
    t = a.check.tier
    unit = " BTC" if a.venue.inverse else ""
    floor = f"{t.floor_usd:g}{unit}" if a.venue.inverse else fmt_usd(t.floor_usd)
    cap = "∞" if not math.isfinite(t.cap_usd) else (f"{t.cap_usd:g}{unit}" if a.venue.inverse else fmt_usd(t.cap_usd))
    table = ("the exchange's tier table" if a.live_tiers else "Bybit's BTCUSDT risk limits (bundled)"
             if a.venue.exchange == "bybit" else "Binance's published BTC tiers (bundled)")
    return f"MMR {100 * t.mmr:.2f}% of tier {floor}–{cap}; max {a.max_leverage:g}x at this size; {table}"


def risk_text(a: RiskAnswer) -> str:
    """The compact answer: position, liquidation price (formula, tier), distance, clusters between, 24h reach, the
    dense-zone warning, then the map's as-of line and the labels."""
    c, m, pos = a.check, a.map, a.check.position
    size = f"{fmt_usd(pos.size_usd)} notional" + (" (default size; add e.g. size 50k)" if a.size_defaulted else "")
    lines = [f"{display_symbol(a.venue.symbol)} {pos.side_name} · entry {fmt_price(pos.entry, full=True)} · "
             f"{pos.leverage:g}x · {size} · {a.venue.exchange}, isolated margin"]
    if not math.isfinite(c.liq):
        lines.append("Liquidation price: none (at this leverage the margin covers the whole position)")
    else:
        formula = FORMULA_NAMES[c.position.formula]
        lines.append(f"Liquidation price: {fmt_liq(c.liq)} ({formula} formula; {_tier_text(a)})")
        where = "above" if pos.side > 0 else "below"
        if c.beyond:
            lines.append(f"⛔ Price {fmt_price(c.price, full=True)} is already beyond it: this position would be "
                         "liquidated")
        else:
            lines.append(f"Distance: {fmt_pct(c.distance_pct, 2, signed=False)} (price {fmt_price(c.price, full=True)}"
                         f" is {where} it)")
            lines.append(f"Chance price reaches it within 24h: {_prob(c.reach_24h)} (random walk at the last 2h's "
                         "volatility)")
    if c.between and math.isfinite(c.liq):
        shown = "; ".join(_zone(z) for z in c.between[:MAX_SHOWN])
        more = f" and {len(c.between) - MAX_SHOWN} more" if len(c.between) > MAX_SHOWN else ""
        lines.append(f"Clusters between price and your level: {fmt_usd(c.between_usd)} in {len(c.between)}: "
                     f"{shown}{more}. A cascade through them can carry price to your level.")
    elif math.isfinite(c.liq) and not c.beyond:
        lines.append("No dense cluster between price and your level.")
    if c.entry_zone is not None:
        z = c.entry_zone
        lines.append(f"⚠️ Your entry sits inside a dense {z.side} zone {fmt_range(z.low, z.high)} ({fmt_usd(z.usd)})")
    lines.append(f"{RISK_WINDOW} map · {', '.join(m.exchanges)} · {fmt_time_utc(m.at)}")
    return with_footer(lines, m.synthetic, m.at if m.replay else None)


def _prob(p: float) -> str:
    if not math.isfinite(p):
        return "n/a"
    return "<1%" if 0 < p < 0.01 else ">99%" if 0.99 < p < 1 else f"{100 * p:.0f}%"


def _num(x: float) -> float | None:
    return x if math.isfinite(x) else None


def risk_json(a: RiskAnswer) -> dict[str, Any]:
    """The ``liqmap risk --json`` object (prices USD, distances %, probability 0..1, null = none)."""
    c, pos, t = a.check, a.check.position, a.check.tier
    return {
        "symbol": a.venue.symbol, "exchange": a.venue.exchange, "margin": "isolated", "side": pos.side_name,
        "entry": pos.entry, "leverage": pos.leverage, "size_usd": pos.size_usd, "size_defaulted": a.size_defaulted,
        "liquidation_price": _num(c.liq), "price": c.price, "distance_pct": _num(c.distance_pct),
        "reach_probability_24h": _num(c.reach_24h),
        "tier": {"floor": t.floor_usd, "cap": _num(t.cap_usd), "mmr": t.mmr, "cum": t.cum_usd,
                 "max_leverage": a.max_leverage, "unit": "BTC" if a.venue.inverse else "USD", "live": a.live_tiers},
        "clusters_between": [z.to_json() for z in c.between], "clusters_between_usd": c.between_usd,
        "entry_in_zone": c.entry_zone.to_json() if c.entry_zone is not None else None,
        "map": {"window": RISK_WINDOW, "at": int(a.map.at), "exchanges": list(a.map.exchanges),
                "synthetic": bool(a.map.synthetic)},
    }


async def risk_png(a: RiskAnswer) -> bytes:
    """The map chart with the entry and liquidation lines (rendered in a worker thread, not cached)."""
    pos = a.check.position
    return await render_risk_png_async(a.map, RiskMarks(pos.entry, a.check.liq, pos.side_name))


async def risk_reply(args: str, map_of: MapOf, source: object) -> Reply:
    """``risk ...``: the compact text and the map image with the entry and liquidation lines."""
    a = await run_risk(parse_position(args), map_of, source)
    return Reply(risk_text(a), png=await risk_png(a))


async def position_alert_reply(args: str, map_of: MapOf, source: object, store: Store) -> Reply:
    """``alert position ...``: validated like ``risk`` (venue, symbol, leverage within the tier's maximum), then
    stored by ``store(spec, venue, position, liquidation price)`` as a position alert on the ``RISK_WINDOW`` map,
    with the liquidation price just computed (so the alert watches the level this reply names)."""
    spec = parse_position(args, alert=True)
    a = await run_risk(spec, map_of, source)
    if not math.isfinite(a.check.liq):
        raise CommandError(f"a {spec.leverage:g}x {spec.side} has no liquidation price: nothing to alert on; "
                           "raise the leverage")
    sub = await store(spec, a.venue, a.check.position, a.check.liq)
    size_note = " (default size)" if a.size_defaulted else ""
    beyond = "\nPrice is already beyond this liquidation price." if a.check.beyond else ""
    return Reply(f"Position alert #{sub.id} added{size_note}: {sub_line(sub)}{beyond}")


def precheck(args: str, *, alert: bool = False) -> str | None:
    """The one-line mistake in ``risk`` / ``alert position`` arguments that needs no market data (form, venue,
    leverage above the bundled table's maximum), or None: lets an adapter answer privately before deferring."""
    try:
        spec = parse_position(args, alert=alert)
        venue = venue_of(spec)
        if venue.symbol.startswith("BTC/"):
            check_leverage(position_of(spec, venue), default_tiers(venue.symbol), venue)
    except CommandError as exc:
        return str(exc)
    return None


async def position_png(m: LiqMap, sub: SubscriptionRec) -> bytes:
    """A position alert's image: the map chart with the subscription's entry and liquidation lines."""
    marks = RiskMarks(float(sub.entry_price or 0.0), sub_liq_price(sub), sub.sides)
    return await render_risk_png_async(m, marks)
