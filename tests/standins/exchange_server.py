"""A local stand-in for the public REST APIs of Binance USD-M, Bybit v5 and OKX v5, speaking their wire format.

Static payloads (instrument lists, tier tables) are hand-written fixtures in ``tests/data/market``. History
(klines, open interest, funding) comes from ``Tape``, a deterministic market rendered row by row in each
exchange's real JSON shape and paged the way each exchange pages: Binance ascending from ``startTime``;
Bybit and OKX the *newest* ``limit`` rows of the range, newest first. Limits are capped at the real maxima.

ccxt is pointed at it by rewriting every ``https://host`` prefix in ``exchange.urls['api']`` to
``http://127.0.0.1:PORT/<exchange id>`` (see ``ExchangeServer.factory``), so requests go through ccxt's own
request signing, error mapping and parsing. Every request is logged; failure modes return 429/503 bodies.
"""

from __future__ import annotations

import json
import math
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import ccxt.async_support as ccxt
from aiohttp import web

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "market"
MIN = 60_000
HOUR = 3_600_000
DAY = 86_400_000
FUNDING_EVERY = 8 * HOUR
OKX_CT_VAL = 0.01  # BTC per BTC-USDT-SWAP contract
BINANCE_TF = {"1m": MIN, "5m": 5 * MIN, "15m": 15 * MIN, "30m": 30 * MIN, "1h": HOUR, "2h": 2 * HOUR,
              "4h": 4 * HOUR, "1d": DAY}
BYBIT_TF = {"1": MIN, "5": 5 * MIN, "15": 15 * MIN, "30": 30 * MIN, "60": HOUR, "120": 2 * HOUR, "240": 4 * HOUR,
            "D": DAY}
BYBIT_OI = {"5min": 5 * MIN, "15min": 15 * MIN, "30min": 30 * MIN, "1h": HOUR, "4h": 4 * HOUR, "1d": DAY}
OKX_TF = {"1m": MIN, "5m": 5 * MIN, "15m": 15 * MIN, "30m": 30 * MIN, "1H": HOUR, "2H": 2 * HOUR, "4H": 4 * HOUR,
          "1Dutc": DAY, "1D": DAY}
KNOWN_SYMBOLS = {"binanceusdm": {"BTCUSDT"}, "bybit": {"BTCUSDT", "BTCUSD"}, "okx": {"BTC-USDT-SWAP"}}


def fixture(name: str) -> Any:
    """One JSON fixture from tests/data/market."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def money(x: float) -> str:
    """Prices and volumes as exchanges send them: decimal strings."""
    return f"{x:.2f}"


def scaled(v: str, k: float, fmt: str = "{:.2f}") -> str:
    """A volume string ``v`` times ``k`` (e.g. base → quote volume); empty stays empty (unknown volume)."""
    return fmt.format(float(v) * k) if v else ""


@dataclass
class Tape:
    """A deterministic BTC market, available from ``start_ms`` to ``now_ms`` (both ms UTC)."""

    start_ms: int
    now_ms: int

    @staticmethod
    def price(t: int) -> float:
        """USD at instant ``t``: two slow waves around 60k."""
        return 60_000.0 + 2_000.0 * math.sin(t / (3.7 * DAY)) + 300.0 * math.sin(t / (5 * HOUR))

    def candle(self, t: int, tf: int) -> tuple[str, str, str, str, str, str]:
        """(open, high, low, close, volume BTC, taker-buy volume BTC) as strings for the candle opening at ``t``."""
        o, c = self.price(t), self.price(t + tf)
        vol = 40.0 + (t // tf) % 13
        return (money(o), money(max(o, c) + 15.0), money(min(o, c) - 15.0), money(c), money(vol),
                money(vol * 0.55))

    @staticmethod
    def oi_btc(t: int) -> float:
        """Open interest in BTC at ``t``."""
        return 80_000.0 + 5_000.0 * math.sin(t / (2.3 * DAY))

    @staticmethod
    def funding(t: int) -> str:
        """Funding rate settled at ``t`` (fraction)."""
        return f"{0.0001 + 0.00005 * math.sin(t / (4 * DAY)):.8f}"

    @staticmethod
    def long_short(t: int) -> float:
        """Accounts long over accounts short at ``t``."""
        return 1.5 + 0.3 * math.sin(t / (1.1 * DAY))

    def predicted_funding(self) -> str:
        """The rate the next settlement will charge, as predicted now."""
        return f"{0.00012 + 0.00003 * math.sin(self.now_ms / DAY):.8f}"

    def times(self, step: int, lo: int, hi: int) -> list[int]:
        """Ascending aligned instants in [max(lo, start), min(hi, now)]."""
        first = max(lo, self.start_ms)
        first = -(-first // step) * step
        last = min(hi, self.now_ms)
        return list(range(first, last + 1, step)) if last >= first else []

    def oi_times(self, step: int, lo: int, hi: int) -> list[int]:
        """Instants with an open-interest sample (every ``times`` instant here; a recorded tape may have gaps)."""
        return self.times(step, lo, hi)

    def funding_times(self, lo: int, hi: int) -> list[int]:
        """Funding settlements in [lo, hi] (every 8 h here)."""
        return self.times(FUNDING_EVERY, lo, hi)


@dataclass
class Logged:
    """One request the stand-in received."""

    exchange: str
    path: str
    query: dict[str, str]


@dataclass
class Failure:
    """Answer ``status`` to the next ``times`` requests of one exchange (``times=None``: forever)."""

    status: int
    times: int | None


def _int(q: dict[str, str], key: str, default: int | None = None) -> int | None:
    return int(q[key]) if q.get(key) not in (None, "") else default


def _newest(ts: list[int], limit: int) -> list[int]:
    """Bybit/OKX paging: the newest ``limit`` of ``ts``, newest first."""
    return list(reversed(ts[-limit:]))


@dataclass
class ExchangeServer:
    """The stand-in server. ``await start()`` (or ``async with``), use ``factory`` as CcxtSource's exchange factory,
    ``await close()``."""

    tape: Tape
    log: list[Logged] = field(default_factory=list)
    failures: dict[str, Failure] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on 127.0.0.1 at a free port."""
        app = web.Application()
        app.router.add_route("GET", "/{exchange}/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def fail(self, exchange: str, status: int, times: int | None = None) -> None:
        """Make the next ``times`` requests to ``exchange`` fail with ``status`` (429 or 5xx)."""
        self.failures[exchange] = Failure(status, times)

    def requests(self, exchange: str, path_end: str) -> list[Logged]:
        """Logged requests of ``exchange`` whose path ends with ``path_end``."""
        return [r for r in self.log if r.exchange == exchange and r.path.endswith(path_end)]

    def factory(self, exchange_id: str, config: dict[str, Any]) -> Any:
        """An ``ExchangeFactory``: the real ccxt class with its API URLs pointing here (or at a closed port for
        exchanges in ``refused``). The rate limiter stays on, at a 1 ms pace so tests stay fast."""
        ex = getattr(ccxt, exchange_id)({**config, "rateLimit": 1})
        port = closed_port() if exchange_id in self.refused else self.port
        ex.urls["api"] = local_urls(ex.urls["api"], exchange_id, port)
        return ex

    async def _handle(self, request: web.Request) -> web.Response:
        exchange = request.match_info["exchange"]
        path = "/" + request.match_info["tail"]
        query = dict(request.query)
        self.log.append(Logged(exchange, path, query))
        failure = self.failures.get(exchange)
        if failure is not None and failure.times != 0:
            if failure.times is not None:
                failure.times -= 1
            return _error(exchange, failure.status)
        handler = ROUTES.get((exchange, path))
        if handler is None:
            return web.json_response({"error": f"stand-in has no route {exchange} {path}"}, status=404)
        status, body = handler(self.tape, query)
        return web.json_response(body, status=status)


def _rewrite(node: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(node, dict):
        return {k: _rewrite(v, fn) for k, v in node.items()}
    if isinstance(node, str):
        return fn(node)
    return node


def local_urls(api_urls: Any, exchange_id: str, port: int) -> Any:
    """ccxt's ``urls["api"]`` tree with every ``https://host`` replaced by this machine's ``port`` (one path prefix
    per exchange, as the stand-in routes them)."""
    base = f"http://127.0.0.1:{port}/{exchange_id}"
    return _rewrite(api_urls, lambda url: re.sub(r"^https://[^/]+", base, url))


def closed_port() -> int:
    """A local port with nothing listening (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _error(exchange: str, status: int) -> web.Response:
    if exchange == "binanceusdm":
        body: Any = {"code": -1003, "msg": "Too many requests; current limit is 2400 requests per minute."}
    elif exchange == "bybit":
        body = {"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "retExtInfo": {}, "time": 0}
    else:
        body = {"code": "50011", "msg": "Rate limit reached. Please refer to API documentation and throttle requests.",
                "data": []}
    if status != 429:
        page = "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
        return web.Response(status=status, text=page, content_type="text/html")
    return web.json_response(body, status=status)


Reply = tuple[int, Any]


# ---- Binance USD-M (fapi) ----------------------------------------------------------------------------------

def _bn_symbol(q: dict[str, str]) -> Reply | None:
    if q.get("symbol") not in KNOWN_SYMBOLS["binanceusdm"]:
        return 400, fixture("binanceusdm_bad_symbol.json")
    return None


def bn_klines(tape: Tape, q: dict[str, str]) -> Reply:
    bad = _bn_symbol(q)
    if bad:
        return bad
    tf = BINANCE_TF[q["interval"]]
    limit = min(_int(q, "limit", 500) or 500, 1500)
    start, end = _int(q, "startTime"), _int(q, "endTime", tape.now_ms)
    ts = tape.times(tf, start if start is not None else 0, end or tape.now_ms)
    ts = ts[:limit] if start is not None else ts[-limit:]
    rows = []
    for t in ts:
        o, h, lo, c, v, tb = tape.candle(t, tf)
        rows.append([t, o, h, lo, c, v, t + tf - 1, scaled(v, float(c)), 1000 + (t // tf) % 97, tb,
                     scaled(tb, float(c)), "0"])
    return 200, rows


def bn_open_interest(tape: Tape, q: dict[str, str]) -> Reply:
    bad = _bn_symbol(q)
    if bad:
        return bad
    step = BINANCE_TF[q["period"]]
    limit = min(_int(q, "limit", 30) or 30, 500)
    lo = max(_int(q, "startTime", 0) or 0, tape.now_ms - 30 * DAY)  # Binance keeps one month
    ts = tape.oi_times(step, lo, _int(q, "endTime", tape.now_ms) or tape.now_ms)[-limit:]
    return 200, [{"symbol": q["symbol"], "sumOpenInterest": f"{tape.oi_btc(t):.8f}",
                  "sumOpenInterestValue": f"{tape.oi_btc(t) * tape.price(t):.8f}", "CMCCirculatingSupply": "19800000",
                  "timestamp": t} for t in ts]


def bn_funding(tape: Tape, q: dict[str, str]) -> Reply:
    bad = _bn_symbol(q)
    if bad:
        return bad
    limit = min(_int(q, "limit", 100) or 100, 1000)
    ts = tape.funding_times(_int(q, "startTime", 0) or 0, _int(q, "endTime", tape.now_ms) or tape.now_ms)
    return 200, [{"symbol": q["symbol"], "fundingTime": t, "fundingRate": tape.funding(t),
                  "markPrice": money(tape.price(t))} for t in ts[:limit]]


RATIO_STEP = 5 * 60_000


def bn_long_short(tape: Tape, q: dict[str, str]) -> Reply:
    bad = _bn_symbol(q)
    if bad:
        return bad
    ts = tape.times(RATIO_STEP, tape.now_ms - DAY, tape.now_ms)[-(_int(q, "limit", 30) or 30):]
    out = []
    for t in ts:
        r = tape.long_short(t)
        out.append({"symbol": q["symbol"], "longShortRatio": f"{r:.4f}", "longAccount": f"{r / (1 + r):.4f}",
                    "shortAccount": f"{1 / (1 + r):.4f}", "timestamp": t})
    return 200, out


def bn_premium_index(tape: Tape, q: dict[str, str]) -> Reply:
    bad = _bn_symbol(q)
    if bad:
        return bad
    p = money(tape.price(tape.now_ms))
    return 200, {"symbol": q["symbol"], "markPrice": p, "indexPrice": p, "estimatedSettlePrice": p,
                 "lastFundingRate": tape.predicted_funding(), "interestRate": "0.00010000",
                 "nextFundingTime": -(-tape.now_ms // FUNDING_EVERY) * FUNDING_EVERY, "time": tape.now_ms}


def bn_private(tape: Tape, q: dict[str, str]) -> Reply:
    return 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}


# ---- Bybit v5 -----------------------------------------------------------------------------------------------

def _bb(result: Any) -> Any:
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 1767225600000}


def _bb_symbol(q: dict[str, str]) -> Reply | None:
    if q.get("symbol") not in KNOWN_SYMBOLS["bybit"]:
        return 200, {"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {}, "retExtInfo": {},
                     "time": 1767225600000}
    return None


def bb_instruments(tape: Tape, q: dict[str, str]) -> Reply:
    return 200, fixture(f"bybit_instruments_{q.get('category', 'linear')}.json")


def bb_kline(tape: Tape, q: dict[str, str]) -> Reply:
    bad = _bb_symbol(q)
    if bad:
        return bad
    tf = BYBIT_TF[q["interval"]]
    limit = min(_int(q, "limit", 200) or 200, 1000)
    ts = _newest(tape.times(tf, _int(q, "start", 0) or 0, _int(q, "end", tape.now_ms) or tape.now_ms), limit)
    rows = []
    for t in ts:
        o, h, lo, c, v, _ = tape.candle(t, tf)
        rows.append([str(t), o, h, lo, c, v, scaled(v, float(c))])
    return 200, _bb({"symbol": q["symbol"], "category": q.get("category"), "list": rows})


def bb_open_interest(tape: Tape, q: dict[str, str]) -> Reply:
    bad = _bb_symbol(q)
    if bad:
        return bad
    step = BYBIT_OI[q["intervalTime"]]
    limit = min(_int(q, "limit", 50) or 50, 200)
    ts = _newest(tape.oi_times(step, _int(q, "startTime", 0) or 0, _int(q, "endTime", tape.now_ms) or tape.now_ms),
                 limit)
    rows = [{"openInterest": f"{tape.oi_btc(t):.8f}", "timestamp": str(t)} for t in ts]
    return 200, _bb({"symbol": q["symbol"], "category": q.get("category"), "list": rows, "nextPageCursor": ""})


def bb_funding(tape: Tape, q: dict[str, str]) -> Reply:
    bad = _bb_symbol(q)
    if bad:
        return bad
    limit = min(_int(q, "limit", 200) or 200, 200)
    ts = _newest(tape.funding_times(_int(q, "startTime", 0) or 0, _int(q, "endTime", tape.now_ms) or tape.now_ms),
                 limit)
    rows = [{"symbol": q["symbol"], "fundingRate": tape.funding(t), "fundingRateTimestamp": str(t)} for t in ts]
    return 200, _bb({"category": q.get("category"), "list": rows})


def bb_account_ratio(tape: Tape, q: dict[str, str]) -> Reply:
    bad = _bb_symbol(q)
    if bad:
        return bad
    ts = tape.times(RATIO_STEP, tape.now_ms - DAY, tape.now_ms)[-(_int(q, "limit", 50) or 50):]
    rows = [{"symbol": "BTCUSDT", "buyRatio": f"{tape.long_short(t) / (1 + tape.long_short(t)):.6f}",
             "sellRatio": f"{1 / (1 + tape.long_short(t)):.6f}", "timestamp": str(t)} for t in reversed(ts)]
    return 200, _bb({"list": rows, "nextPageCursor": ""})


def bb_risk_limit(tape: Tape, q: dict[str, str]) -> Reply:
    bad = _bb_symbol(q)
    if bad:
        return bad
    return 200, fixture("bybit_risk_limit_btcusdt.json")


# ---- OKX v5 -------------------------------------------------------------------------------------------------

def _okx(data: Any) -> Any:
    return {"code": "0", "msg": "", "data": data}


def _okx_symbol(q: dict[str, str]) -> Reply | None:
    if q.get("instId") not in KNOWN_SYMBOLS["okx"]:
        return 200, {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    return None


def _okx_range(tape: Tape, step: int, q: dict[str, str], lo_key: str, hi_key: str, limit: int,
               times: Callable[[int, int, int], list[int]] | None = None) -> list[int]:
    """OKX bounds are exclusive: rows with ``lo < ts < hi``; the newest ``limit`` first. ``times`` lists the
    instants that exist (default ``tape.times``)."""
    lo, hi = _int(q, lo_key), _int(q, hi_key)
    ts = (times or tape.times)(step, (lo + 1) if lo is not None else 0, (hi - 1) if hi is not None else tape.now_ms)
    return _newest(ts, limit)


def okx_instruments(tape: Tape, q: dict[str, str]) -> Reply:
    return 200, fixture("okx_instruments_swap.json") if q.get("instType") == "SWAP" else _okx([])


def _okx_candles(tape: Tape, q: dict[str, str], recent_only: bool) -> Reply:
    bad = _okx_symbol(q)
    if bad:
        return bad
    tf = OKX_TF[q["bar"]]
    limit = min(_int(q, "limit", 100) or 100, 300)
    ts = _okx_range(tape, tf, q, "before", "after", limit)
    if recent_only:  # /market/candles keeps only the latest 1,440 bars
        ts = [t for t in ts if t > tape.now_ms - 1440 * tf]
    rows = []
    for t in ts:
        o, h, lo, c, v, _ = tape.candle(t, tf)
        contracts = scaled(v, 1 / OKX_CT_VAL, "{:.0f}")
        confirmed = "1" if t + tf <= tape.now_ms else "0"
        rows.append([str(t), o, h, lo, c, contracts, v, scaled(v, float(c)), confirmed])
    return 200, _okx(rows)


def okx_candles(tape: Tape, q: dict[str, str]) -> Reply:
    return _okx_candles(tape, q, recent_only=True)


def okx_history_candles(tape: Tape, q: dict[str, str]) -> Reply:
    return _okx_candles(tape, q, recent_only=False)


def okx_open_interest(tape: Tape, q: dict[str, str]) -> Reply:
    bad = _okx_symbol(q)
    if bad:
        return bad
    step = OKX_TF[q.get("period", "5m")]
    limit = min(_int(q, "limit", 100) or 100, 100)
    ts = _okx_range(tape, step, q, "begin", "end", limit, tape.oi_times)
    rows = [[str(t), f"{tape.oi_btc(t) / OKX_CT_VAL:.2f}", f"{tape.oi_btc(t):.4f}",
             f"{tape.oi_btc(t) * tape.price(t):.2f}"] for t in ts]
    return 200, _okx(rows)


def okx_funding(tape: Tape, q: dict[str, str]) -> Reply:
    bad = _okx_symbol(q)
    if bad:
        return bad
    limit = min(_int(q, "limit", 100) or 100, 100)
    ts = _okx_range(tape, FUNDING_EVERY, q, "before", "after", limit, lambda _step, lo, hi: tape.funding_times(lo, hi))
    return 200, _okx([{"fundingRate": tape.funding(t), "fundingTime": str(t), "instId": q["instId"],
                       "instType": "SWAP", "method": "current_period", "formulaType": "noRate",
                       "realizedRate": tape.funding(t)} for t in ts])


def okx_long_short(tape: Tape, q: dict[str, str]) -> Reply:
    bad = _okx_symbol(q)
    if bad:
        return bad
    ts = tape.times(RATIO_STEP, tape.now_ms - DAY, tape.now_ms)[-(_int(q, "limit", 100) or 100):]
    return 200, _okx([[str(t), f"{tape.long_short(t):.6f}"] for t in reversed(ts)])


def okx_funding_rate(tape: Tape, q: dict[str, str]) -> Reply:
    bad = _okx_symbol(q)
    if bad:
        return bad
    nxt = -(-tape.now_ms // FUNDING_EVERY) * FUNDING_EVERY
    return 200, _okx([{"instType": "SWAP", "instId": "BTC-USDT-SWAP", "fundingRate": tape.predicted_funding(),
                       "fundingTime": str(nxt), "nextFundingRate": "", "nextFundingTime": str(nxt + FUNDING_EVERY),
                       "ts": str(tape.now_ms)}])


def okx_position_tiers(tape: Tape, q: dict[str, str]) -> Reply:
    if q.get("instFamily") != "BTC-USDT":
        return 200, {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    return 200, fixture("okx_position_tiers_btc_usdt.json")


ROUTES: dict[tuple[str, str], Callable[[Tape, dict[str, str]], Reply]] = {
    ("binanceusdm", "/fapi/v1/exchangeInfo"): lambda tape, q: (200, fixture("binanceusdm_exchange_info.json")),
    ("binanceusdm", "/fapi/v1/klines"): bn_klines,
    ("binanceusdm", "/futures/data/openInterestHist"): bn_open_interest,
    ("binanceusdm", "/fapi/v1/fundingRate"): bn_funding,
    ("binanceusdm", "/fapi/v1/leverageBracket"): bn_private,
    ("binanceusdm", "/futures/data/globalLongShortAccountRatio"): bn_long_short,
    ("binanceusdm", "/fapi/v1/premiumIndex"): bn_premium_index,
    ("bybit", "/v5/market/account-ratio"): bb_account_ratio,
    ("bybit", "/v5/market/instruments-info"): bb_instruments,
    ("bybit", "/v5/market/kline"): bb_kline,
    ("bybit", "/v5/market/open-interest"): bb_open_interest,
    ("bybit", "/v5/market/funding/history"): bb_funding,
    ("bybit", "/v5/market/risk-limit"): bb_risk_limit,
    ("okx", "/api/v5/public/instruments"): okx_instruments,
    ("okx", "/api/v5/market/candles"): okx_candles,
    ("okx", "/api/v5/market/history-candles"): okx_history_candles,
    ("okx", "/api/v5/rubik/stat/contracts/open-interest-history"): okx_open_interest,
    ("okx", "/api/v5/public/funding-rate-history"): okx_funding,
    ("okx", "/api/v5/public/position-tiers"): okx_position_tiers,
    ("okx", "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract"): okx_long_short,
    ("okx", "/api/v5/public/funding-rate"): okx_funding_rate,
}
