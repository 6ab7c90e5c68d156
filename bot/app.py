"""Wires the long-running bot into one asyncio loop: migrations, the periodic map and alert job, the outbox
dispatcher and (when configured) the chat platforms; SIGINT/SIGTERM stop it in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, replace
from typing import Any

from bot.alerts.dispatcher import Dispatcher
from bot.alerts.job import AlertJob, make_worker_id
from bot.alerts.notifier import Notifier
from bot.alerts.self_score import SelfScorer
from bot.chat.console import ConsoleNotifier
from bot.chat.service import ChatService
from bot.clock import Clock, VirtualClock, wall_ms
from bot.config import Settings
from bot.engine import MapEngine
from bot.market.ccxt_source import CcxtSource
from bot.market.liq_watcher import LiquidationWatcher
from bot.market.source import MarketSource, source_from_settings
from bot.market.stored_source import StoredSource
from bot.model.context import LiquidationPrints
from bot.model.types import Cluster
from bot.ops.health import HealthServer, start_health_server
from bot.ops.logging import protect_settings
from bot.ops.metrics import Metrics
from bot.render import RenderCache
from bot.replay_run import ReplayOptions, ReplayPlan, drain, plan_replay
from bot.report import format_map_summary
from bot.storage import liquidations, migrate, snapshots
from bot.storage.db import Database
from bot.timeparse import iso_utc

log = logging.getLogger("liqmap.app")
NEVER_MS = 2**62  # "complete from": never (a feed is down or has not delivered since this process started)


def token_guidance(settings: Settings) -> list[str]:
    """Lines telling the operator which chat platforms are off and exactly what to set to turn them on."""
    lines: list[str] = []
    if settings.telegram_token is None:
        lines.append(
            "Telegram is off: set LIQMAP_TELEGRAM_TOKEN to the token @BotFather gave you (in the environment or .env)."
        )
    if settings.discord_token is None:
        lines.append(
            "Discord is off: set LIQMAP_DISCORD_TOKEN to your application's bot token "
            "(Discord Developer Portal → your app → Bot → Reset Token)."
        )
    if settings.source == "sim":
        lines.append(
            "Market source is the SYNTHETIC simulator: set LIQMAP_SOURCE=ccxt for live exchange data "
            "(or replay:DIR to replay a recorded dataset)."
        )
    return lines


async def log_tracked_maps(engine: MapEngine, settings: Settings) -> None:
    """Recompute each tracked symbol's default-window map and log its summary (the operator's view)."""
    for symbol in settings.symbols:
        try:
            result = await engine.compute(symbol, settings.default_window)
        except ValueError as exc:
            log.error("map %s %s failed: %s", symbol, settings.default_window, exc)
            continue
        if not result.map.exchanges:
            reasons = "; ".join(f"{f.exchange}: {f.error or 'no data'}" for f in result.freshness)
            log.warning("no market data for %s yet (%s); retrying next tick", symbol, reasons or "no exchanges")
            continue
        log.info("%s", format_map_summary(result.map, result.freshness))


def notifiers_for(settings: Settings) -> dict[str, Notifier]:
    """One notifier per platform. Until a platform's adapter is configured, its alerts are logged to the console
    (they stay in the outbox history either way)."""
    return {"telegram": ConsoleNotifier("telegram"), "discord": ConsoleNotifier("discord")}


@dataclass
class App:
    """The objects ``liqmap run`` wires together, with production defaults; ``clock`` is the bot's one clock."""

    settings: Settings
    clock: Clock
    db: Database
    metrics: Metrics
    source: StoredSource
    engine: MapEngine
    job: AlertJob
    service: ChatService
    dispatcher: Dispatcher
    liquidations: LiquidationWatcher | None = None  # the live liquidation feeds (LIQMAP_LIQUIDATION_STREAMS)
    self_score: SelfScorer | None = None  # the daily score of its own maps against the recorded liquidations

    async def close(self) -> None:
        """Stop the liquidation feeds, close the exchange sessions and the database pool."""
        if self.liquidations is not None:
            await self.liquidations.stop()
        await self.source.close()
        self.db.dispose()


def build_app(settings: Settings, *, clock: Clock = wall_ms, market: MarketSource | None = None) -> App:
    """Wire the bot from ``settings`` (the database must already be migrated). Tests use this to get exactly what
    ``run_app`` runs; only the clock may differ (a test's controllable one). ``market`` replaces the source the
    settings name (a replay's ``ReplaySet`` on the virtual clock)."""
    db = Database(settings.resolved_database_url)
    metrics = Metrics(clock)
    source = StoredSource(market if market is not None else source_from_settings(settings, clock=clock), db)

    async def stored_clusters(symbol: str, window: str) -> tuple[int, tuple[Cluster, ...]] | None:
        return await asyncio.to_thread(snapshots.latest_clusters, db, symbol, window)

    listens = settings.listens_to_liquidations and market is None and not isinstance(clock, VirtualClock)
    watcher = (LiquidationWatcher(db, settings.exchanges, settings.symbols, options=settings.exchange_options,
                                  metrics=metrics, clock=clock) if listens else None)

    async def stored_prints(symbol: str, since_ms: int, until_ms: int) -> LiquidationPrints | None:
        """The recorded events of the window; None (no feed: say nothing) when this process does not listen and
        none were recorded, so a one-shot run never claims "no liquidations recorded"."""
        prints = await asyncio.to_thread(liquidations.load_prints, db, symbol, since_ms, until_ms)
        if not prints.n and (watcher is None or not watcher.running):
            return None
        complete = watcher.complete_since() if watcher is not None else None
        return replace(prints, complete_from_ms=NEVER_MS if complete is None else complete)

    # Replayed datasets carry their own liquidations.csv (the engine reads them up to virtual now).
    live = source.inner if isinstance(source.inner, CcxtSource) else None
    engine = MapEngine(source, clock=clock, tick_ms=int(settings.tick_seconds * 1000), previous_store=stored_clusters,
                       prints_store=stored_prints if watcher is not None else None,
                       live_extras=live.live_extras if live is not None else None)
    job = AlertJob(db, engine, settings, clock, holder=make_worker_id("job"), metrics=metrics)
    service = ChatService(
        db, engine, settings, render_cache=RenderCache(metrics=metrics), job=job, clock=clock, metrics=metrics
    )
    dispatcher = Dispatcher(
        db, notifiers_for(settings), make_worker_id("dispatch"), clock=clock, image_for=service.alert_png,
        metrics=metrics,
    )
    scorer = (SelfScorer(engine, db, clock, settings.symbols[0], settings.default_window, make_worker_id("score"),
                         metrics) if watcher is not None and settings.symbols else None)
    return App(settings, clock, db, metrics, source, engine, job, service, dispatcher, watcher, scorer)


async def run_replay(app: App, plan: ReplayPlan, stop: asyncio.Event) -> int:
    """Tick on the virtual clock until ``plan.until_ms`` (or a signal), then drain the outbox; exit status 0."""
    poll_s = min(2.0, app.job.tick_ms / 1000 / plan.clock.speed)
    sending = asyncio.Event()  # the dispatcher task stops before the drain: they must never send the same batch
    stop_sending = asyncio.create_task(_set_when(stop, sending))
    sender = asyncio.create_task(app.dispatcher.run(sending, poll_s=poll_s), name="dispatcher")
    await app.job.run(stop, until_ms=plan.until_ms)
    sending.set()
    await asyncio.gather(sender, return_exceptions=True)
    stop_sending.cancel()
    if not stop.is_set():
        left = await drain(app.dispatcher, plan.clock, stop)
        log.warning("REPLAY finished at %s (virtual)%s", iso_utc(plan.clock()),
                    f"; {left} alert(s) could not be delivered" if left > 0
                    else "; the outbox could not be read" if left < 0 else "")
    return 0


async def _set_when(source: asyncio.Event, target: asyncio.Event) -> None:
    """Set ``target`` once ``source`` is set."""
    await source.wait()
    target.set()


def replay_wiring(settings: Settings, options: ReplayOptions) -> tuple[Settings, ReplayPlan]:
    """Settings and plan of a replay-as-live run: the datasets' symbols are the tracked ones."""
    db = Database(settings.resolved_database_url)
    try:
        plan = plan_replay(db, settings, options)
    finally:
        db.dispose()
    log.warning(
        "REPLAY of %s from %s to %s (virtual) at %gx%s", ", ".join(plan.exchanges or settings.exchanges),
        iso_utc(plan.start_ms), iso_utc(plan.until_ms), options.speed, " (resumed)" if plan.resumed else "",
    )
    if plan.source is None:
        return settings, plan
    return settings.model_copy(update={"symbols": list(plan.source.symbols)}), plan


def use_real_time(dispatcher: Dispatcher, speed: float) -> None:
    """On a virtual clock ``speed`` times faster than real time, the durations that are really about real time (a
    send's claim, the backoff, a platform's retry-after, how old an alert may get before it is dropped) are
    stretched by ``speed``, so that a replay neither resends a send still in flight nor retries sooner than the
    platform asked."""
    scale = max(1.0, speed)
    dispatcher.real_to_clock = scale
    dispatcher.lease_ms = int(dispatcher.lease_ms * scale)
    dispatcher.backoff_base_ms = int(dispatcher.backoff_base_ms * scale)
    dispatcher.backoff_cap_ms = int(dispatcher.backoff_cap_ms * scale)
    dispatcher.max_age_ms = int(dispatcher.max_age_ms * scale)


async def prepare_app(settings: Settings, clock: Clock, replay: ReplayOptions | None) -> tuple[App, ReplayPlan | None]:
    """Log what is off, migrate, plan a virtual-clock run when asked, and wire the app."""
    protect_settings(settings)  # tokens, API keys and the DB password never reach a log line
    for line in token_guidance(settings):
        log.warning("%s", line)
    await asyncio.to_thread(migrate.upgrade, settings.resolved_database_url)
    plan: ReplayPlan | None = None
    if settings.source.lower().startswith("replay:") or (replay is not None and replay.given):
        settings, replay_plan = await asyncio.to_thread(replay_wiring, settings, replay or ReplayOptions())
        plan, clock = replay_plan, replay_plan.clock
    app = build_app(settings, clock=clock, market=plan.source if plan is not None else None)  # None: from settings
    if plan is not None:
        use_real_time(app.dispatcher, plan.clock.speed)
    return app, plan


def stop_on_signals() -> asyncio.Event:
    """An event that SIGINT and SIGTERM set."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


@dataclass
class Platforms:
    """The running outside parts: health server, Telegram and Discord (each None when off)."""

    health: HealthServer | None = None
    telegram: Any = None
    discord: Any = None

    async def start(self, app: App, once: bool) -> None:
        """Start what the settings turn on; a one-shot run serves no health port and receives no updates."""
        settings = app.settings
        if settings.discord_token is not None:
            from bot.chat.discord import DiscordRunner

            self.discord = DiscordRunner(settings, app.service)
            app.dispatcher.notifiers["discord"] = self.discord.notifier
        if not once:  # a one-shot run must not fight a running bot for the port
            self.health = await start_health_server(settings, app.metrics, app.db)
        if settings.telegram_token is not None:
            from bot.chat.telegram import start_telegram

            self.telegram = await start_telegram(settings, app.service, receive_updates=not once)
            app.dispatcher.notifiers["telegram"] = self.telegram.notifier
        if self.discord is not None:
            await self.discord.start(receive_events=not once)  # the gateway only on the lease holder
            if once:
                await self.discord.wait_logged_in()

    async def stop(self) -> None:
        """Stop in order, after the job and the dispatcher have finished (the notifiers use these bots)."""
        if self.health is not None:
            await self.health.stop()
        if self.telegram is not None:
            await self.telegram.stop()
        if self.discord is not None:
            await self.discord.stop()


async def run_until_stopped(app: App, stop: asyncio.Event) -> int:
    """The periodic job and the dispatcher until SIGINT/SIGTERM; the current tick and sends finish first."""
    if app.liquidations is not None:
        app.liquidations.start()  # its own tasks: never in the job's way
    tasks = [
        asyncio.create_task(app.job.run(stop), name="alert-job"),
        asyncio.create_task(app.dispatcher.run(stop), name="dispatcher"),
    ]
    if app.self_score is not None:
        tasks.append(asyncio.create_task(app.self_score.run(stop), name="self-score"))
    await stop.wait()
    log.info("shutting down: finishing the current tick and sends")
    await asyncio.gather(*tasks, return_exceptions=True)
    return 0


async def run_app(
    settings: Settings, *, once: bool = False, clock: Clock = wall_ms, replay: ReplayOptions | None = None
) -> int:
    """Run until SIGINT/SIGTERM (or one tick with ``once``, or the end of a replay); returns the exit status."""
    app, plan = await prepare_app(settings, clock, replay)
    stop = stop_on_signals()
    platforms = Platforms()
    try:
        await platforms.start(app, once)
        await log_tracked_maps(app.engine, app.settings)
        if once:
            await app.job.tick()
            await app.dispatcher.run_once()
            return 0
        if plan is not None:
            return await run_replay(app, plan, stop)
        return await run_until_stopped(app, stop)
    finally:
        await platforms.stop()
        await app.close()
