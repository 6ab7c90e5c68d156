"""The one symbol parser: whatever users or exchanges call a perpetual becomes ccxt's unified symbol.

``BTC``, ``btc``, ``BTCUSDT``, ``BTC-USDT-SWAP``, ``BTC/USDT``, ``BTC/USDT:USDT``
→ ``BTC/USDT:USDT`` (linear);
``XBTUSD``, ``BTCUSD``, ``BTC-USD-SWAP``, ``BTCUSD_PERP``, ``BTC/USD``
→ ``BTC/USD:BTC`` (inverse, coin-settled).
"""

from __future__ import annotations

import re

from bot.market.errors import SymbolError

LINEAR_QUOTES = ("USDT", "USDC")
INVERSE_QUOTE = "USD"
ALIASES = {"XBT": "BTC"}
ACCEPTED = "BTC, BTCUSDT, BTC-USDT-SWAP, BTC/USDT, BTC/USDT:USDT, XBTUSD, BTCUSD or BTC/USD:BTC"

_BASE = r"[A-Z][A-Z0-9]{1,9}"
_UNIFIED = re.compile(rf"^({_BASE})/([A-Z]{{3,5}})(?::([A-Z0-9]{{2,10}}))?$")
_DASHED = re.compile(rf"^({_BASE})-([A-Z]{{3,5}})(?:-(?:SWAP|PERP))?$")
_BASE_ONLY = re.compile(rf"^{_BASE}$")
_SUFFIXES = ("_PERP", ".P", "PERP")


def _fail(text: str, why: str = "") -> SymbolError:
    detail = f" ({why})" if why else ""
    return SymbolError(f"unknown symbol {text!r}{detail}; try one of: {ACCEPTED}")


def _unified(text: str, base: str, quote: str, settle: str | None) -> str:
    base = ALIASES.get(base, base)
    if base in (*LINEAR_QUOTES, INVERSE_QUOTE):
        raise _fail(text, f"{base} is a quote currency, not a coin")
    if quote in LINEAR_QUOTES:
        if settle not in (None, quote):
            raise _fail(text, f"a {quote}-margined perpetual settles in {quote}")
        return f"{base}/{quote}:{quote}"
    if quote == INVERSE_QUOTE:
        settle = ALIASES.get(settle, settle) if settle else None
        if settle not in (None, base):
            raise _fail(text, f"an inverse {base}/USD perpetual settles in {base}")
        return f"{base}/USD:{base}"
    raise _fail(text, f"quote {quote} is not supported")


def parse_symbol(text: str) -> str:
    """Return the ccxt unified perpetual symbol for ``text`` (see the module docstring for the forms).

    Raises ``SymbolError`` (a ``ValueError``) with the accepted forms for anything else.
    """
    if not isinstance(text, str):
        raise _fail(str(text))
    s = text.strip().upper()
    if not s:
        raise SymbolError(f"empty symbol; try one of: {ACCEPTED}")
    m = _UNIFIED.match(s)
    if m:
        return _unified(text, m.group(1), m.group(2), m.group(3))
    m = _DASHED.match(s)
    if m:
        return _unified(text, m.group(1), m.group(2), None)
    for suffix in _SUFFIXES:
        if s.endswith(suffix) and len(s) > len(suffix):
            s = s[: -len(suffix)]
            break
    for quote in (*LINEAR_QUOTES, INVERSE_QUOTE):  # longest quotes first: BTCUSDT is not BTC + USD + T
        if s.endswith(quote) and _BASE_ONLY.match(s[: -len(quote)]):
            return _unified(text, s[: -len(quote)], quote, None)
    if _BASE_ONLY.match(s) and ALIASES.get(s, s) not in (*LINEAR_QUOTES, INVERSE_QUOTE):
        return _unified(text, s, "USDT", None)
    raise _fail(text)


def display_symbol(unified: str) -> str:
    """Short exchange-style name: ``BTC/USDT:USDT`` → ``BTCUSDT``, ``BTC/USD:BTC`` → ``BTCUSD``."""
    head = unified.split(":", 1)[0]
    return head.replace("/", "")


def is_inverse(unified: str) -> bool:
    """True for coin-settled (inverse) perpetuals such as ``BTC/USD:BTC``."""
    head, _, settle = unified.partition(":")
    return bool(settle) and settle == head.split("/", 1)[0]
