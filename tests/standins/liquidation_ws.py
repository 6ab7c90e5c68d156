"""A local stand-in for the public liquidation websockets of Bybit v5 (``allLiquidation.BTCUSDT``), Binance USD-M
(``btcusdt@forceOrder``) and OKX v5 (``liquidation-orders``), speaking each one's wire format: subscription
acknowledgements, application-level pings (Bybit ``{"op": "ping"}``, OKX ``"ping"``) and the data frames ccxt.pro
parses. ccxt is pointed at it through ``urls.api.ws`` (``ws_urls``). Tests push frames, drop connections and send
malformed frames; every subscription is recorded and signalled (no sleeping: tests await ``subscribed``).
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

BYBIT_PATH = "/bybit/v5/public/linear"
OKX_PATH = "/okx/ws/v5/public"


def ws_urls(exchange: str, port: int) -> Any:
    """ccxt.pro ``urls.api.ws`` of ``exchange`` pointing at this stand-in (deep-merged over ccxt's own)."""
    base = f"ws://127.0.0.1:{port}/{exchange}"
    if exchange == "bybit":
        return {"public": {"linear": base + "/v5/public/linear"}}
    if exchange == "okx":
        return base + "/ws/v5"  # ccxt appends /public
    return {"linear": base + "/ws"}  # binance: ccxt rewrites it to /market/ws/<stream index>


def bybit_frame(events: list[dict[str, Any]], symbol: str = "BTCUSDT") -> dict[str, Any]:
    """Bybit v5 ``allLiquidation`` push: ``events`` of {"T": ms, "s", "S": "Buy"|"Sell" (position side), "v", "p"}."""
    ts = max((int(e["T"]) for e in events), default=0)
    return {"topic": f"allLiquidation.{symbol}", "type": "snapshot", "ts": ts + 5, "data": events}


def bybit_event(ts: int, side: str, size: str, price: str, symbol: str = "BTCUSDT") -> dict[str, Any]:
    """One Bybit ``allLiquidation`` entry (strings as Bybit sends them)."""
    return {"T": ts, "s": symbol, "S": side, "v": size, "p": price}


def okx_frame(ts: int, side: str, pos_side: str, contracts: str, bk_px: str,
              inst_id: str = "BTC-USDT-SWAP", more: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """OKX ``liquidation-orders`` push with one (or more) ``details`` entries (``side`` is the order side)."""
    detail = {"bkLoss": "0", "bkPx": bk_px, "ccy": "", "posSide": pos_side, "side": side, "sz": contracts,
              "ts": str(ts)}
    return {
        "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
        "data": [{"details": [detail, *(more or [])], "instFamily": "BTC-USDT", "instId": inst_id,
                  "instType": "SWAP", "uly": "BTC-USDT"}],
    }


@dataclass
class LiquidationWsServer:
    """The stand-in: one aiohttp app, three exchanges' routes, a free local port."""

    port: int = 0
    connects: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    subscriptions: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    _open: dict[str, list[web.WebSocketResponse]] = field(default_factory=lambda: defaultdict(list))
    _subscribed: dict[str, asyncio.Condition] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on 127.0.0.1 at a free port."""
        app = web.Application()
        app.router.add_get(BYBIT_PATH, self._bybit)
        app.router.add_get("/binanceusdm/market/ws/{stream}", self._binance)
        app.router.add_get(OKX_PATH, self._okx)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        """Close every connection and stop listening."""
        for conns in self._open.values():
            for ws in list(conns):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _cond(self, exchange: str) -> asyncio.Condition:
        return self._subscribed.setdefault(exchange, asyncio.Condition())

    async def subscribed(self, exchange: str, times: int = 1, timeout_s: float = 10.0) -> None:
        """Wait until ``exchange`` has received at least ``times`` subscribe requests in all (a bounded wait)."""
        cond = self._cond(exchange)
        async with cond:
            await asyncio.wait_for(cond.wait_for(lambda: len(self.subscriptions[exchange]) >= times), timeout_s)

    async def _note_subscription(self, exchange: str, what: Any, ws: web.WebSocketResponse) -> None:
        self.subscriptions[exchange].append(what)
        if ws not in self._open[exchange]:
            self._open[exchange].append(ws)
        cond = self._cond(exchange)
        async with cond:
            cond.notify_all()

    async def push(self, exchange: str, frame: Any) -> int:
        """Send ``frame`` (a dict as JSON, a str verbatim) on every subscribed connection of ``exchange``; returns
        how many connections got it."""
        text = frame if isinstance(frame, str) else json.dumps(frame)
        sent = 0
        for ws in list(self._open[exchange]):
            if not ws.closed:
                await ws.send_str(text)
                sent += 1
        return sent

    async def drop(self, exchange: str) -> None:
        """Close every connection of ``exchange`` from the server side (a dropped connection)."""
        for ws in list(self._open[exchange]):
            await ws.close(code=1011, message=b"stand-in dropped the connection")
        self._open[exchange].clear()

    async def _serve(self, request: web.Request, exchange: str, on_text: Any) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connects[exchange] += 1
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await on_text(ws, msg.data)
        finally:
            if ws in self._open[exchange]:
                self._open[exchange].remove(ws)
        return ws

    async def _bybit(self, request: web.Request) -> web.WebSocketResponse:
        async def on_text(ws: web.WebSocketResponse, data: str) -> None:
            msg = json.loads(data)
            op = msg.get("op")
            if op == "ping":
                await ws.send_json({"success": True, "ret_msg": "pong", "conn_id": "standin", "req_id":
                                    msg.get("req_id", ""), "op": "ping"})
            elif op == "subscribe":
                await ws.send_json({"success": True, "ret_msg": "", "conn_id": "standin",
                                    "req_id": msg.get("req_id", ""), "op": "subscribe"})
                await self._note_subscription("bybit", msg.get("args"), ws)

        return await self._serve(request, "bybit", on_text)

    async def _binance(self, request: web.Request) -> web.WebSocketResponse:
        async def on_text(ws: web.WebSocketResponse, data: str) -> None:
            msg = json.loads(data)
            if msg.get("method") == "SUBSCRIBE":
                await ws.send_json({"result": None, "id": msg.get("id")})
                await self._note_subscription("binanceusdm", msg.get("params"), ws)

        return await self._serve(request, "binanceusdm", on_text)

    async def _okx(self, request: web.Request) -> web.WebSocketResponse:
        async def on_text(ws: web.WebSocketResponse, data: str) -> None:
            if data == "ping":
                await ws.send_str("pong")
                return
            msg = json.loads(data)
            if msg.get("op") == "subscribe":
                for arg in msg.get("args", []):
                    await ws.send_json({"event": "subscribe", "arg": arg, "connId": "standin"})
                await self._note_subscription("okx", msg.get("args"), ws)

        return await self._serve(request, "okx", on_text)
