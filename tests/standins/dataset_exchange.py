"""The exchange stand-in serving a REAL recorded dataset (``../shared/data/<name>``, the dataset format of
docs/datasets.md) through the routes of ``exchange_server``: Binance USD-M, Bybit v5 and OKX v5 all answer with the
same recorded market, each in its own wire format and units (OKX volume and open interest in 0.01 BTC contracts,
Bybit open interest in BTC, Binance in BTC and USD). Nothing is invented: candles, open interest and funding are the
recorded rows (coarser candles are aggregated from them), instants the recording lacks are not served (its open
interest gap stays a gap) and an unknown volume is sent as an empty string.

``DatasetExchangeServer`` adds faults in *market* time, which the stand-in reads from each request's upper bound
(``endTime``/``end``/``after``/``until``, whatever the exchange calls it):

- ``outage(exchanges, lo_ms, hi_ms, status)``: requests of those exchanges whose end falls in ``[lo_ms, hi_ms)``
  are answered ``status`` (a 503 page by default): the exchange is down for that stretch of market time;
- ``storm(lo_ms, hi_ms, first=1)``: every distinct request whose end falls in the window is answered 429 (each
  exchange's own rate-limit body) the first ``first`` times it is asked, then served: a 429 storm that retries ride.

Requests without an upper bound (market lists, tier tables) are never failed by these windows. Every answer is
logged with its wall time (``perf_counter``), market end and status (``answers``).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from aiohttp import web

from bot.market.replay import load_dataset
from bot.market.types import MarketSeries
from tests.standins.exchange_server import FUNDING_EVERY, ExchangeServer, Tape, _error

END_KEYS = ("endTime", "end", "after", "until")  # a request's upper bound, as each exchange spells it


def _num(x: float) -> str:
    """A recorded number as an exchange sends it: a decimal string, empty when unknown (NaN)."""
    return "" if not np.isfinite(x) else f"{x:.2f}"


@dataclass
class DatasetTape(Tape):
    """A ``Tape`` over one recorded ``MarketSeries`` (candles of ``base_ms``, OI in USD, funding); times ms UTC."""

    series: MarketSeries = field(default=None)  # type: ignore[assignment]
    base_ms: int = 300_000

    @classmethod
    def load(cls, directory: str | Path) -> DatasetTape:
        """The tape of a dataset directory: available from its first candle to its last close."""
        series = load_dataset(directory)
        return cls(start_ms=int(series.timestamp[0]), now_ms=series.last_close_time, series=series,
                   base_ms=series.timeframe_ms)

    # ---- lookups ---------------------------------------------------------------------------------------------
    def price(self, t: int) -> float:  # type: ignore[override]
        """USD at instant ``t``: the close of the newest recorded candle that had closed by ``t`` (the open of the
        first one before that)."""
        s = self.series
        i = int(np.searchsorted(s.timestamp + self.base_ms, t, side="right")) - 1
        return float(s.close[i]) if i >= 0 else float(s.open[0])

    def candle(self, t: int, tf: int) -> tuple[str, str, str, str, str, str]:
        """(open, high, low, close, volume BTC, taker-buy BTC) of the recorded candles opening in ``[t, t + tf)``."""
        s = self.series
        i, j = np.searchsorted(s.timestamp, [t, t + tf])
        if j <= i:
            raise KeyError(f"no recorded candle in [{t}, {t + tf})")
        vol, taker = s.volume[i:j], s.taker_buy_volume[i:j]
        return (_num(float(s.open[i])), _num(float(s.high[i:j].max())), _num(float(s.low[i:j].min())),
                _num(float(s.close[j - 1])), _num(float(vol.sum()) if np.isfinite(vol).all() else np.nan),
                _num(float(taker.sum()) if np.isfinite(taker).all() else np.nan))

    def oi_btc(self, t: int) -> float:  # type: ignore[override]
        """Recorded open interest at ``t`` in BTC (the recording's USD over the price at ``t``)."""
        s = self.series
        k = int(np.searchsorted(s.oi_timestamp, t))
        return float(s.oi_usd[k]) / self.price(t)

    def funding(self, t: int) -> str:  # type: ignore[override]
        """The recorded funding rate settled at ``t``."""
        s = self.series
        k = int(np.searchsorted(s.funding_timestamp, t))
        return f"{float(s.funding_rate[k]):.8f}"

    # ---- which instants exist --------------------------------------------------------------------------------
    def times(self, step: int, lo: int, hi: int) -> list[int]:
        """Candle open times on the ``step`` grid in ``[lo, hi]`` whose whole span was recorded and closed by now."""
        s = self.series
        grid = super().times(step, lo, hi)
        if step % self.base_ms or not grid:
            return []
        want = np.asarray(grid, dtype=np.int64)
        first = np.searchsorted(s.timestamp, want)
        last = np.searchsorted(s.timestamp, want + step) - 1  # index of the last base candle in [t, t + step)
        n = step // self.base_ms
        ok = (last - first + 1 == n) & (want + step <= self.now_ms)
        return [int(t) for t in want[ok]]

    def oi_times(self, step: int, lo: int, hi: int) -> list[int]:
        """Recorded open-interest instants on the ``step`` grid in ``[lo, hi]`` (the recording's gaps stay gaps)."""
        ts = self.series.oi_timestamp
        ts = ts[(ts >= lo) & (ts <= min(hi, self.now_ms)) & (ts % step == 0)]
        return [int(t) for t in ts]

    def funding_times(self, lo: int, hi: int) -> list[int]:
        """Recorded funding settlements in ``[lo, hi]``."""
        ts = self.series.funding_timestamp
        return [int(t) for t in ts[(ts >= lo) & (ts <= min(hi, self.now_ms))]]


def request_end(query: dict[str, str]) -> int | None:
    """The market time (UTC ms) a history request reaches up to, from its upper bound; None when it has none."""
    for key in END_KEYS:
        value = query.get(key)
        if value not in (None, ""):
            try:
                return int(value)
            except ValueError:
                return None
    return None


@dataclass(frozen=True)
class Outage:
    """Requests of ``exchanges`` whose market end is in ``[lo_ms, hi_ms)`` are answered ``status``."""

    exchanges: tuple[str, ...]
    lo_ms: int
    hi_ms: int
    status: int = 503


@dataclass(frozen=True)
class Storm:
    """Every distinct request whose market end is in ``[lo_ms, hi_ms)`` is answered 429 its first ``first`` times."""

    lo_ms: int
    hi_ms: int
    first: int = 1


@dataclass(frozen=True)
class Answer:
    """One answered request: exchange, path, market end (None: unbounded), HTTP status, wall time (perf_counter)."""

    exchange: str
    path: str
    end: int | None
    status: int
    at: float


@dataclass
class DatasetExchangeServer(ExchangeServer):
    """``ExchangeServer`` over a ``DatasetTape`` with market-time outages and 429 storms (see the module doc)."""

    outages: list[Outage] = field(default_factory=list)
    storms: list[Storm] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    _asked: Counter[tuple[str, str, tuple[tuple[str, str], ...]]] = field(default_factory=Counter)

    def outage(self, exchanges: tuple[str, ...] | list[str], lo_ms: int, hi_ms: int, status: int = 503) -> None:
        """``exchanges`` are down for market time ``[lo_ms, hi_ms)``."""
        self.outages.append(Outage(tuple(exchanges), lo_ms, hi_ms, status))

    def storm(self, lo_ms: int, hi_ms: int, first: int = 1) -> None:
        """A 429 storm over market time ``[lo_ms, hi_ms)`` on every exchange."""
        self.storms.append(Storm(lo_ms, hi_ms, first))

    def refused_in(self, exchange: str, status: int | None = None) -> list[Answer]:
        """Answers to ``exchange`` that were faults (``status``, or any non-200)."""
        return [a for a in self.answers if a.exchange == exchange and a.status != 200
                and (status is None or a.status == status)]

    async def _handle(self, request: web.Request) -> web.Response:
        exchange, path = request.match_info["exchange"], "/" + request.match_info["tail"]
        query = dict(request.query)
        end = request_end(query)
        status = 200
        if end is not None:
            for o in self.outages:
                if exchange in o.exchanges and o.lo_ms <= end < o.hi_ms:
                    status = o.status
            key = (exchange, path, tuple(sorted(query.items())))
            for st in self.storms:
                if status == 200 and st.lo_ms <= end < st.hi_ms:
                    self._asked[key] += 1
                    if self._asked[key] <= st.first:
                        status = 429
        if status != 200:
            self.answers.append(Answer(exchange, path, end, status, time.perf_counter()))
            return _error(exchange, status)
        response = await super()._handle(request)
        self.answers.append(Answer(exchange, path, end, response.status, time.perf_counter()))
        return response


__all__ = ["FUNDING_EVERY", "DatasetExchangeServer", "DatasetTape", "Outage", "Storm", "request_end"]
