"""Real liquidations, live: ccxt.pro's own ``watch_liquidations`` / ``watch_liquidations_for_symbols`` per exchange,
each in its own task with exponential backoff (and jitter) after errors and dropped connections, feeding one bounded
queue that a writer task drains into ``liquidation_events`` in batches (``asyncio.to_thread``). Nothing here ever
blocks the periodic job: a full queue drops the oldest events (counted), a database error delays the batch.

What differs between exchanges lives in ``STREAM_PROFILES`` (one entry per ccxt id): which ccxt method, whether the
feed's ``side`` is the liquidated position's (Bybit) or the liquidation order's (Binance, OKX: SELL = a long was
liquidated), whether totals are lower bounds (Binance pushes at most one liquidation per symbol per second), and which
raw fields hold what ccxt reads only partly. A malformed frame is logged and skipped: ccxt's websocket client would
otherwise stop reading the connection for good (an exception in its receive callback ends its receive loop).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, Protocol

import ccxt.pro as ccxtpro

from bot.clock import wall_ms
from bot.market.exchanges import profile_for
from bot.storage.liquidations import LiqRow

log = logging.getLogger(__name__)

LOOKBACK_MS = 60_000  # a message may arrive this much after a newer one and still be stored


@dataclass(frozen=True)
class StreamProfile:
    """How one exchange's liquidation feed is read.

    - ``method``: ``"for_symbols"`` (one ``watch_liquidations_for_symbols`` for all symbols) or ``"per_symbol"``
      (``watch_liquidations`` per symbol, on one connection).
    - ``side_is_position``: the feed's side is the liquidated position's (Buy = a long was liquidated); otherwise
      it is the liquidation order's (sell = a long was liquidated).
    - ``lower_bound``: the feed is throttled, so its sums are lower bounds.
    - ``filled_key``: raw field holding the order's filled amount, when ccxt reads only the last fill.
    - ``details_key``: raw field listing several liquidations in one message, when ccxt parses only the first.
    """

    method: Literal["for_symbols", "per_symbol"] = "for_symbols"
    side_is_position: bool = False
    lower_bound: bool = False
    filled_key: str | None = None
    details_key: str | None = None


STREAM_PROFILES: Mapping[str, StreamProfile] = MappingProxyType({
    "bybit": StreamProfile(method="per_symbol", side_is_position=True),  # allLiquidation: every liquidation
    "binanceusdm": StreamProfile(lower_bound=True, filled_key="z"),  # forceOrder: <= 1 per symbol per second
    "okx": StreamProfile(details_key="details"),
})


def stream_profile(exchange_id: str) -> StreamProfile | None:
    """The liquidation-feed profile of a ccxt id; None when the bot has none (the exchange is not listened to)."""
    return STREAM_PROFILES.get(exchange_id)


class StreamMetrics(Protocol):
    """What the watcher reports (``bot.ops.metrics.Metrics`` implements it)."""

    def record_liquidations_stored(self, exchange: str, n: int) -> None: ...

    def record_stream_reconnect(self, exchange: str) -> None: ...


def _number(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def to_rows(exchange: str, profile: StreamProfile, ex: Any, liquidation: Mapping[str, Any]) -> list[LiqRow]:
    """Our rows of one ccxt liquidation structure (one, or one per raw detail with ``details_key``), skipping
    invalid ones (logged). USD and base amount from ccxt's market (inverse contracts are USD-sized)."""
    info = liquidation.get("info") or {}
    parsed: list[Mapping[str, Any]] = [liquidation]
    details = info.get(profile.details_key) if profile.details_key and isinstance(info, dict) else None
    if isinstance(details, list) and len(details) > 1:  # ccxt parses only the first: parse each with ccxt itself
        parsed = [ex.parse_ws_liquidation({**info, profile.details_key: [d]}) for d in details]
    rows = []
    for item in parsed:
        row = _row(exchange, profile, ex, item)
        if row is None:
            log.warning("%s liquidation skipped (unusable fields): %.300r", exchange, item.get("info"))
        else:
            rows.append(row)
    return rows


def _row(exchange: str, profile: StreamProfile, ex: Any, item: Mapping[str, Any]) -> LiqRow | None:
    """One row, or None when a field is missing or not a positive finite number."""
    info = item.get("info") or {}
    market = (ex.markets or {}).get(item.get("symbol") or "")
    side = str(item.get("side") or "").lower()
    ts, price = item.get("timestamp"), _number(item.get("price"))
    contracts = _number(info.get(profile.filled_key)) if profile.filled_key and isinstance(info, dict) else math.nan
    if not math.isfinite(contracts):
        contracts = _number(item.get("contracts"))
    if market is None or side not in ("buy", "sell") or not isinstance(ts, int) or ts <= 0:
        return None
    size = _number(market.get("contractSize") or 1.0)
    if not (math.isfinite(price) and price > 0 and math.isfinite(contracts) and contracts > 0 and size > 0):
        return None
    if market.get("inverse"):  # contracts are USD-sized
        usd, amount = contracts * size, contracts * size / price
    else:
        amount = contracts * size
        usd = amount * price
    is_long = (side == "buy") if profile.side_is_position else (side == "sell")
    return LiqRow(exchange, str(item["symbol"]), ts, "long" if is_long else "short", price, amount, usd,
                  profile.lower_bound)


def guard_frames(ex: Any, on_bad: Callable[[BaseException], None]) -> None:
    """Make every websocket client of ``ex`` log and skip a frame that fails to decode or parse, instead of ending
    its receive loop (which leaves the connection open and silent)."""
    make_client = ex.client

    def client(url: str) -> Any:
        c = make_client(url)
        if not getattr(c, "_liqmap_guarded", False):
            handle = c.handle_message

            def guarded(message: Any) -> None:
                try:
                    handle(message)
                except Exception as exc:  # a malformed frame: skip it, keep reading
                    on_bad(exc)

            c.handle_message = guarded
            c._liqmap_guarded = True
        return c

    ex.client = client


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: the n-th consecutive failure waits uniform(0, min(cap, base·2^n)) s,
    at least ``floor_s``."""

    base_s: float = 1.0
    cap_s: float = 60.0
    floor_s: float = 0.5  # never more than ~2 connection attempts per second (OKX allows 3, Binance 1 per 0.2 s)

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures (>= 1)."""
        return max(self.floor_s, random.uniform(0.0, min(self.cap_s, self.base_s * 2 ** min(failures, 16))))


def pro_client(exchange_id: str, options: Mapping[str, Any] | None = None) -> Any:
    """``ccxt.pro.<exchange_id>`` with the profile's market options and the user's ``LIQMAP_EXCHANGE_OPTIONS``
    (e.g. ``urls.api.ws`` pointing at a proxy), deep-merged by ccxt over its defaults."""
    # newUpdates off: a watch returns ccxt's whole cache since a time, so that every liquidation of a message that
    # holds several (Bybit, OKX) is seen, not only the first one, which is all a new-updates future resolves with.
    config: dict[str, Any] = {"enableRateLimit": True, "timeout": 20_000, "newUpdates": False,
                              "options": profile_for(exchange_id).client_options()}
    config = {**config, **dict(options or {})}
    return getattr(ccxtpro, exchange_id)(config)


@dataclass
class ExchangeStream:
    """One exchange's listening loop (see ``LiquidationWatcher``)."""

    exchange: str
    profile: StreamProfile
    symbols: Sequence[str]
    put: Callable[[list[LiqRow]], None]
    options: Mapping[str, Any]
    metrics: StreamMetrics | None = None
    backoff: Backoff = Backoff()
    frames_skipped: int = 0
    connected_once: asyncio.Event | None = None
    listening_since_ms: int | None = None  # clock ms of the first delivery since the last error (None: not now)
    clock: Callable[[], int] = wall_ms

    def _bad_frame(self, exc: BaseException) -> None:
        self.frames_skipped += 1
        log.warning("%s liquidation feed: malformed frame skipped (%s: %.200s)", self.exchange, type(exc).__name__,
                    exc)

    async def run(self) -> None:
        """Listen until cancelled; every error or dropped connection is followed by a backoff, then a resubscribe."""
        ex = pro_client(self.exchange, self.options)
        guard_frames(ex, self._bad_frame)
        try:
            symbols = await self._symbols(ex)
            if self.profile.method == "per_symbol":
                await asyncio.gather(*(self._loop(ex, [s]) for s in symbols))
            else:
                await self._loop(ex, symbols)
        finally:
            await ex.close()

    async def _symbols(self, ex: Any) -> list[str]:
        """The tracked symbols the exchange lists as contracts (markets loaded with backoff until they load)."""
        failures = 0
        while True:
            try:
                await ex.load_markets()
                break
            except Exception as exc:
                failures += 1
                log.warning("%s liquidation feed: market list unavailable (%s); retrying", self.exchange, exc)
                await asyncio.sleep(self.backoff.delay(failures))
        listed = [s for s in self.symbols if (ex.markets.get(s) or {}).get("contract")]
        if not listed:
            log.warning("%s lists none of %s as a contract: its liquidation feed stays off", self.exchange,
                        ", ".join(self.symbols))
            await asyncio.Event().wait()  # idle until cancelled
        return listed

    async def _watch(self, ex: Any, symbols: list[str], since: int | None) -> list[Any]:
        """ccxt's cached liquidations of ``symbols`` at or after ``since`` (ms), once a new one has arrived."""
        if self.profile.method == "per_symbol":
            return list(await ex.watch_liquidations(symbols[0], since))
        return list(await ex.watch_liquidations_for_symbols(symbols, since))

    async def _loop(self, ex: Any, symbols: list[str]) -> None:
        failures = 0
        newest: int | None = None  # newest event time seen; the next watch returns the cache from a bit before it
        seen: set[LiqRow] = set()  # the rows of that lookback already queued (the cache returns them again)
        while True:
            try:
                batch = await self._watch(ex, symbols, None if newest is None else newest - LOOKBACK_MS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # dropped connection, timeout, exchange error: back off, then resubscribe
                self.listening_since_ms = None  # what was liquidated until the next delivery is unknown
                failures += 1
                if self.metrics is not None:
                    self.metrics.record_stream_reconnect(self.exchange)
                delay = self.backoff.delay(failures)
                log.warning("%s liquidation feed %s: %s: %.200s; reconnecting in %.1f s", self.exchange,
                            ",".join(symbols), type(exc).__name__, exc, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            if self.listening_since_ms is None:  # delivering again: complete from now on
                self.listening_since_ms = self.clock()
            rows = [r for liq in batch for r in to_rows(self.exchange, self.profile, ex, liq)
                    if r.symbol in symbols and r not in seen]
            if rows:
                newest = max(newest or 0, *(r.ts for r in rows))
                seen = {r for r in (*seen, *rows) if r.ts >= newest - LOOKBACK_MS}
                self.put(rows)
