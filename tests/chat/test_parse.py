"""Chat argument parsing: amounts, percentages, windows, symbols and the alert grammar with friendly errors."""

from __future__ import annotations

import pytest

from bot.chat.parse import (
    AlertSpec,
    CommandError,
    parse_alert_add,
    parse_id,
    parse_pct,
    parse_usd,
    parse_window,
)


@pytest.mark.parametrize(
    ("text", "usd"),
    [
        ("50M", 50e6),
        ("2.5B", 2.5e9),
        ("750k", 750e3),
        ("750K", 750e3),
        ("$1.2m", 1.2e6),
        ("1,000,000", 1e6),
        ("0", 0.0),
        ("3T", 3e12),
    ],
)
def test_parse_usd(text: str, usd: float) -> None:
    assert parse_usd(text) == pytest.approx(usd)


@pytest.mark.parametrize("text", ["lots", "-5M", "5X", "", "1.2.3M"])
def test_parse_usd_errors_show_the_form(text: str) -> None:
    with pytest.raises(CommandError, match=r"like 50M, 2\.5B, 750k"):
        parse_usd(text)


def test_parse_pct_and_window_and_id() -> None:
    assert parse_pct("1.5%") == 1.5 and parse_pct("2") == 2.0
    with pytest.raises(CommandError, match=r"like 1\.5%"):
        parse_pct("abc%")
    assert parse_window("24H") == "24h"
    with pytest.raises(CommandError, match="12h, 24h, 3d, 7d, 30d"):
        parse_window("2h")
    assert parse_id("#12", "alert remove <id>") == 12
    with pytest.raises(CommandError, match="alert remove <id>"):
        parse_id("x", "alert remove <id>")


def test_alert_add_defaults() -> None:
    assert parse_alert_add("BTC") == AlertSpec(symbol="BTC/USDT:USDT")
    spec = parse_alert_add("BTC")
    assert (spec.proximity_pct, spec.min_usd, spec.sides, spec.window, spec.cooldown_s) == (
        1.0,
        0.0,
        "both",
        "24h",
        1800,
    )


def test_alert_add_full_grammar() -> None:
    spec = parse_alert_add("btcusd 1.5% min 50M side long window 3d cooldown 2h")
    assert spec == AlertSpec(
        symbol="BTC/USD:BTC", window="3d", proximity_pct=1.5, min_usd=50e6, sides="long", cooldown_s=7200
    )
    spec = parse_alert_add("BTC/USDT:USDT 0.5 min 5% side shorts 12h")
    assert (spec.proximity_pct, spec.min_share, spec.sides, spec.window) == (0.5, 0.05, "short", "12h")


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        ("", "alert add <symbol>"),
        ("BTC/EUR", "try BTC, BTCUSDT"),
        ("BTC 50%", "between 0.01% and 20%"),
        ("BTC 1% min", "min 50M"),
        ("BTC 1% min lots", "like 50M, 2.5B, 750k"),
        ("BTC side up", "side long, side short or side both"),
        ("BTC window 2h", "use one of 12h"),
        ("BTC cooldown soon", "cooldown 30m"),
        ("BTC cooldown 10d", "between 1m and 7d"),
        ("BTC 1% 2%", "I don't understand '2%'"),
        ("BTC banana", "e.g. alert add BTC 1.5% min 50M"),
    ],
)
def test_alert_add_errors_are_one_friendly_line(args: str, hint: str) -> None:
    with pytest.raises(CommandError) as info:
        parse_alert_add(args)
    msg = str(info.value)
    assert hint in msg and "\n" not in msg
