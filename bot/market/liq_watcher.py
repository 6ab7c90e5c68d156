"""The liquidation watcher's lifecycle: one ``ExchangeStream`` task per configured exchange that has a stream
profile, one bounded queue, one writer task storing batches through ``asyncio.to_thread`` (the event loop, and so the
periodic job and chat, never waits for the database). ``start`` / ``stop`` are called by the app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from bot.clock import Clock, wall_ms
from bot.market.liq_stream import Backoff, ExchangeStream, StreamMetrics, stream_profile
from bot.storage.db import Database
from bot.storage.liquidations import LiqRow, insert_events

log = logging.getLogger(__name__)

QUEUE_MAX = 20_000  # events waiting for the database (oldest dropped beyond)
BATCH_MAX = 1_000  # events per insert


class LiquidationWatcher:
    """Listens to the liquidation feeds of ``exchanges`` for ``symbols`` and stores what they deliver in ``db``.

    ``clock`` is the bot's clock (when a feed delivers again, see ``complete_since``). ``options`` are the
    per-exchange ccxt options (``LIQMAP_EXCHANGE_OPTIONS``); ``metrics`` receives stored counts
    and reconnects. ``stored`` counts events inserted (new, not repeats) and ``dropped`` those lost to a full queue.
    """

    def __init__(self, db: Database, exchanges: Sequence[str], symbols: Sequence[str], *,
                 options: Mapping[str, Mapping[str, Any]] | None = None, metrics: StreamMetrics | None = None,
                 backoff: Backoff | None = None, queue_max: int = QUEUE_MAX, clock: Clock = wall_ms) -> None:
        self.db = db
        self.streams = [
            ExchangeStream(e, p, tuple(symbols), self._put, (options or {}).get(e, {}), metrics,
                           backoff or Backoff(), clock=clock)
            for e in exchanges if (p := stream_profile(e)) is not None
        ]
        self.metrics = metrics
        self.unsupported = tuple(e for e in exchanges if stream_profile(e) is None)  # no known liquidation feed
        self.stored = 0
        self.dropped = 0
        self._pending: deque[LiqRow] = deque()
        self._queue_max = queue_max
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        """Whether the feeds are being listened to in this process (``start`` called, ``stop`` not yet)."""
        return bool(self._tasks)

    def complete_since(self) -> int | None:
        """Wall ms since which every feed has delivered without an error (what the table holds after it is all
        that was liquidated, as far as the feeds tell); None while a feed is down or has not delivered yet."""
        starts = [s.listening_since_ms for s in self.streams]
        if not self.running or not starts or any(t is None for t in starts):
            return None
        return max(t for t in starts if t is not None)

    @property
    def exchanges(self) -> tuple[str, ...]:
        """The exchanges listened to."""
        return tuple(s.exchange for s in self.streams)

    def _put(self, rows: list[LiqRow]) -> None:
        """Queue rows for the writer without waiting; beyond ``queue_max`` the oldest are dropped (counted)."""
        self._pending.extend(rows)
        over = len(self._pending) - self._queue_max
        if over > 0:
            for _ in range(over):
                self._pending.popleft()
            self.dropped += over
            log.warning("liquidation queue full: %d oldest event(s) dropped (database too slow?)", over)
        self._wake.set()

    def start(self) -> None:
        """Start the stream tasks and the writer (idempotent)."""
        if self._tasks or not self.streams:
            return
        self._tasks = [asyncio.create_task(s.run(), name=f"liquidations-{s.exchange}") for s in self.streams]
        self._tasks.append(asyncio.create_task(self._writer(), name="liquidations-writer"))
        log.info("listening to liquidations on %s%s", ", ".join(self.exchanges),
                 f" (no liquidation feed known for {', '.join(self.unsupported)})" if self.unsupported else "")

    async def stop(self) -> None:
        """Cancel the streams (closing their connections), then store what is still queued."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):
            await self.flush()

    async def flush(self) -> int:
        """Store every queued event now; returns how many were new."""
        added = 0
        while self._pending:
            n = min(BATCH_MAX, len(self._pending))
            batch = [self._pending.popleft() for _ in range(n)]
            try:
                added += await asyncio.to_thread(self._insert, batch)
            except Exception:
                self._pending.extendleft(reversed(batch))  # kept for the next attempt
                raise
        return added

    def _insert(self, batch: list[LiqRow]) -> int:
        """Insert one batch (worker thread); per-exchange counts go to the metrics."""
        added = 0
        for exchange in sorted({r.exchange for r in batch}):
            n = insert_events(self.db, [r for r in batch if r.exchange == exchange])
            if self.metrics is not None and n:
                self.metrics.record_liquidations_stored(exchange, n)
            added += n
        return added

    async def _writer(self) -> None:
        failures = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                self.stored += await self.flush()
                failures = 0
            except Exception as exc:
                failures += 1
                log.warning("storing liquidations failed (%s); retrying", exc)
                await asyncio.sleep(min(30.0, 0.5 * 2 ** failures))
                self._wake.set()
