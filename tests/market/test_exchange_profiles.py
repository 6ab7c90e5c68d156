"""One profile per exchange (DESIGN.md): the per-exchange quirks live in ``bot.market.exchanges`` and nowhere else,
and each profile is what the live source actually does against the exchange stand-in."""

from __future__ import annotations

import ast
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.market.ccxt_source import CcxtSource
from bot.market.exchanges import DEFAULT, PROFILES, ExchangeProfile, profile_for
from bot.market.types import TIMEFRAME_MS
from tests.market.conftest import NOW, SYMBOL, source_for
from tests.standins.exchange_server import DAY, ExchangeServer

MARKET = Path(__file__).resolve().parents[2] / "bot" / "market"
EXCHANGE_NAMES = ("binance", "bybit", "okx")
# What the stand-in calls each request of a profile's exchange: (klines, OI history, funding history, tiers).
PATHS = {
    "binanceusdm": ("/fapi/v1/klines", "/openInterestHist", "/fapi/v1/fundingRate", "/leverageBracket"),
    "bybit": ("/v5/market/kline", "/v5/market/open-interest", "/v5/market/funding/history", "/v5/market/risk-limit"),
    "okx": ("candles", "/open-interest-history", "/funding-rate-history", "/position-tiers"),
}


def _id_literals(node: ast.AST) -> list[str]:
    """String constants naming one of the exchanges, in ``node`` or a set/tuple/list literal it is."""
    items = node.elts if isinstance(node, ast.Set | ast.Tuple | ast.List) else [node]
    return [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)
            and i.value.lower().startswith(EXCHANGE_NAMES)]


def test_no_module_of_bot_market_branches_on_an_exchange_id() -> None:
    offenders = []
    for path in sorted(MARKET.glob("*.py")):
        if path.name == "exchanges.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                found = [s for part in (node.left, *node.comparators) for s in _id_literals(part)]
            elif isinstance(node, ast.MatchValue):
                found = _id_literals(node.value)
            else:
                continue
            offenders += [f"{path.name}:{node.lineno} compares with {s!r}" for s in found]
    assert not offenders, "exchange quirks belong in bot/market/exchanges.py: " + "; ".join(offenders)


def test_the_check_catches_a_branch() -> None:
    tree = ast.parse('if ex.id == "okx" or ex.id in {"bybit", "x"}:\n    pass\n')
    found = [s for n in ast.walk(tree) if isinstance(n, ast.Compare)
             for part in (n.left, *n.comparators) for s in _id_literals(part)]
    assert found == ["okx", "bybit"]


def test_an_exchange_without_a_profile_gets_the_default() -> None:
    p = profile_for("kraken")
    assert p.id == "kraken" and p == ExchangeProfile(id="kraken")
    assert (p.candle_limit, p.oi_limit, p.funding_limit, p.funding_end_param) == (500, 200, 100, "until")
    assert p.oi_periods == DEFAULT.oi_periods == ("5m", "1h", "1d")
    assert p.raw_klines is None and not p.public_tiers and not p.tiers_in_contracts
    assert p.client_options() == {}
    assert p.oi_period("1m") == "5m" and p.oi_period("4h") == "1h" and p.oi_period("1d") == "1d"


def test_profiles_are_consistent() -> None:
    for key, p in PROFILES.items():
        assert key == p.id and profile_for(key) is p
        assert list(p.oi_periods) == sorted(p.oi_periods, key=TIMEFRAME_MS.__getitem__)
        assert min(p.candle_limit, p.oi_limit, p.funding_limit) > 0
        options = p.client_options()
        assert options == dict(p.market_options) and options is not p.market_options
    with pytest.raises(ValueError, match="go together"):
        ExchangeProfile(id="x", raw_klines="publicGetKlines")
    with pytest.raises(ValueError, match="OI periods"):
        ExchangeProfile(id="x", oi_periods=("7m",))


@pytest.mark.parametrize("exchange", sorted(PROFILES))
def test_profile_market_options_reach_the_ccxt_config(exchange: str) -> None:
    configs: dict[str, dict[str, Any]] = {}

    def factory(exchange_id: str, config: dict[str, Any]) -> object:
        configs[exchange_id] = config
        return object()

    source = CcxtSource([exchange], exchange_factory=factory)
    source._client(exchange)
    assert configs[exchange]["options"] == profile_for(exchange).client_options()
    assert configs[exchange]["enableRateLimit"] is True


@pytest.mark.parametrize("exchange", sorted(PATHS))
async def test_profile_is_what_the_live_source_sends(stand_in: ExchangeServer, exchange: str) -> None:
    """Page limits, OI period, funding bound, raw klines and public tiers of one profile, as seen by the stand-in."""
    profile = PROFILES[exchange]
    klines, oi, funding, tiers = PATHS[exchange]
    source = source_for(stand_in, exchange)
    try:
        result = await source.load(SYMBOL, "1h", NOW - 2 * DAY)
    finally:
        await source.close()
    (s,) = result.series
    assert result.freshness[0].ok
    assert {r.query["limit"] for r in stand_in.requests(exchange, klines)} == {str(profile.candle_limit)}
    assert {r.query["limit"] for r in stand_in.requests(exchange, oi)} == {str(profile.oi_limit)}
    (f_req, *_) = stand_in.requests(exchange, funding)
    assert f_req.query["limit"] == str(profile.funding_limit)
    if profile.funding_end_param == "after":
        assert "after" in f_req.query
    period = {r.query.get("period") or r.query.get("intervalTime") for r in stand_in.requests(exchange, oi)}
    assert {p.lower().replace("min", "m") for p in period if p} == {profile.oi_period("1h")}
    # raw klines carry the taker-buy column; fetch_ohlcv does not
    assert np.all(np.isfinite(s.taker_buy_volume)) == (profile.raw_klines is not None)
    assert bool(stand_in.requests(exchange, tiers)) == profile.public_tiers  # no key: only public tiers are asked
    assert np.diff(s.funding_timestamp).tolist() == [profile.funding_every_ms] * (s.funding_timestamp.size - 1)
    if profile.tiers_in_contracts:  # contracts → USD: the second floor is a price multiple, not a round number
        assert not math.isclose(s.tiers[1].floor_usd % 1000, 0.0)
