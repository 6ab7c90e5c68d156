"""The exchange stand-in with malformed answers: garbage bodies and rows with missing fields, per exchange and path.

``garble(exchange, path_end, mode)`` makes every later request of ``exchange`` whose path ends with ``path_end``
answer 200 with: ``'garbage'`` a body that is not JSON; ``'empty'`` an empty JSON object; ``'short_rows'`` the
real answer with every row cut to its timestamp (fields missing); ``'null_close'`` the real rows with the close
set to null; ``'hang'`` no answer for a minute (a stalled connection). ``heal(exchange)`` removes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, cast

from aiohttp import web

from tests.standins.exchange_server import ExchangeServer

MODES = ("garbage", "empty", "short_rows", "null_close")  # the malformed answers
HANG_S = 60.0


def _rows(body: Any) -> list[Any] | None:
    """The list of rows inside an exchange answer (Binance: the body; Bybit: result.list; OKX: data)."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        if isinstance(body.get("data"), list):
            return cast(list[Any], body["data"])  # the same list: rows are edited in place
        result = body.get("result")
        if isinstance(result, dict) and isinstance(result.get("list"), list):
            return cast(list[Any], result["list"])
    return None


@dataclass
class FaultyExchangeServer(ExchangeServer):
    """``ExchangeServer`` plus scripted malformed 200 answers."""

    garbled: dict[tuple[str, str], str] = field(default_factory=dict)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    async def close(self) -> None:
        self._closing.set()  # end the stalls first: the server waits for its open requests
        await super().close()

    def garble(self, exchange: str, path_end: str, mode: str) -> None:
        """Answer requests of ``exchange`` whose path ends with ``path_end`` in ``mode`` (see the module doc)."""
        assert mode in (*MODES, "hang"), mode
        self.garbled[(exchange, path_end)] = mode

    def heal(self, exchange: str) -> None:
        """Answer ``exchange`` normally again."""
        self.garbled = {k: v for k, v in self.garbled.items() if k[0] != exchange}

    async def _handle(self, request: web.Request) -> web.Response:
        response = await super()._handle(request)
        exchange, path = request.match_info["exchange"], "/" + request.match_info["tail"]
        mode = next((m for (e, end), m in self.garbled.items() if e == exchange and path.endswith(end)), None)
        if mode is None or response.status != 200:
            return response
        if mode == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), HANG_S)
            return response
        if mode == "garbage":
            return web.Response(status=200, text='{"retCode":0,"result":{"list":[["17', content_type="application/json")
        if mode == "empty":
            return web.json_response({})
        assert response.body is not None
        body = json.loads(bytes(response.body))  # type: ignore[arg-type]
        rows = _rows(body)
        for i, row in enumerate(rows or []):
            if isinstance(row, list):
                rows[i] = row[:1] if mode == "short_rows" else [*row[:4], None, *row[5:]]  # type: ignore[index]
        return web.json_response(body)
