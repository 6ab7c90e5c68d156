"""The periodic alert job: one replica per tick recomputes each subscribed (symbol, window) once and queues alerts.

Per tick: take the ``recompute`` lease (other replicas skip the tick), list the active (symbol, window) keys, and for
each: compute the map once through ``MapEngine``, check freshness, then in ONE transaction read the subscriptions,
their cluster states and the previous snapshot, evaluate everything in one vectorised pass, and write the snapshot,
the new outbox rows (unique dedupe keys) and the changed states.

Stale guard: an exchange is stale when its data was refreshed more than 3 tick intervals ago (or its last candle
closed more than 3 intervals + one candle ago, or its refresh failed). A map that contains data of a stale exchange,
or whose as-of time is older than 3 intervals, alerts nothing (logged, shown by ``status()``).
Old events: sweeps are only alerted when the previous snapshot of the key is at most 3 intervals old; after a
longer gap (e.g. a restart after downtime) they are recorded silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bot.alerts.evaluate import evaluate_map
from bot.config import Settings
from bot.engine import MapEngine, MapResult
from bot.engine import now_ms as wall_ms
from bot.market.types import Freshness, timeframe_ms
from bot.model.types import WINDOWS, LiqMap
from bot.ops.metrics import Metrics
from bot.storage import cluster_state, leases, outbox, snapshots, subscriptions
from bot.storage.db import Database

log = logging.getLogger(__name__)
Clock = Callable[[], int]
LEASE_NAME = "recompute"
STALE_INTERVALS = 3


def make_worker_id(prefix: str = "liqmap") -> str:
    """A replica id unique across hosts and restarts: ``prefix@host:pid:random``."""
    return f"{prefix}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class KeyStatus:
    """Outcome of the latest tick for one (symbol, window): as-of ms, price USD, stale exchanges, alerts queued."""

    symbol: str
    window: str
    at: int
    price: float
    exchanges: tuple[str, ...]
    stale_exchanges: tuple[str, ...]
    missing_exchanges: tuple[str, ...]
    alerts_queued: int
    synthetic: bool
    error: str = ""

    @property
    def fresh(self) -> bool:
        """True when alerts could be evaluated from this map."""
        return not self.error and not self.stale_exchanges


@dataclass
class TickReport:
    """What one tick did: ``ran`` False when another replica holds the lease."""

    ran: bool
    at: int
    keys: list[KeyStatus] = field(default_factory=list)

    @property
    def alerts_queued(self) -> int:
        """Outbox rows inserted by this tick."""
        return sum(k.alerts_queued for k in self.keys)


def stale_exchanges(freshness: list[Freshness], now_ms: int, stale_ms: int, candle_ms: int) -> tuple[str, ...]:
    """Exchanges whose refresh failed or whose data is older than ``stale_ms`` (+ one candle for the last close)."""
    return tuple(
        f.exchange
        for f in freshness
        if not f.ok or now_ms - f.fetched_at_ms > stale_ms or now_ms - f.last_candle_close_ms > stale_ms + candle_ms
    )


def price_path(m: LiqMap, since_ms: int) -> tuple[float, float]:
    """(low, high) USD of the map's closes after ``since_ms`` and its current price."""
    closes = m.close[m.close_time > since_ms] if m.close.size else m.close
    values = np.append(closes, m.price)
    values = values[np.isfinite(values)]
    return float(values.min()), float(values.max())


class AlertJob:
    """The periodic job. ``clock`` gives "now" in UTC ms (tests pass a controllable one)."""

    def __init__(
        self,
        db: Database,
        engine: MapEngine,
        settings: Settings,
        clock: Clock = wall_ms,
        *,
        holder: str = "",
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.engine = engine
        self.clock = clock
        self.holder = holder or make_worker_id("job")
        self.tick_ms = max(int(settings.tick_seconds * 1000), 1000)
        self.stale_ms = STALE_INTERVALS * self.tick_ms
        self.lease_ttl_ms = 2 * self.tick_ms
        self.status: dict[tuple[str, str], KeyStatus] = {}
        self.last_tick_at: int | None = None
        self.next_tick_at: int | None = None
        self.metrics = metrics

    async def tick(self) -> TickReport:
        """Run one tick (or skip it when another replica holds the lease); recorded in ``metrics`` when given."""
        started = time.perf_counter()
        try:
            report = await self._tick()
        except Exception:
            if self.metrics is not None:
                self.metrics.record_tick_failure()
            raise
        if self.metrics is not None:
            self.metrics.record_tick(self.clock(), time.perf_counter() - started, ran=report.ran)
        return report

    async def _tick(self) -> TickReport:
        now = self.clock()
        if not await asyncio.to_thread(leases.try_acquire, self.db, LEASE_NAME, self.holder, self.lease_ttl_ms, now):
            return TickReport(ran=False, at=now)
        report = TickReport(ran=True, at=now)
        keys = await asyncio.to_thread(self._active_keys)
        for symbol, window in keys:
            status = await self._run_key(symbol, window, now)
            self.status[(symbol, window)] = status
            report.keys.append(status)
        for gone in set(self.status) - set(keys):
            del self.status[gone]
        self.last_tick_at = now
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every interval until ``stop`` is set; a failing tick is logged and the loop goes on."""
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("alert tick failed")
            self.next_tick_at = self.clock() + self.tick_ms
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.tick_ms / 1000)
        await asyncio.to_thread(leases.release, self.db, LEASE_NAME, self.holder)

    def _active_keys(self) -> list[tuple[str, str]]:
        with self.db.session() as s:
            return subscriptions.active_keys(s)

    async def _run_key(self, symbol: str, window: str, now: int) -> KeyStatus:
        try:
            result = await self.engine.compute(symbol, window, at_ms=now)
        except Exception as exc:  # one bad key must not stop the others
            log.warning("alert job: map %s %s failed: %s", symbol, window, exc)
            why = str(exc) or type(exc).__name__
            return KeyStatus(symbol, window, 0, float("nan"), (), (), (), 0, False, error=why)
        if self.metrics is not None:
            self.metrics.record_freshness(result.freshness)
        m = result.map
        candle = timeframe_ms(WINDOWS[window][1])
        stale = tuple(e for e in stale_exchanges(result.freshness, now, self.stale_ms, candle) if e in m.exchanges)
        error = ""
        if not m.exchanges:
            error = "no market data"
        elif now - m.at > self.stale_ms:
            error = f"map is {(now - m.at) // 1000} s old"
        if stale or error:
            log.warning(
                "alert job: %s %s not evaluated (stale: %s%s)",
                symbol,
                window,
                ", ".join(stale) or "-",
                f"; {error}" if error else "",
            )
            return self._status(result, stale, 0, error)
        queued = await asyncio.to_thread(self._evaluate_and_write, m, now)
        return self._status(result, (), queued, "")

    def _status(self, result: MapResult, stale: tuple[str, ...], queued: int, error: str) -> KeyStatus:
        m = result.map
        return KeyStatus(
            m.symbol, m.window, m.at, m.price, m.exchanges, stale, m.missing_exchanges, queued, m.synthetic, error
        )

    def _evaluate_and_write(self, m: LiqMap, now: int) -> int:
        """Read subscriptions/states/previous snapshot, evaluate, write snapshot + alerts + states: one transaction."""
        with self.db.session() as s:
            subs = subscriptions.subscriptions_for(s, m.symbol, m.window)
            prev = snapshots.latest_snapshot(s, m.symbol, m.window)
            states = cluster_state.load_states_for(s, m.symbol, m.window) if subs else {}
            recent = prev is not None and 0 <= m.at - prev.at <= self.stale_ms
            since = prev.at if prev is not None and recent else m.at
            low, high = price_path(m, since)
            ev = evaluate_map(m, subs, states, now, low, high, alert_sweeps=recent)
            snapshots.save_snapshot(s, m)
            inserted = outbox.enqueue(s, ev.alerts)
            cluster_state.save_states(s, ev.states)
        if ev.silenced_sweeps:
            log.info(
                "alert job: %s %s: %d sweep(s) during a data gap recorded without alerting",
                m.symbol,
                m.window,
                ev.silenced_sweeps,
            )
        return inserted
