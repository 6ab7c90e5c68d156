"""The one symbol parser."""

from __future__ import annotations

import pytest

from bot.market.errors import SymbolError
from bot.market.symbols import display_symbol, is_inverse, parse_symbol


@pytest.mark.parametrize(("text", "unified"), [
    ("BTC/USDT:USDT", "BTC/USDT:USDT"),
    ("btcusdt", "BTC/USDT:USDT"),
    ("BTC-USDT-SWAP", "BTC/USDT:USDT"),
    ("BTC", "BTC/USDT:USDT"),
    (" btc/usdt ", "BTC/USDT:USDT"),
    ("BTCUSDT.P", "BTC/USDT:USDT"),
    ("ETHUSDC", "ETH/USDC:USDC"),
    ("BTCUSD", "BTC/USD:BTC"),
    ("XBTUSD", "BTC/USD:BTC"),
    ("BTCUSD_PERP", "BTC/USD:BTC"),
    ("BTC-USD-SWAP", "BTC/USD:BTC"),
    ("BTC/USD:BTC", "BTC/USD:BTC"),
])
def test_accepted_forms(text: str, unified: str) -> None:
    assert parse_symbol(text) == unified
    assert parse_symbol(unified) == unified  # idempotent


@pytest.mark.parametrize("text", ["", "   ", "USDT", "BTC/EUR", "BTC/USDT:BTC", "BTC/USD:ETH", "$$$", "B", "BTC USDT",
                                  "BTC-USDT-FOO"])
def test_garbage_is_a_symbol_error_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(SymbolError, match="BTC/USDT:USDT") as info:
        parse_symbol(text)
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)


def test_display_and_inverse() -> None:
    assert display_symbol("BTC/USDT:USDT") == "BTCUSDT" and display_symbol("BTC/USD:BTC") == "BTCUSD"
    assert is_inverse("BTC/USD:BTC") and not is_inverse("BTC/USDT:USDT")
