"""Exactly one replica receives a chat platform's inbound traffic: the one holding its lease in the database.

Telegram allows one ``getUpdates`` long poll per bot (a second one ends the first with 409 Conflict) and a Discord
bot should hold one gateway session; sending needs neither, so every replica still delivers alerts. A
``GatewayLease`` takes and renews a named expiring lease (``bot.storage.leases``) and starts the receiver while it
holds it:

- renewal every ``renew_s`` (5 s) extends the lease to ``ttl_s`` (20 s) from the attempt's start; a replica that dies
  is replaced once its lease expired, i.e. within ``ttl_s + renew_s`` (25 s);
- the holder stops receiving as soon as a renewal says another replica holds the lease, and, when the database does
  not confirm a renewal (down, locked, slow), once ``keep_s`` (``ttl_s - 2 * renew_s`` = 10 s) have passed since
  the last confirmed one, i.e. at least ``ttl_s - keep_s`` (10 s) before anybody else may take over;
- a receiver that fails (its ``begin`` raises, or it calls ``relinquish``) gives the lease up, and this replica
  waits ``retry_s`` before competing for it again, so a healthy replica can take over;
- ``stop()`` stops receiving first, then releases the lease, so a graceful shutdown hands over within ``renew_s``.

Lease times are this process's wall clock in UTC ms (as for the periodic job's lease), deadlines for stopping are
monotonic; replicas' clocks must agree to well within ``ttl_s - renew_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.clock import wall_ms
from bot.storage import leases
from bot.storage.db import Database

log = logging.getLogger(__name__)
Step = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class LeaseTiming:
    """How the lease is held: ``ttl_s`` per renewal, renewed every ``renew_s``; receiving stops ``keep_s`` after the
    last confirmed renewal (default ``ttl_s - 2 * renew_s``); after a receiver failure wait ``retry_s``."""

    ttl_s: float = 20.0
    renew_s: float = 5.0
    keep_s: float | None = None
    retry_s: float = 30.0

    @property
    def keep(self) -> float:
        keep = self.ttl_s - 2 * self.renew_s if self.keep_s is None else self.keep_s
        if not 0 < keep < self.ttl_s or self.renew_s >= keep:
            raise ValueError(f"lease timing needs renew_s < keep_s < ttl_s, got {self}")
        return keep


class GatewayLease:
    """Holds the lease ``name`` for ``holder`` and runs ``begin``/``end`` (start/stop receiving) as it comes and
    goes. ``await start()`` makes the first attempt before returning; ``await stop()`` at shutdown."""

    def __init__(
        self,
        db: Database,
        name: str,
        holder: str,
        *,
        begin: Step,
        end: Step,
        what: str,
        timing: LeaseTiming | None = None,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self.db = db
        self.name = name
        self.holder = holder
        self.what = what  # e.g. "Telegram updates (polling)", for the log
        self.timing = timing or LeaseTiming()
        self._keep_s = self.timing.keep
        self._begin_step = begin
        self._end_step = end
        self.clock = clock
        self.active = False  # receiving (between begin and end)
        self._keep_until = 0.0  # monotonic deadline to stop receiving unless a renewal is confirmed
        self._resume_at = 0.0  # monotonic time before which this replica does not compete (after a failure)
        self._relinquish: tuple[str, float] | None = None
        self._started = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._attempt: asyncio.Future[bool] | None = None  # the renewal in flight (its thread outlives a cancel)
        self._db_failing = False
        self._standby_logged = False

    async def start(self) -> None:
        """Try to take the lease once (receiving starts now if it was free), then keep trying in the background."""
        if self._task is not None:
            return
        self._started = True
        await self._cycle()
        self._task = asyncio.create_task(self._loop(), name=f"lease:{self.name}")

    async def stop(self) -> None:
        """Stop receiving, then release the lease (another replica takes over within one renew interval)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.active:
            await self._end("shutting down")
        attempt = self._attempt
        if attempt is not None and not attempt.done():  # let it finish, or it could renew after the release
            await asyncio.wait({attempt}, timeout=self._keep_s)
            if attempt.done() and not attempt.cancelled():
                attempt.exception()  # retrieved: a failure here only means the lease expires by itself
        if self._started:
            self._started = False
            await self._release()

    def relinquish(self, reason: str, *, retry_s: float | None = None) -> None:
        """The receiver failed: stop it, give the lease up and compete again after ``retry_s`` (default
        ``timing.retry_s``; ``math.inf``: never again in this process). Callable from any task of the loop."""
        self._relinquish = (reason, self.timing.retry_s if retry_s is None else retry_s)
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            wait = self.timing.renew_s
            if self.active:
                wait = min(wait, max(self._keep_until - time.monotonic(), 0.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            self._wake.clear()
            try:
                await self._cycle()
            except Exception:  # never let the loop die: the next cycle decides again
                log.exception("lease %r: cycle failed", self.name)

    async def _cycle(self) -> None:
        if self._relinquish is not None:
            (reason, retry_s), self._relinquish = self._relinquish, None
            await self._give_up(reason, retry_s)
            return
        if self.active and time.monotonic() >= self._keep_until:
            await self._end("the database has not confirmed the lease in time")
        if not self.active and time.monotonic() < self._resume_at:
            return
        held = await self._renew()
        if held is True and not self.active and time.monotonic() < self._keep_until:
            try:
                await self._begin()
            except Exception as exc:
                await self._give_up(f"could not start: {type(exc).__name__}: {exc}", self.timing.retry_s)
        elif held is False and self.active:
            await self._end("another replica holds the lease")
        elif held is False and not self._standby_logged:
            self._standby_logged = True
            log.info("%s: another replica receives them (lease %r); standing by", self.what, self.name)

    async def _renew(self) -> bool | None:
        """Take or renew the lease: True held, False held by another replica, None unknown (database trouble).
        While receiving, waits for the database no longer than the keep deadline (then stops receiving)."""
        started, now = time.monotonic(), self.clock()
        ttl_ms = int(self.timing.ttl_s * 1000)
        attempt = self._attempt = asyncio.ensure_future(
            asyncio.to_thread(leases.try_acquire, self.db, self.name, self.holder, ttl_ms, now)
        )
        if self.active:
            done, _ = await asyncio.wait({attempt}, timeout=max(self._keep_until - time.monotonic(), 0.0))
            if not done:
                await self._end("the database has not confirmed the lease in time")
        try:
            held = await asyncio.shield(attempt)  # a cancelled cycle leaves it to ``stop()``
        except Exception as exc:
            if not self._db_failing:
                log.warning("lease %r: the database did not answer (%s: %s)", self.name, type(exc).__name__, exc)
            self._db_failing = True
            return None
        if self._db_failing:
            log.info("lease %r: the database answers again", self.name)
            self._db_failing = False
        if held:
            self._keep_until = started + self._keep_s
            self._standby_logged = False
        return held

    async def _begin(self) -> None:
        self.active = True  # before the step: ``end`` must undo a half-done start too
        await self._begin_step()
        log.info("%s: this replica receives them now (lease %r, holder %s)", self.what, self.name, self.holder)

    async def _end(self, reason: str) -> None:
        self.active = False
        try:
            await self._end_step()
        except Exception:
            log.exception("%s: stopping failed", self.what)
        log.info("%s: this replica stopped receiving them (%s)", self.what, reason)

    async def _give_up(self, reason: str, retry_s: float) -> None:
        later = "for good" if retry_s == float("inf") else f"for {retry_s:.0f} s"
        log.warning("%s: %s; giving the lease up %s", self.what, reason, later)
        if self.active:
            await self._end(reason)
        self._resume_at = time.monotonic() + retry_s
        await self._release()

    async def _release(self) -> None:
        try:
            await asyncio.to_thread(leases.release, self.db, self.name, self.holder)
        except Exception as exc:  # the lease simply expires
            log.warning("could not release lease %r (%s); it expires by itself", self.name, exc)
