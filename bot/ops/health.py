"""The operator's HTTP endpoint (aiohttp): ``GET /healthz`` (JSON) and ``GET /metrics`` (Prometheus text).

``/healthz`` answers 200 while fresh market data arrived at most 3 (``STALE_INTERVALS``) tick intervals ago: the newest
tick in which some exchange delivered data, by this replica or by whichever replica holds the job lease (read from
the database, so every replica tells the truth), measured from the process start until the first such tick. Else
503 (``"stale"``), naming the exchanges that are down; also 503 when the database cannot be read::

    {"status": "ok" | "stale" | "db_error", "last_tick_at": <UTC ms> | null, "last_tick_age_s": float | null,
     "exchanges": {"okx": <data age s> | null, ...}, "down": ["bybit", ...],
     "outbox": {"queued": n, "sending": n, "failed": n}}

Bind it to 127.0.0.1 (the default) unless a scraper on another host needs it; it has no authentication.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.config import Settings
from bot.errors import LiqmapError
from bot.market.freshness import stale_budget_ms
from bot.ops.metrics import Metrics, render_prometheus
from bot.storage import outbox, ticks
from bot.storage.db import Database
from bot.storage.ticks import TickRec

log = logging.getLogger(__name__)
HEALTH_OUTBOX_STATES = ("queued", "sending", "failed")
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class HealthServer:
    """Serves ``/healthz`` and ``/metrics`` for one process. ``port`` 0 binds an ephemeral port (see ``port``)."""

    def __init__(
        self, metrics: Metrics, db: Database, tick_seconds: float, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.metrics = metrics
        self.db = db
        self.stale_ms = stale_budget_ms(int(tick_seconds * 1000))
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        """The aiohttp application (two GET routes)."""
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics_text)
        return app

    async def start(self) -> None:
        """Bind and serve; afterwards ``port`` is the bound port."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise LiqmapError(
                f"health server cannot listen on {self.host}:{self.port}: {exc.strerror or exc} "
                "(set LIQMAP_HEALTH_PORT to a free port, or 0 to turn it off)"
            ) from None
        self._runner = runner
        if runner.addresses:
            self.port = int(runner.addresses[0][1])
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self.host, self.port)

    async def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _outbox_counts(self) -> dict[str, int] | None:
        def read() -> dict[str, int]:
            with self.db.session() as s:
                return outbox.counts(s)

        try:
            return await asyncio.to_thread(read)
        except Exception as exc:  # the endpoint reports it; it must not fail itself
            log.warning("health: cannot read the outbox: %s", exc)
            return None

    async def _stored_ticks(self) -> tuple[TickRec | None, TickRec | None]:
        """(newest tick with market data, newest tick) as stored by whichever replica ran them."""

        def read() -> tuple[TickRec | None, TickRec | None]:
            with self.db.session() as s:
                return ticks.latest_tick(s, ok_only=True), ticks.latest_tick(s)

        try:
            return await asyncio.to_thread(read)
        except Exception as exc:
            log.warning("health: cannot read the job ticks: %s", exc)
            return None, None

    def down_exchanges(self, latest: TickRec | None) -> list[str]:
        """Exchanges whose refresh failed or whose data is stale, by this replica's view or the latest stored tick."""
        down = {name for name, d in self.metrics.exchanges.items() if not d.ok}
        if latest is not None:
            for key in latest.keys:
                down.update(key.missing_exchanges)
        return sorted(down)

    def health(
        self, counts: dict[str, int] | None, last_ok: TickRec | None = None, latest: TickRec | None = None
    ) -> tuple[int, dict[str, object]]:
        """(HTTP status, body) of ``/healthz`` for the given outbox counts (None: database unreachable) and the
        stored ticks (the newest with market data, and the newest)."""
        m = self.metrics
        now = m.clock()
        last_tick = max((t for t in (m.last_tick_ok_ms, last_ok.at if last_ok else None) if t is not None),
                        default=None)
        since = last_tick if last_tick is not None else m.started_at_ms
        stale = now - since > self.stale_ms
        status = "db_error" if counts is None else "stale" if stale else "ok"
        body: dict[str, object] = {
            "status": status,
            "last_tick_at": last_tick,
            "last_tick_age_s": (now - last_tick) / 1000 if last_tick is not None else None,
            "exchanges": m.data_age_s(now),
            "down": self.down_exchanges(latest),
            "outbox": {state: (counts or {}).get(state, 0) for state in HEALTH_OUTBOX_STATES} if counts else None,
        }
        return (200 if status == "ok" else 503), body

    async def healthz(self, request: web.Request) -> web.Response:
        """``GET /healthz``."""
        last_ok, latest = await self._stored_ticks()
        code, body = self.health(await self._outbox_counts(), last_ok, latest)
        return web.json_response(body, status=code)

    async def metrics_text(self, request: web.Request) -> web.Response:
        """``GET /metrics``."""
        text = render_prometheus(self.metrics, await self._outbox_counts())
        return web.Response(text=text, headers={"Content-Type": PROMETHEUS_CONTENT_TYPE})


async def start_health_server(settings: Settings, metrics: Metrics, db: Database) -> HealthServer | None:
    """Start the server on ``settings.health_host:health_port``; None when ``health_port`` is 0 (off)."""
    if settings.health_port == 0:
        log.info("health server off (LIQMAP_HEALTH_PORT=0)")
        return None
    server = HealthServer(metrics, db, settings.tick_seconds, host=settings.health_host, port=settings.health_port)
    await server.start()
    return server
