"""Our ccxt adapter on real exchange replies: ``../shared/data/ccxt-recorded`` (ccxt's static test cases for binance,
bybit and okx: the recorded HTTP reply, ``httpResponse``, and what ccxt parsed from it, ``parsedResponse``).

Each reply is served by a small local HTTP server, the real ccxt class is pointed at it (as the exchange stand-in's
``factory`` does) with the recorded markets loaded offline, and ``bot.market.ccxt_fetch`` runs its real request and
parse path. The recording has no history endpoints for OI or funding, so those go through the adapter's parsing of
the same structures (``oi_usd``, ``funding_arrays``) on ccxt's reply to the recorded current-value endpoints, except
Bybit, whose OI history and current OI share one endpoint.

The second half keeps the stand-in's hand-written replies in the recorded shapes, endpoint by endpoint.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import ccxt.async_support as ccxt
import numpy as np
import pytest
from aiohttp import web

from bot.market.ccxt_fetch import fetch_candles, fetch_funding, fetch_open_interest, funding_arrays, oi_usd
from bot.market.types import TIMEFRAME_MS
from tests.conftest import shared_dataset
from tests.market.conftest import NO_WAIT
from tests.standins.exchange_server import DAY, FIXTURES, HOUR, ROUTES, Tape


def recorded(exchange: str) -> dict[str, Any]:
    """One recorded file (skips when ../shared/data is absent)."""
    data: dict[str, Any] = json.loads((shared_dataset("ccxt-recorded") / f"{exchange}.json").read_text("utf-8"))
    return data


def case(exchange: str, method: str, description: str) -> dict[str, Any]:
    (found,) = [c for c in recorded(exchange)["methods"][method] if c["description"] == description]
    return found


class Replay:
    """A local HTTP server answering every GET with ``body`` (one recorded reply) and logging the paths."""

    def __init__(self) -> None:
        self.body: Any = None
        self.paths: list[str] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def handle(request: web.Request) -> web.Response:
            self.paths.append(request.path)
            return web.json_response(self.body)

        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def replay() -> AsyncIterator[Replay]:
    server = Replay()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def _rewrite(node: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(node, dict):
        return {k: _rewrite(v, fn) for k, v in node.items()}
    return fn(node) if isinstance(node, str) else node


def client(server: Replay, ccxt_id: str, exchange: str) -> Any:
    """The real ccxt class ``ccxt_id`` with the recorded markets of ``exchange`` and its URLs at ``server``."""
    data = recorded(exchange)
    ex = getattr(ccxt, ccxt_id)({"options": data["options"], "enableRateLimit": False})
    if exchange == "binance":  # binance's static markets store precision as decimal places (README caveat)
        ex.precisionMode = ccxt.DECIMAL_PLACES
    ex.set_markets(list(data["markets"]["entries"].values()))
    ex.urls["api"] = _rewrite(ex.urls["api"],
                              lambda url: re.sub(r"^https://[^/]+", f"http://127.0.0.1:{server.port}", url))
    return ex


OHLCV = [  # (recorded file, case, ccxt class our source would use)
    ("binance", "Spot OHLCV with since and limit", "binance"),
    ("binance", "inverse index price", "binance"),
    ("binance", "swap ohlcv", "binance"),
    ("binance", "swap ohlcv", "binanceusdm"),  # the production path: raw fapi klines with taker-buy volume
    ("bybit", "swap ohlcv with since and limit", "bybit"),
    ("okx", "spot ohlcv with limit and since", "okx"),
]


@pytest.mark.parametrize(("exchange", "description", "ccxt_id"), OHLCV)
async def test_candles_parse_to_ccxts_recorded_result(replay: Replay, exchange: str, description: str,
                                                      ccxt_id: str) -> None:
    c = case(exchange, "fetchOHLCV", description)
    symbol, timeframe = c["input"][0], c["input"][1]
    want = np.array(c["parsedResponse"], dtype=np.float64)
    tf = TIMEFRAME_MS[timeframe]
    replay.body = c["httpResponse"]
    ex = client(replay, ccxt_id, exchange)
    try:
        got = await fetch_candles(ex, ex.market(symbol), timeframe, int(want[0, 0]), int(want[-1, 0]) + tf, NO_WAIT)
    finally:
        await ex.close()
    np.testing.assert_array_equal(got.timestamp, want[:, 0].astype(np.int64))
    np.testing.assert_allclose(np.vstack([got.open, got.high, got.low, got.close, got.volume]).T, want[:, 1:6],
                               rtol=1e-12)
    if ccxt_id == "binanceusdm":
        assert replay.paths == ["/fapi/v1/klines"]
        raw = {int(r[0]): float(r[9]) for r in c["httpResponse"]}
        np.testing.assert_array_equal(got.taker_buy_volume, [raw[int(t)] for t in got.timestamp])
    else:
        assert np.isnan(got.taker_buy_volume).all()


@pytest.mark.parametrize("description", ["linear OI", "inverse OI"])
async def test_bybit_open_interest_through_the_history_fetch(replay: Replay, description: str) -> None:
    """Bybit's OI history is the recorded ``/v5/market/open-interest`` endpoint, so ``fetch_open_interest`` runs."""
    c = case("bybit", "fetchOpenInterest", description)
    want = c["parsedResponse"]
    replay.body = c["httpResponse"]
    ex = client(replay, "bybit", "bybit")
    market = ex.market(c["input"][0])
    price = 97_000.0
    try:
        ts, usd = await fetch_open_interest(ex, market, "1h", want["timestamp"], want["timestamp"] + HOUR, NO_WAIT,
                                            lambda _t: price)
    finally:
        await ex.close()
    assert set(replay.paths) == {"/v5/market/open-interest"}
    assert ts.tolist() == [want["timestamp"]]
    if market["inverse"]:  # contracts of 1 USD: the value is already USD
        assert want["openInterestAmount"] is None
        assert usd.tolist() == pytest.approx([want["openInterestValue"]])
    else:  # BTC priced at the candle close
        assert usd.tolist() == pytest.approx([want["openInterestAmount"] * market["contractSize"] * price])


async def test_okx_current_open_interest_in_usd(replay: Replay) -> None:
    c = case("okx", "fetchOpenInterest", "linear oi")
    want = c["parsedResponse"]
    replay.body = c["httpResponse"]
    ex = client(replay, "okx", "okx")
    market = ex.market(c["input"][0])
    try:
        got = await ex.fetch_open_interest(c["input"][0])
    finally:
        await ex.close()
    for key in ("timestamp", "openInterestAmount", "openInterestValue", "baseVolume"):
        assert got[key] == pytest.approx(want[key])
    assert oi_usd(got, market, lambda _t: float("nan")) == pytest.approx(want["openInterestValue"])
    # without the USD value: contracts × contract size (0.01 BTC) × price
    amount_only = {**got, "openInterestValue": None}
    assert oi_usd(amount_only, market, lambda _t: 60_000.0) == pytest.approx(
        want["openInterestAmount"] * market["contractSize"] * 60_000.0)


@pytest.mark.parametrize(("method", "description"), [("fetchFundingRate", "fetchFundingRate"),
                                                      ("fetchFundingRates", "fetchFundingRates")])
async def test_bybit_funding_rate_parses_to_the_recorded_rate(replay: Replay, method: str, description: str) -> None:
    c = case("bybit", method, description)
    parsed = c["parsedResponse"]
    want = list(parsed.values()) if method == "fetchFundingRates" else [parsed]
    replay.body = c["httpResponse"]
    ex = client(replay, "bybit", "bybit")
    try:
        got = await getattr(ex, method)(*c["input"])
    finally:
        await ex.close()
    rows = list(got.values()) if isinstance(got, dict) and method == "fetchFundingRates" else [got]
    ts, rate = funding_arrays(rows)
    assert ts.tolist() == [w["timestamp"] for w in want]
    assert rate.tolist() == pytest.approx([w["fundingRate"] for w in want])


async def test_funding_history_fetch_reads_the_same_structures(replay: Replay) -> None:
    """``fetch_funding`` over Bybit's ticker reply is not an endpoint it uses; what is shared is the structure ccxt
    returns, so the history fetch is run on a page whose rows have the recorded rate and settlement time."""
    c = case("bybit", "fetchFundingRate", "fetchFundingRate")
    raw = c["httpResponse"]["result"]["list"][0]
    settle = int(raw["nextFundingTime"]) - 8 * HOUR
    replay.body = {"retCode": 0, "retMsg": "OK", "retExtInfo": {}, "time": c["parsedResponse"]["timestamp"],
                   "result": {"category": "linear", "list": [
                       {"symbol": raw["symbol"], "fundingRate": raw["fundingRate"],
                        "fundingRateTimestamp": str(settle)}]}}
    ex = client(replay, "bybit", "bybit")
    try:
        ts, rate = await fetch_funding(ex, ex.market("BTC/USDT:USDT"), settle, settle + 1, NO_WAIT)
    finally:
        await ex.close()
    assert set(replay.paths) == {"/v5/market/funding/history"}
    assert ts.tolist() == [settle] and rate.tolist() == [c["parsedResponse"]["fundingRate"]]


# ---- the stand-in's hand-written replies in the recorded shapes ----------------------------------------------

def shape(value: Any) -> Any:
    """Keys, nesting and scalar types of a JSON value: a list of scalars (a kline row) position by position, a list
    of rows by its first row (all rows must agree)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        rows = [shape(v) for v in value]
        if not any(isinstance(v, dict | list) for v in value):
            return rows
        assert all(r == rows[0] for r in rows), f"rows of different shapes: {rows}"
        return rows[:1]
    return type(value).__name__


# Stand-in route ↔ recorded case answering the same request path. Envelopes (Bybit ``retCode``/``time``) are
# compared by keys only: the recordings themselves disagree on their types (``"0"`` in the kline reply, ``0`` in
# the open-interest one); payloads (``result`` / ``data`` / the bare list) are compared key by key and type by type.
ENDPOINTS = [
    ("binanceusdm", "/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": "3"},
     "binance", "fetchOHLCV", "swap ohlcv", None),
    ("bybit", "/v5/market/kline", {"symbol": "BTCUSDT", "category": "linear", "interval": "60", "limit": "3"},
     "bybit", "fetchOHLCV", "swap ohlcv with since and limit", "result"),
    ("bybit", "/v5/market/open-interest", {"symbol": "BTCUSDT", "category": "linear", "intervalTime": "1h",
                                           "limit": "3"},
     "bybit", "fetchOpenInterest", "linear OI", "result"),
    ("bybit", "/v5/market/open-interest", {"symbol": "BTCUSD", "category": "inverse", "intervalTime": "1h",
                                           "limit": "3"},
     "bybit", "fetchOpenInterest", "inverse OI", "result"),
    ("okx", "/api/v5/market/history-candles", {"instId": "BTC-USDT-SWAP", "bar": "1H", "limit": "3"},
     "okx", "fetchOHLCV", "spot ohlcv with limit and since", "data"),
    ("okx", "/api/v5/market/candles", {"instId": "BTC-USDT-SWAP", "bar": "1H", "limit": "3"},
     "okx", "fetchOHLCV", "spot ohlcv with limit and since", "data"),
]


@pytest.mark.parametrize(("stand_in_id", "path", "query", "exchange", "method", "description", "payload"), ENDPOINTS)
def test_stand_in_replies_have_the_recorded_shape(stand_in_id: str, path: str, query: dict[str, str],
                                                  exchange: str, method: str, description: str,
                                                  payload: str | None) -> None:
    now = 1_767_225_600_000
    status, body = ROUTES[(stand_in_id, path)](Tape(start_ms=now - 2 * DAY, now_ms=now), query)
    real = case(exchange, method, description)["httpResponse"]
    assert status == 200
    if payload is None:
        assert shape(body) == shape(real)
    else:
        assert set(body) == set(real)
        assert shape(body[payload]) == shape(real[payload])


INSTRUMENTS = [  # fixture, the record in it, recorded exchange and symbol
    ("binanceusdm_exchange_info.json", lambda d: d["symbols"][0], "binance", "BTC/USDT:USDT"),
    ("bybit_instruments_linear.json", lambda d: d["result"]["list"][0], "bybit", "BTC/USDT:USDT"),
    ("bybit_instruments_inverse.json", lambda d: d["result"]["list"][0], "bybit", "BTC/USD:BTC"),
    ("okx_instruments_swap.json", lambda d: d["data"][0], "okx", "BTC/USDT:USDT"),
]


@pytest.mark.parametrize(("name", "pick", "exchange", "symbol"), INSTRUMENTS)
def test_instrument_fixtures_have_every_recorded_field(name: str, pick: Callable[[Any], dict[str, Any]],
                                                      exchange: str, symbol: str) -> None:
    """The recorded markets keep each instrument record in ``info``. Only keys are compared: ccxt's static markets
    file stores every number of ``info`` as a string (Binance ``pricePrecision`` ``"2"``, Bybit ``fundingInterval``
    ``"480"``), which the exchanges send as numbers. Extra fixture keys are fields newer than the recording."""
    record = pick(json.loads((FIXTURES / name).read_text(encoding="utf-8")))
    info = recorded(exchange)["markets"]["entries"][symbol]["info"]
    assert set(info) - set(record) == set()
