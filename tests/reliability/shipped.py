"""The shipped wiring for tests: ``bot.app.build_app`` from ``Settings`` (production defaults), with ccxt pointed at
the exchange stand-in through ``LIQMAP_EXCHANGE_OPTIONS``, the way a user points it at a proxy. Only the clock is
the test's: the stand-in's "now"."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt

from bot.app import App, build_app
from bot.chat.reply import ChatRef
from bot.config import Settings
from tests.standins.exchange_server import ExchangeServer, closed_port, local_urls
from tests.standins.liquidation_ws import ws_urls

ALL = ("binanceusdm", "bybit", "okx")


def exchange_options(server: ExchangeServer, exchanges: tuple[str, ...] = ALL, *, refused: bool = False) -> dict:
    """``LIQMAP_EXCHANGE_OPTIONS`` that send every ccxt request of ``exchanges`` to the stand-in (or, with
    ``refused``, to a closed local port: a total outage), and the liquidation websockets to a closed local port
    (``tests/liquidations`` points them at its websocket stand-in). ccxt deep-merges these over its defaults."""
    port = closed_port() if refused else server.port
    out: dict[str, Any] = {}
    for ex in exchanges:
        urls = getattr(ccxt, ex)().describe()["urls"]["api"]
        api = local_urls(urls, ex, port)
        api["ws"] = ws_urls(ex, closed_port())  # the stand-in has no liquidation feed: never the real exchange's
        out[ex] = {"urls": {"api": api}, "rateLimit": 1}
    return out


def shipped_settings(tmp_path: Path, server: ExchangeServer, exchanges: tuple[str, ...] = ALL,
                     **overrides: Any) -> Settings:
    """Settings as a user writes them for live data (every other value is the production default)."""
    env: dict[str, Any] = {
        "source": "ccxt",
        "exchanges": list(exchanges),
        "exchange_options": exchange_options(server, exchanges),
        "data_dir": tmp_path / "data",
        "health_port": 0,
    }
    env.update(overrides)
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


def shipped_env(settings: Settings) -> dict[str, str]:
    """The same settings as ``LIQMAP_*`` environment variables, for a real ``liqmap run`` process."""
    return {
        "LIQMAP_SOURCE": settings.source,
        "LIQMAP_EXCHANGES": ",".join(settings.exchanges),
        "LIQMAP_EXCHANGE_OPTIONS": json.dumps(settings.exchange_options),
        "LIQMAP_DATA_DIR": str(settings.data_dir),
    }


async def shipped_app(settings: Settings, server: ExchangeServer) -> App:
    """Migrate the settings' database, then wire the app exactly as ``liqmap run`` does, on the stand-in's clock."""
    from bot.storage import migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)
    return build_app(settings, clock=lambda: server.tape.now_ms)


@asynccontextmanager
async def running_app(tmp_path: Path, server: ExchangeServer) -> AsyncIterator[App]:
    """``shipped_app`` with the user settings of ``shipped_settings``, closed on exit."""
    application = await shipped_app(shipped_settings(tmp_path, server), server)
    try:
        yield application
    finally:
        await application.close()


def chat(n: int) -> ChatRef:
    """A private Telegram chat."""
    return ChatRef("telegram", str(n), "private")
