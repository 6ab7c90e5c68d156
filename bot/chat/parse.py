"""The one place chat command arguments are parsed and validated (both chat platforms use it through the service).

Every invalid input raises ``CommandError``: one friendly line that shows the correct form.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bot.errors import LiqmapError
from bot.market.errors import SymbolError
from bot.market.symbols import parse_symbol
from bot.model.types import WINDOWS
from bot.timeparse import DurationTooLong, parse_duration

ADD_USAGE = "alert add <symbol> [proximity%] [min <usd|share%>] [side long|short|both] [window 24h] [cooldown 30m]"
ADD_EXAMPLE = "alert add BTC 1.5% min 50M side long window 24h"
DEFAULT_PROXIMITY_PCT = 1.0
DEFAULT_WINDOW = "24h"
DEFAULT_COOLDOWN_S = 30 * 60
MAX_PROXIMITY_PCT = 20.0
MIN_PROXIMITY_PCT = 0.01
MIN_COOLDOWN_S = 60
MAX_COOLDOWN_S = 7 * 86_400
MAX_USD = 1e15  # 1000T: more than any cluster will ever hold

SHOWN_CHARS = 40  # an error reply quotes at most this much of the user's input
# ASCII digits only (as ids): "١٢", fullwidth digits, exponents, nan and inf are not numbers here.
_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_USD = re.compile(rf"^\$?{_NUMBER}\s*([kmbt]?)$", re.IGNORECASE | re.ASCII)
_PCT = re.compile(rf"^{_NUMBER}\s*%?$", re.ASCII)
_SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


class CommandError(LiqmapError):
    """A chat command's input was invalid; the message is one line that shows the correct form."""


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """The user's ``text`` quoted for an error reply: ``repr`` (one line, control characters escaped) of at most
    ``limit`` characters, with an ellipsis when cut."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


@dataclass(frozen=True)
class AlertSpec:
    """A validated ``alert add``: proximity %, minimum cluster size USD and share (0..1), sides, cooldown s."""

    symbol: str
    window: str = DEFAULT_WINDOW
    proximity_pct: float = DEFAULT_PROXIMITY_PCT
    min_usd: float = 0.0
    min_share: float = 0.0
    sides: str = "both"
    cooldown_s: int = DEFAULT_COOLDOWN_S


def parse_usd(text: str) -> float:
    """``50M`` → 50e6, ``2.5B``, ``750k``, ``$1.2M``, ``1,000,000``: USD (a float ≥ 0)."""
    m = _USD.match(text.strip().replace(",", "").replace("_", ""))
    if not m:
        raise CommandError(f"I can't read {shown(text)} as an amount: write it like 50M, 2.5B, 750k or 1000000")
    usd = float(m.group(1)) * _SCALE[m.group(2).lower()]
    if not math.isfinite(usd) or usd > MAX_USD:  # hundreds of digits overflow to inf
        raise CommandError(f"{shown(text)} is too large an amount: at most 1000T, e.g. 50M, 2.5B or 750k")
    return usd


def parse_pct(text: str, what: str = "proximity") -> float:
    """``1.5%`` (or ``1.5``) → 1.5 (percent)."""
    m = _PCT.match(text.strip())
    if not m:
        raise CommandError(f"I can't read {shown(text)} as a {what}: write a percentage like 1.5%")
    return float(m.group(1))  # finite or inf (hundreds of digits): callers check their range


def parse_window(text: str) -> str:
    """A window name of ``bot.model.types.WINDOWS`` (case-insensitive)."""
    w = text.strip().lower()
    if w not in WINDOWS:
        raise CommandError(f"unknown window {shown(text)}: use one of {', '.join(WINDOWS)}, e.g. window 24h")
    return w


def parse_chat_symbol(text: str) -> str:
    """A user's symbol spelling (``BTC``, ``BTCUSDT``, ``BTC/USDT:USDT``) → unified symbol, friendly on error."""
    try:
        return parse_symbol(text)
    except SymbolError:
        raise CommandError(
            f"unknown symbol {shown(text)}: try BTC, BTCUSDT, BTC/USDT:USDT or BTCUSD (inverse)"
        ) from None


def parse_id(text: str, usage: str) -> int:
    """A positive alert id as shown by ``alert list``."""
    t = text.strip().lstrip("#")
    if not (t.isascii() and t.isdigit()) or len(t) > 18 or int(t) <= 0:  # ASCII only ('²'.isdigit()); fits int64
        raise CommandError(f"{shown(text)} is not an alert id: use {usage} (ids are shown by alert list)")
    return int(t)


def parse_cooldown(raw: str) -> int:
    """``30m``, ``2h``, ``1d`` → seconds, between ``MIN_COOLDOWN_S`` and ``MAX_COOLDOWN_S``."""
    in_range = f"cooldown {shown(raw)} must be between 1m and 7d, e.g. cooldown 30m"
    try:
        cooldown_s = parse_duration(raw) // 1000
    except DurationTooLong:
        raise CommandError(in_range) from None
    except LiqmapError:
        raise CommandError(f"I can't read cooldown {shown(raw)}: write it like cooldown 30m, 2h or 1d") from None
    if not MIN_COOLDOWN_S <= cooldown_s <= MAX_COOLDOWN_S:
        raise CommandError(in_range)
    return cooldown_s


def _need(tokens: list[str], i: int, key: str, form: str) -> str:
    if i + 1 >= len(tokens):
        raise CommandError(f"'{key}' needs a value: write {form}")
    return tokens[i + 1]


def parse_alert_add(args: str) -> AlertSpec:
    """Parse the arguments of ``alert add`` (see ``ADD_USAGE``); defaults make ``alert add BTC`` work."""
    tokens = args.replace("=", " ").split()
    if not tokens:
        raise CommandError(f"which symbol? use {ADD_USAGE}, e.g. {ADD_EXAMPLE}")
    symbol = parse_chat_symbol(tokens[0])
    values: dict[str, object] = {}
    i = 1
    while i < len(tokens):
        tok = tokens[i].lower()
        if tok == "min":
            raw = _need(tokens, i, "min", "min 50M (USD) or min 5% (share of the side's pending total)")
            if raw.endswith("%"):
                share = parse_pct(raw, "minimum share") / 100.0
                if not 0 <= share < 1:
                    raise CommandError(f"minimum share {shown(raw)} must be below 100%, e.g. min 5%")
                values["min_share"] = share
            else:
                values["min_usd"] = parse_usd(raw)
            i += 2
        elif tok == "side":
            raw = _need(tokens, i, "side", "side long, side short or side both").lower()
            if raw not in ("long", "short", "both", "longs", "shorts"):
                raise CommandError(f"unknown side {shown(raw)}: use side long, side short or side both")
            values["sides"] = raw.rstrip("s") if raw != "both" else raw
            i += 2
        elif tok == "window":
            values["window"] = parse_window(_need(tokens, i, "window", "window 24h"))
            i += 2
        elif tok == "cooldown":
            values["cooldown_s"] = parse_cooldown(_need(tokens, i, "cooldown", "cooldown 30m"))
            i += 2
        elif tok in WINDOWS:
            values["window"] = tok
            i += 1
        elif "proximity_pct" not in values and tok[:1].isdigit():  # any digit: "١٢%" is answered, not ignored
            prox = parse_pct(tok)
            if not MIN_PROXIMITY_PCT <= prox <= MAX_PROXIMITY_PCT:
                raise CommandError(f"proximity {shown(tokens[i])} must be between 0.01% and 20%, e.g. 1.5%")
            values["proximity_pct"] = prox
            i += 1
        else:
            raise CommandError(f"I don't understand {shown(tokens[i])}: use {ADD_USAGE}, e.g. {ADD_EXAMPLE}")
    return AlertSpec(symbol=symbol, **values)  # type: ignore[arg-type]


RISK_USAGE = "risk long|short <entry> <leverage>x [size USD] [symbol] [exchange]"
RISK_EXAMPLE = "risk long 62000 20x"
POSITION_USAGE = "alert position long|short <entry> <leverage>x [size USD] [within%] [symbol] [exchange] [cooldown 30m]"
POSITION_EXAMPLE = "alert position long 62000 20x 10k 2%"
DEFAULT_POSITION_PROXIMITY_PCT = 2.0
MAX_LEVERAGE = 1000.0  # no exchange goes further; the exchange's own tier maximum is checked with the tiers
_LEVERAGE = re.compile(rf"^{_NUMBER}\s*x?$", re.IGNORECASE | re.ASCII)
EXCHANGE_WORDS = ("binanceusdm", "binancecoinm", "binance", "bybit", "okx", "bitmex", "bitget", "deribit")


@dataclass(frozen=True)
class PositionSpec:
    """A validated ``risk`` or ``alert position``: side 'long'|'short', entry USD (> 0), leverage (x), notional
    ``size_usd`` (None = the default), unified ``symbol`` and ccxt ``exchange`` (None = the defaults), and for an
    alert its distance ``proximity_pct`` (%) and ``cooldown_s``."""

    side: str
    entry: float
    leverage: float
    size_usd: float | None = None
    symbol: str | None = None
    exchange: str | None = None
    proximity_pct: float = DEFAULT_POSITION_PROXIMITY_PCT
    cooldown_s: int = DEFAULT_COOLDOWN_S


def _position_head(tokens: list[str], form: str) -> tuple[str, float, float]:
    """(side, entry USD, leverage) from the first three tokens, with the correct ``form`` on any mistake."""
    if len(tokens) < 3:
        raise CommandError(f"use {form}")
    side = tokens[0].lower().rstrip("s") if tokens[0].lower() != "shorts" else "short"
    if side not in ("long", "short"):
        raise CommandError(f"the side is long or short, not {shown(tokens[0])}: use {form}")
    try:
        entry = parse_usd(tokens[1])
    except CommandError:
        raise CommandError(f"I can't read the entry price {shown(tokens[1])}: use {form}") from None
    if not entry > 0:
        raise CommandError(f"the entry price must be above 0, not {shown(tokens[1])}: use {form}")
    m = _LEVERAGE.match(tokens[2].strip())
    leverage = float(m.group(1)) if m else math.nan
    if not (1.0 <= leverage <= MAX_LEVERAGE):
        raise CommandError(f"leverage {shown(tokens[2])} must be a number from 1x, like 20x: use {form}")
    return side, entry, leverage


def parse_position(args: str, *, alert: bool = False) -> PositionSpec:
    """Parse ``risk`` arguments (see ``RISK_USAGE``) or, with ``alert``, those of ``alert position``
    (``POSITION_USAGE``). Optional tokens come in any order: ``size 10k`` or a bare amount is the size, a known
    exchange id the exchange, ``2%`` (alerts) the distance, ``cooldown 30m`` (alerts), anything else the symbol."""
    form = (f"{POSITION_USAGE}, e.g. {POSITION_EXAMPLE}" if alert else f"{RISK_USAGE}, e.g. {RISK_EXAMPLE}")
    tokens = args.replace("=", " ").split()
    side, entry, leverage = _position_head(tokens, form)
    values: dict[str, object] = {}
    i = 3
    while i < len(tokens):
        tok, low = tokens[i], tokens[i].lower()
        step = 1
        if low == "size" or ((tok[:1].isdigit() or tok[:1] == "$") and not tok.endswith("%")):
            raw = _need(tokens, i, "size", "size 10k") if low == "size" else tok
            step = 2 if low == "size" else 1
            size = parse_usd(raw)
            if not size > 0:
                raise CommandError(f"the size must be above 0, not {shown(raw)}: use {form}")
            values["size_usd"] = size
        elif alert and tok.endswith("%"):
            prox = parse_pct(tok, "distance")
            if not MIN_PROXIMITY_PCT <= prox <= MAX_PROXIMITY_PCT:
                raise CommandError(f"the distance {shown(tok)} must be between 0.01% and 20%, e.g. 2%")
            values["proximity_pct"] = prox
        elif alert and low == "cooldown":
            values["cooldown_s"] = parse_cooldown(_need(tokens, i, "cooldown", "cooldown 30m"))
            step = 2
        elif low in EXCHANGE_WORDS:
            values["exchange"] = low
        elif "symbol" not in values:
            values["symbol"] = parse_chat_symbol(tok)
        else:
            raise CommandError(f"I don't understand {shown(tok)}: use {form}")
        i += step
    return PositionSpec(side, entry, leverage, **values)  # type: ignore[arg-type]
