"""Replay as live: ``liqmap run --source replay:DIR[,DIR...] --speed N [--from T] [--until T]``.

The whole bot runs on one ``VirtualClock`` over recorded datasets: the periodic job, staleness, cooldowns,
hysteresis, the outbox's due times and backoff, health ages and retention all read it. At virtual time t the bot sees
exactly what had closed by t. Alerts are deterministic (the same command on the same data gives the same alerts, by
cluster id and virtual time), and a killed run started again on the same database resumes where its clock stood,
within one tick: the job's stored ticks say where that was. At ``--until`` the outbox is drained and the run ends.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from bot.alerts.dispatcher import Dispatcher
from bot.clock import VirtualClock
from bot.config import Settings
from bot.errors import LiqmapError
from bot.market.replay_source import ReplaySet, ReplaySource, replay_dirs
from bot.model.types import window_ms
from bot.storage import outbox, subscriptions, ticks
from bot.storage.db import Database
from bot.timeparse import parse_time

log = logging.getLogger(__name__)
WARMUP_WINDOWS = 0.25  # the engine loads this much history before a window (MapEngine.warmup_windows)
DRAIN_ROUNDS = 50


@dataclass(frozen=True)
class ReplayOptions:
    """``--speed`` (virtual seconds per real second), ``--from`` / ``--until`` (UTC ms; None = the defaults)."""

    speed: float = 1.0
    from_ms: int | None = None
    until_ms: int | None = None
    given: bool = False

    @staticmethod
    def from_args(speed: float | None, from_text: str | None, until_text: str | None) -> ReplayOptions:
        """Validated options from the command line (one clear line for a bad value)."""
        if speed is not None and not 0 < speed <= 1_000_000:
            raise LiqmapError("--speed must be a positive number of virtual seconds per second, e.g. --speed 600")
        return ReplayOptions(
            speed=speed if speed is not None else 1.0,
            from_ms=parse_time(from_text) if from_text else None,
            until_ms=parse_time(until_text) if until_text else None,
            given=speed is not None or bool(from_text) or bool(until_text),
        )


@dataclass
class ReplayPlan:
    """Where a virtual-clock run starts (a resume point when the database has ticks of this run), where it ends, the
    clock, and the recorded datasets it plays (None: the source the settings name, on the virtual clock: a
    rehearsal of live exchanges or their stand-ins)."""

    source: ReplaySet | None
    clock: VirtualClock
    start_ms: int
    until_ms: int
    resumed: bool

    @property
    def exchanges(self) -> tuple[str, ...]:
        """The replayed datasets' exchanges (empty for a rehearsal)."""
        return self.source.exchanges if self.source is not None else ()


def replay_sources(settings: Settings) -> list[ReplaySource]:
    """One ``ReplaySource`` per directory of ``LIQMAP_SOURCE=replay:DIR[,DIR...]``."""
    dirs = replay_dirs(settings.source)
    if not dirs:
        raise LiqmapError("replay needs a dataset directory: use --source replay:DIR[,DIR...]")
    return [ReplaySource(Path(d).expanduser()) for d in dirs]


def longest_window_ms(db: Database, settings: Settings) -> int:
    """The longest window the run will compute: the default one and every subscribed one (ms)."""
    with db.session() as s:
        windows = {w for _, w in subscriptions.active_keys(s)}
    return max(window_ms(w) for w in windows | {settings.default_window})


def plan_replay(db: Database, settings: Settings, options: ReplayOptions) -> ReplayPlan:
    """Choose the start (``--from``, else a resume point, else once one longest window of history exists), the end
    and the virtual clock. A replay source serves its datasets as of the clock's now; any other source (a
    rehearsal against exchange stand-ins) runs on the same clock and needs ``--from`` and ``--until``."""
    is_replay = settings.source.lower().startswith("replay:")
    probe = ReplaySet(replay_sources(settings)) if is_replay else None
    tick = max(int(settings.tick_seconds * 1000), 1000)
    if probe is None and (options.from_ms is None or options.until_ms is None):
        raise LiqmapError("a live source on the virtual clock needs both --from and --until (or use replay:DIR)")
    history = int(longest_window_ms(db, settings) * (1 + WARMUP_WINDOWS))
    first = options.from_ms if options.from_ms is not None else probe.data_start_ms + history  # type: ignore[union-attr]
    first = -(-first // tick) * tick  # on the tick grid, so reruns tick at the same instants
    until = options.until_ms if options.until_ms is not None else probe.data_end_ms  # type: ignore[union-attr]
    if until < first:
        raise LiqmapError(
            f"nothing to replay: the start ({first}) is after the end ({until}); the recordings need one longest "
            "window of history before the start, or give --from"
        )
    with db.session() as s:
        last = ticks.latest_tick(s)
    resumed = last is not None and first <= last.at <= until
    start = last.at + tick if last is not None and resumed else first
    clock = VirtualClock(start, options.speed)
    source = ReplaySet(probe.sources, clock) if probe is not None else None
    return ReplayPlan(source, clock, start, until, resumed)


async def drain(dispatcher: Dispatcher, clock: VirtualClock, stop: asyncio.Event) -> int:
    """Send what the outbox still holds at the end of a replay, letting virtual time flow to each retry's due time;
    returns the alerts left undelivered (given up after ``DRAIN_ROUNDS`` rounds), -1 when the database cannot say."""
    for _ in range(DRAIN_ROUNDS):
        if stop.is_set():
            break
        try:
            await dispatcher.run_once()
            with dispatcher.db.session() as s:
                counts = outbox.counts(s)
                due = outbox.next_due_ms(s)
        except Exception as exc:  # e.g. the database restarting: try again a little later, as the dispatcher does
            log.warning("drain pass failed (retrying): %s", exc)
            await asyncio.sleep(1.0)
            continue
        if counts.get("queued", 0) + counts.get("sending", 0) == 0 or due is None:
            return 0
        await clock.advance_to(max(due + 1, clock()), stop)  # a claim is free once its expiry has passed
    try:
        with dispatcher.db.session() as s:
            counts = outbox.counts(s)
    except Exception as exc:
        log.warning("drain: cannot count what is left: %s", exc)
        return -1
    return counts.get("queued", 0) + counts.get("sending", 0)
