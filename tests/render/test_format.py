"""The one money / price formatter (``$412M``, ``67.4k``) used by charts, CLI and chat text."""

from __future__ import annotations

import math

import pytest

from bot.format import fmt_pct, fmt_price, fmt_range, fmt_time_utc, fmt_usd


@pytest.mark.parametrize(("usd", "text"), [
    (0.0, "$0"), (950.0, "$950"), (999.4, "$999"), (1_200.0, "$1.2k"), (67_400.0, "$67.4k"), (67_449.0, "$67.4k"),
    (9_960.0, "$10k"), (99_960.0, "$100k"), (120_000.0, "$120k"), (999_700.0, "$1M"), (41.5e6, "$41.5M"),
    (412e6, "$412M"), (412.4e6, "$412M"), (1.2e9, "$1.2B"), (2.0e9, "$2B"), (3.4e12, "$3.4T"), (-5.5e6, "-$5.5M"),
])
def test_fmt_usd(usd: float, text: str) -> None:
    assert fmt_usd(usd) == text


def test_fmt_usd_keeps_three_significant_digits_at_most() -> None:
    assert fmt_usd(67.44e3) == "$67.4k"
    assert fmt_usd(6.744e3) == "$6.7k"
    assert fmt_usd(674.4e3) == "$674k"
    assert fmt_usd(20.0e6) == "$20M"  # trailing .0 dropped


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_read_na(bad: float) -> None:
    assert fmt_usd(bad) == fmt_price(bad) == fmt_pct(bad) == fmt_time_utc(bad) == "n/a"


@pytest.mark.parametrize(("price", "kwargs", "text"), [
    (67_412.0, {}, "67.4k"), (67_400.0, {}, "67.4k"), (100_000.0, {}, "100.0k"), (62_500.0, {"decimals": 0}, "62k"),
    (67_412.0, {"decimals": 2}, "67.41k"), (950.5, {}, "950.5"), (0.4321, {}, "0.4321"),
    (67_400.0, {"full": True}, "67,400"), (67_412.4, {"full": True}, "67,412"), (150.254, {"full": True}, "150.25"),
    (1_234_567.0, {"full": True}, "1,234,567"),
])
def test_fmt_price(price: float, kwargs: dict[str, object], text: str) -> None:
    assert fmt_price(price, **kwargs) == text  # type: ignore[arg-type]


def test_fmt_range_adds_decimals_until_the_ends_differ() -> None:
    assert fmt_range(68_000.0, 68_300.0) == "68.0k–68.3k"
    assert fmt_range(68_010.0, 68_040.0) == "68.01k–68.04k"
    assert fmt_range(68_001.0, 68_002.0) == "68.001k–68.002k"


def test_fmt_pct_and_time() -> None:
    assert fmt_pct(1.234) == "+1.2%"
    assert fmt_pct(-0.84) == "-0.8%"
    assert fmt_pct(12.5, decimals=0, signed=False) == "12%"
    assert fmt_time_utc(1_795_651_200_000) == "2026-11-26 00:00 UTC"
