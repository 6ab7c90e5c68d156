"""The periodic alert job: one replica per tick recomputes each (symbol, window) once and queues alerts.

Per tick: take the ``recompute`` lease (other replicas skip the tick), list the keys (every subscribed
(symbol, window) plus the tracked symbols at the default window, so market data is watched even with no
subscriber), and for each: compute the map once through ``MapEngine`` (which keeps only live exchanges, see
``bot.market.freshness``), then in ONE transaction read the subscriptions, their cluster states and the previous
snapshot, evaluate everything in one vectorised pass, and write the snapshot, the new outbox rows (unique dedupe
keys) and the changed states. The tick's outcome is stored (``job_ticks``) for ``/status`` and ``/healthz`` on every
replica, and old rows are pruned once an hour (``bot.storage.retention``).

A failed or stale exchange is left out of the map and named as missing; the others keep the alerts going. A tick in
which no exchange delivered data is a failed tick. Old events: sweeps are only alerted when the previous snapshot of
the key is at most 3 intervals old; after a longer gap (e.g. a restart after downtime) they are recorded silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field

import numpy as np

from bot.alerts.evaluate import evaluate_map
from bot.alerts.position import evaluate_positions
from bot.clock import Clock, VirtualClock, wall_ms, wall_sleep_until
from bot.config import Settings
from bot.engine import MapEngine, MapResult
from bot.errors import LiqmapError
from bot.market.freshness import stale_budget_ms
from bot.market.symbols import parse_symbol
from bot.model.types import LiqMap
from bot.ops.metrics import Metrics
from bot.storage import cluster_state, leases, outbox, retention, snapshots, subscriptions, ticks
from bot.storage.db import Database
from bot.storage.ticks import KeyStatus, TickRec

log = logging.getLogger(__name__)
LEASE_NAME = "recompute"
# On a virtual clock the lease lives in real time: a live holder renews it at every tick, and a dead one's lease
# expires after this long (or two ticks' real duration, when longer), whatever the replay speed.
VIRTUAL_LEASE_FLOOR_MS = 15_000
TURN_POLL_S = 0.2  # a lease-blocked virtual tick checks again this often (real seconds)
__all__ = ["AlertJob", "Clock", "KeyStatus", "TickReport", "make_worker_id", "price_path"]


def make_worker_id(prefix: str = "liqmap") -> str:
    """A replica id unique across hosts and restarts: ``prefix@host:pid:random``."""
    return f"{prefix}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class TickReport:
    """What one tick did: ``ran`` False when another replica holds the lease; ``ok`` False when no exchange
    delivered data for any key (a failed tick)."""

    ran: bool
    at: int
    keys: list[KeyStatus] = field(default_factory=list)

    @property
    def alerts_queued(self) -> int:
        """Outbox rows inserted by this tick."""
        return sum(k.alerts_queued for k in self.keys)

    @property
    def ok(self) -> bool:
        """True when at least one key was computed from live market data (or there was nothing to compute)."""
        return not self.keys or any(k.fresh for k in self.keys)


def price_path(m: LiqMap, since_ms: int) -> tuple[float, float]:
    """(low, high) USD traded after ``since_ms``: the wicks of the candles that closed since, and the price now.

    The model removes a level once a candle's low (longs) or high (shorts) reaches it, so sweeps are judged on the
    same wicks, not on closes."""
    after = m.path_time > since_ms
    lows = np.append(m.path_low[after], m.price)
    highs = np.append(m.path_high[after], m.price)
    lows, highs = lows[np.isfinite(lows)], highs[np.isfinite(highs)]
    return float(lows.min()), float(highs.max())


def tracked_keys(settings: Settings) -> list[tuple[str, str]]:
    """The (symbol, default window) pairs the bot always watches, whether or not anyone subscribed."""
    keys: list[tuple[str, str]] = []
    for text in settings.symbols:
        try:
            keys.append((parse_symbol(text), settings.default_window))
        except LiqmapError as exc:
            log.warning("tracked symbol %r ignored: %s", text, exc)
    return keys


class AlertJob:
    """The periodic job. ``clock`` gives "now" in UTC ms (the bot's one clock)."""

    def __init__(
        self,
        db: Database,
        engine: MapEngine,
        settings: Settings,
        clock: Clock = wall_ms,
        *,
        holder: str = "",
        metrics: Metrics | None = None,
        policy: retention.RetentionPolicy | None = None,
    ) -> None:
        self.db = db
        self.engine = engine
        self.clock = clock
        self.holder = holder or make_worker_id("job")
        self.tick_ms = max(int(settings.tick_seconds * 1000), 1000)
        self.stale_ms = stale_budget_ms(self.tick_ms)
        self.lease_ttl_ms = 2 * self.tick_ms
        self.tracked = tracked_keys(settings)
        self.policy = policy or retention.RetentionPolicy(history_ms=settings.retention_days * retention.DAY_MS)
        self.status: dict[tuple[str, str], KeyStatus] = {}
        self.last_tick_at: int | None = None
        self.next_tick_at: int | None = None
        self.last_prune_at: int | None = None
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
            if report.ok:
                self.metrics.record_tick(self.clock(), time.perf_counter() - started, ran=report.ran)
            else:
                self.metrics.record_tick_failure()
        if not report.ok:
            reasons = "; ".join(f"{k.symbol} {k.window}: {k.error}" for k in report.keys)
            log.warning("alert tick failed: no exchange delivered market data (%s)", reasons)
        return report

    def _lease_terms(self) -> tuple[Clock, int]:
        """(clock, ttl ms) of the ``recompute`` lease. On the wall clock: wall time, two ticks. On a virtual clock:
        real time, so that a dead holder's lease expires in seconds while the clock is held (see ``_await_turn``)."""
        if isinstance(self.clock, VirtualClock):
            return wall_ms, max(int(self.lease_ttl_ms / self.clock.speed), VIRTUAL_LEASE_FLOOR_MS)
        return self.clock, self.lease_ttl_ms

    def _try_lease(self) -> bool:
        lease_clock, ttl = self._lease_terms()
        return leases.try_acquire(self.db, LEASE_NAME, self.holder, ttl, lease_clock())

    def _turn(self, at: int) -> bool | None:
        """False when a replica has stored the tick at ``at`` already, True when this replica holds the lease, None
        while another holds it and has not stored that tick."""
        with self.db.session() as s:
            if ticks.tick_stored(s, at):
                return False
        return True if self._try_lease() else None

    async def _await_turn(self, at: int, stop: asyncio.Event) -> bool:
        """On a virtual clock (held at ``at``): wait until this replica may run the tick at ``at`` (True) or another
        one has stored it (False). A tick kept out by a dead holder's lease runs once that lease expires, so a
        SIGKILLed run restarted, or a replica taking over, skips no tick (rehearsal defect D5). A database error
        ends the wait with True: the tick then fails and is logged, as on the wall clock."""
        while not stop.is_set():
            try:
                turn = await asyncio.to_thread(self._turn, at)
            except Exception as exc:
                log.warning("recompute lease check failed: %s", exc)
                return True
            if turn is not None:
                return turn
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=TURN_POLL_S)
        return False

    async def _tick(self) -> TickReport:
        now = self.clock()
        if not await asyncio.to_thread(self._try_lease):
            return TickReport(ran=False, at=now)
        report = TickReport(ran=True, at=now)
        keys = await asyncio.to_thread(self._keys)
        for symbol, window in keys:
            status = await self._run_key(symbol, window, now)
            self.status[(symbol, window)] = status
            report.keys.append(status)
        for gone in set(self.status) - set(keys):
            del self.status[gone]
        self.last_tick_at = now
        self.next_tick_at = now + self.tick_ms
        await asyncio.to_thread(self._store, report)
        await self._maybe_prune(now)
        return report

    async def run(self, stop: asyncio.Event, *, until_ms: int | None = None) -> None:
        """Tick every interval until ``stop`` is set (or, on a ``VirtualClock``, until virtual ``until_ms``); a
        failing tick is logged and the loop goes on. On the wall clock a slow tick delays the next one; on a virtual
        clock time stands still during a tick and flows to the next tick afterwards, so no tick is ever skipped: a tick
        held by another replica's lease waits (clock held) until that replica stores it or its lease expires."""
        virtual = isinstance(self.clock, VirtualClock)
        next_at = self.clock()
        while not stop.is_set() and (until_ms is None or next_at <= until_ms):
            mine = True
            if isinstance(self.clock, VirtualClock):
                await self.clock.advance_to(next_at, stop)
                mine = await self._await_turn(next_at, stop)
                if stop.is_set():
                    break
            if mine:
                try:
                    await self.tick()
                except Exception:
                    log.exception("alert tick failed")
            next_at = (next_at if virtual else self.clock()) + self.tick_ms
            self.next_tick_at = next_at
            if not virtual:
                await wall_sleep_until(self.clock, next_at, stop)
        try:
            await asyncio.to_thread(leases.release, self.db, LEASE_NAME, self.holder)
        except Exception as exc:  # the database is down: the lease simply expires
            log.warning("could not release the %s lease (it will expire): %s", LEASE_NAME, exc)

    def _keys(self) -> list[tuple[str, str]]:
        """Subscribed keys first, then tracked keys nobody subscribed to."""
        with self.db.session() as s:
            active = subscriptions.active_keys(s)
        return list(dict.fromkeys([*active, *self.tracked]))

    def _store(self, report: TickReport) -> None:
        rec = TickRec(report.at, report.at + self.tick_ms, self.holder, report.ok, tuple(report.keys))
        with self.db.session() as s:
            ticks.save_tick(s, rec)

    async def _maybe_prune(self, now: int) -> None:
        if self.last_prune_at is not None and now - self.last_prune_at < self.policy.every_ms:
            return
        self.last_prune_at = now

        def run() -> dict[str, int]:
            with self.db.session() as s:
                return retention.prune(s, now, self.policy)

        try:
            deleted = await asyncio.to_thread(run)
        except Exception as exc:  # pruning is housekeeping: never fail the tick for it
            log.warning("retention: pruning failed: %s", exc)
            return
        if any(deleted.values()):
            log.info("retention: pruned %s", ", ".join(f"{k} {v}" for k, v in deleted.items() if v))

    async def _run_key(self, symbol: str, window: str, now: int) -> KeyStatus:
        try:
            result = await self.engine.compute(symbol, window, at_ms=now)
        except Exception as exc:  # one bad key must not stop the others
            log.warning("alert job: map %s %s failed: %s", symbol, window, exc)
            why = str(exc) or type(exc).__name__
            return KeyStatus(symbol, window, 0, float("nan"), (), (), 0, False, error=why)
        if self.metrics is not None:
            self.metrics.record_freshness(result.freshness)
        m = result.map
        if not m.exchanges:
            reasons = "; ".join(f"{f.exchange}: {f.error or 'stale'}" for f in result.freshness if f.exchange
                                in m.missing_exchanges) or "no live exchange"
            log.warning("alert job: %s %s not evaluated: no market data (%s)", symbol, window, reasons)
            return self._status(result, 0, f"no market data ({reasons})")
        if m.missing_exchanges:
            log.warning("alert job: %s %s without %s (failed or stale)", symbol, window, ", ".join(m.missing_exchanges))
        queued = await asyncio.to_thread(self._evaluate_and_write, m, now)
        return self._status(result, queued, "")

    @staticmethod
    def _status(result: MapResult, queued: int, error: str) -> KeyStatus:
        m = result.map
        return KeyStatus(m.symbol, m.window, m.at, m.price, m.exchanges, m.missing_exchanges, queued, m.synthetic,
                         error)

    def _evaluate_and_write(self, m: LiqMap, now: int) -> int:
        """Read subscriptions/states/previous snapshot, evaluate, write snapshot + alerts + states: one transaction."""
        with self.db.session() as s:
            subs = subscriptions.subscriptions_for(s, m.symbol, m.window)
            positions = subscriptions.subscriptions_for(s, m.symbol, m.window, kind="position")
            prev = snapshots.latest_snapshot(s, m.symbol, m.window)
            states = cluster_state.load_states_for(s, m.symbol, m.window) if subs or positions else {}
            recent = prev is not None and 0 <= m.at - prev.at <= self.stale_ms
            since = prev.at if prev is not None else m.at  # a gap's sweeps are recorded too (silently when old)
            low, high = price_path(m, since)
            ev = evaluate_map(m, subs, states, now, low, high, alert_sweeps=recent)
            pev = evaluate_positions(m, positions, states, now)  # position alerts: same outbox, states, keys
            snapshots.save_snapshot(s, m)
            inserted = outbox.enqueue(s, ev.alerts + pev.alerts)
            cluster_state.save_states(s, ev.states + pev.states)
        if ev.silenced_sweeps:
            log.info(
                "alert job: %s %s: %d sweep(s) during a data gap recorded without alerting",
                m.symbol,
                m.window,
                ev.silenced_sweeps,
            )
        return inserted
