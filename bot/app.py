"""Wires the long-running bot into one asyncio loop: the periodic map job, the chat platforms, ordered shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.config import Settings
from bot.engine import MapEngine
from bot.report import format_map_summary

log = logging.getLogger("liqmap.app")


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


async def run_tick(engine: MapEngine, settings: Settings) -> None:
    """One pass of the periodic job: recompute each tracked symbol's map once and log its summary."""
    for symbol in settings.symbols:
        try:
            result = await engine.compute(symbol, settings.default_window)
        except ValueError as exc:
            log.error("map %s %s failed: %s", symbol, settings.default_window, exc)
            continue
        log.info("%s", format_map_summary(result.map, result.freshness))


async def run_app(settings: Settings, *, once: bool = False) -> int:
    """Run until SIGINT/SIGTERM (or one tick with ``once``); returns the exit status."""
    from bot.commands import source_from_settings

    for line in token_guidance(settings):
        log.warning("%s", line)
    source = source_from_settings(settings)
    engine = MapEngine(source)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        while True:
            await run_tick(engine, settings)
            if once:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.tick_seconds)
            if stop.is_set():
                log.info("shutting down")
                break
    finally:
        await source.close()
    return 0
